"""What a clip's painter learns from, and the training loop around the engine's step
(:class:`vidstyle.engine.training.Trainer`): random patches of the stylized keyframes, a large
crop of a frame spread over the clip (for the method's objective) and patches of consecutive pairs
with their flow; a time box, an early stop once the loss no longer falls, checkpoints in the work
folder, and progress.

The objective judges a crop of up to FRAME_SIDE pixels a side (the whole frame at 256 px), not a
patch: the style loss is measured on the whole frame, and on small patches VGG19's block4 Gram,
which carries most of it, does not see the style. On cockatoo at 256 px (starry night), the
stylized keyframe's style drop (its content's style loss over its own) is 183x on the whole frame
but 1.0x averaged over 64-px patches (3.3x at 96 px, 10x at 128 px), so a painter trained on
64-px patches was pulled towards something else than the keyframe's look. Side by side in one
process (cockatoo at 256 px, one keyframe, 10 minutes each, about 720 steps, bfloat16 on an
AMX CPU), the whole frame a step instead of four 64-px patches (the same painter pixels a step)
raised the frames that are not keyframes' crispness from 0.44 to 0.69 of the keyframe's and
their style drop from 0.012 to 0.035 of the keyframe's, for a content loss of 5.8 instead of 4.4
times the keyframe's: their loss by the method's own objective fell 2.5-fold (a 128-px crop:
0.57, 0.022, 5.2). Crisper, they change more from frame to frame: in a 5-minute rerun, vidstyle's
temporal error rose from 69 to 105 (crispness 0.47 to 0.57, style drop 0.012 to 0.024).

A checkpoint (``train/checkpoint.npz`` in the clip's work folder, written atomically every
``CHECKPOINT_SECONDS`` of training) holds the weights, Adam's state, the steps and the seconds
trained, and the loss history: a run killed with ``kill -9`` loses at most that interval, and the
same command goes on from it with the time left in the box.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidstyle.fsutil import atomic_path
from vidstyle.media import flow as flowlib
from vidstyle.progress import Reporter, TrainStatus

PATCH = 64  # side of the keyframe patches the losses judge (Texler et al.: 32)
MARGIN = 16  # pixels around them that the painter sees and the losses do not judge
PAIR_PATCH = 48  # side of the temporal pairs' patches
KEY_PATCHES, PAIR_PATCHES = 8, 2  # per step
FRAME_SIDE = 256  # side of the frame crop the method's objective judges (one a step; see above)
MIN_SIDE = 16  # frames are padded to this side for training (VGG19's block5 needs 16 px)
CHECKPOINT_SECONDS = 60.0
WINDOW = 100  # steps per window of the convergence test
CONVERGED = 0.003  # a window's mean loss falling by less than this share of the one before


@dataclass
class Batch:
    """One step's patches, RGB float32 in 0..1 (see :class:`vidstyle.engine.training.Trainer`):
    keyframe contents and results at the same places, crops of frames, and pairs of
    consecutive frames' patches at one place with the flow from b to a and its trusted pixels."""

    key_content: np.ndarray
    key_styled: np.ndarray
    frames: np.ndarray
    pair_a: np.ndarray
    pair_b: np.ndarray
    pair_flow: np.ndarray
    pair_mask: np.ndarray
    margin: int = 0

    def args(self) -> tuple:
        return (self.key_content, self.key_styled, self.frames, self.pair_a, self.pair_b,
                self.pair_flow, self.pair_mask, self.margin)  # fmt: skip

    @property
    def patches(self) -> int:
        """How many pieces the painter renders in the step (patches and crops, with margins)."""
        return len(self.key_content) + len(self.frames) + 2 * len(self.pair_a)


class Material:
    """The training material of a clip, at the working size.

    Args:
        key_contents: the keyframes' content frames, uint8 HxWx3 each (sizes may differ: a
            folder of photos taken as a sequence).
        key_results: their stylized results, each the size of its content.
        frames: frames spread over the clip (for the method's objective).
        pairs: ``(frame, next frame)`` pairs of one size (for the temporal loss); their flows
            and masks are computed here.
    """

    def __init__(self, key_contents: list, key_results: list, frames: list, pairs: list,
                 frame_side: int = FRAME_SIDE, frame_crops: int = 1):  # fmt: skip
        self.keys = [_floats(image) for image in key_contents]
        self.styled = [_floats(image) for image in key_results]
        self.frames = [_floats(image) for image in frames]
        self.pairs = [_pair(a, b) for a, b in pairs]
        smallest = min(min(image.shape[:2]) for image in self.keys + self.frames)
        self.patch = min(PATCH + 2 * MARGIN, smallest) // 4 * 4
        self.margin = max(0, min(MARGIN, (self.patch - MIN_SIDE) // 2))
        crop = frame_side + 2 * self.margin
        self.frame_crop = tuple(min(crop, min(image.shape[i] for image in self.frames)) // 4 * 4
                                for i in (0, 1))  # fmt: skip
        self.frame_crops = frame_crops
        pair_sides = [min(pair[0].shape[:2]) for pair in self.pairs]
        self.pair_patch = min(PAIR_PATCH, smallest, *pair_sides) // 4 * 4

    def sample(self, rng: np.random.Generator) -> Batch:
        """Random patches for one step."""
        places = [_place(rng, self.keys, self.patch) for _ in range(KEY_PATCHES)]
        key_content = np.stack([_crop(self.keys, *place) for place in places])
        key_styled = np.stack([_crop(self.styled, *place) for place in places])
        frames = np.stack([_crop(self.frames, *_place(rng, self.frames, self.frame_crop))
                           for _ in range(self.frame_crops)])  # fmt: skip
        return Batch(key_content, key_styled, frames, *self._pairs(rng), self.margin)

    def _pairs(self, rng: np.random.Generator) -> tuple:
        side = self.pair_patch
        if not self.pairs:  # no two consecutive frames of one size: no pairs, no temporal term
            empty = np.zeros((0, side, side, 3), np.float32)
            return empty, empty, np.zeros((0, side, side, 2), np.float32), empty[..., 0]
        parts: list[list] = [[], [], [], []]
        for _ in range(PAIR_PATCHES):
            pair = self.pairs[rng.integers(len(self.pairs))]
            y = rng.integers(pair[0].shape[0] - side + 1)
            x = rng.integers(pair[0].shape[1] - side + 1)
            cut = [part[y : y + side, x : x + side] for part in pair]
            cut[3] = cut[3] * _inside(cut[2])  # a source outside the patch is not known
            for whole, piece in zip(parts, cut):
                whole.append(piece)
        return tuple(np.stack(part).astype(np.float32) for part in parts)


def _floats(image: np.ndarray) -> np.ndarray:
    """A uint8 image as float32 0..1, padded (edge) to at least MIN_SIDE on each side."""
    image = np.asarray(image, np.float32) / 255.0
    extra_h, extra_w = max(0, MIN_SIDE - image.shape[0]), max(0, MIN_SIDE - image.shape[1])
    return np.pad(image, [(0, extra_h), (0, extra_w), (0, 0)], mode="edge")


def _pair(a: np.ndarray, b: np.ndarray) -> tuple:
    """(a, b, flow from b to a, trusted pixels of b) at least MIN_SIDE on a side; plain DIS."""
    flow_ab, flow_ba = flowlib.flow(a, b, large=False), flowlib.flow(b, a, large=False)
    mask = flowlib.reliable_mask(flow_ab, flow_ba).astype(np.float32)
    fa, fb = _floats(a), _floats(b)
    extra = [(0, fa.shape[0] - a.shape[0]), (0, fa.shape[1] - a.shape[1])]
    return fa, fb, np.pad(flow_ba, extra + [(0, 0)]), np.pad(mask, extra)


def _place(rng: np.random.Generator, images: list, side) -> tuple[int, int, int, tuple]:
    """A random image and corner for a crop of ``side`` (an int, or (height, width))."""
    side = (side, side) if isinstance(side, int) else tuple(side)
    index = int(rng.integers(len(images)))
    height, width = images[index].shape[:2]
    return (
        index,
        int(rng.integers(height - side[0] + 1)),
        int(rng.integers(width - side[1] + 1)),
        side,
    )


def _crop(images: list, index: int, y: int, x: int, side: tuple) -> np.ndarray:
    return images[index][y : y + side[0], x : x + side[1]]


def _inside(flow: np.ndarray) -> np.ndarray:
    """Pixels whose source along ``flow`` lies inside the patch."""
    side_y, side_x = flow.shape[:2]
    src_x = np.arange(side_x)[None, :] + flow[..., 0]
    src_y = np.arange(side_y)[:, None] + flow[..., 1]
    return ((src_x >= 0) & (src_x <= side_x - 1) & (src_y >= 0) & (src_y <= side_y - 1)).astype(
        np.float32
    )


@dataclass
class Progress:
    """Where training stands: steps and seconds trained, and the loss of every step."""

    steps: int = 0
    seconds: float = 0.0
    history: list[float] | None = None

    def converged(self) -> bool:
        """Whether the last window's mean loss fell by less than CONVERGED of the one before."""
        history = self.history or []
        if len(history) < 2 * WINDOW:
            return False
        last, before = np.mean(history[-WINDOW:]), np.mean(history[-2 * WINDOW : -WINDOW])
        return bool(before - last < CONVERGED * abs(before))


def train(trainer, material: Material, budget: float, checkpoint: Path, reporter: Reporter,
          stop=None, seed: int = 0) -> Progress:  # fmt: skip
    """Train until ``budget`` seconds of steps are spent or the loss has converged, resuming from
    ``checkpoint`` when it exists, and saving it every CHECKPOINT_SECONDS and at the end.

    Args:
        trainer: the :class:`vidstyle.engine.training.Trainer`.
        material: what it learns from.
        budget: seconds of training in all (those of earlier runs count).
        checkpoint: the checkpoint file.
        reporter: told the loss, patches per second and time left (``train``).
        stop: called between steps; raises to stop (the checkpoint is saved first).
        seed: the seed of the patches' places (each resumed run draws from seed and steps).

    Returns:
        The steps and seconds trained and the loss history.
    """
    progress = resume(trainer, checkpoint)
    rng = np.random.default_rng([seed, progress.steps])
    saved, patches, started = time.monotonic(), 0, time.monotonic()
    try:
        while progress.seconds < budget and not progress.converged():
            if stop is not None:
                stop()
            begun = time.monotonic()
            batch = material.sample(rng)
            loss = trainer.step(*batch.args())["total"]
            progress.steps, patches = progress.steps + 1, patches + batch.patches
            progress.seconds += time.monotonic() - begun
            progress.history.append(loss)
            rate = patches / max(time.monotonic() - started, 1e-9)
            reporter.train(TrainStatus(progress.steps, progress.seconds, budget, loss, rate))
            if time.monotonic() - saved >= CHECKPOINT_SECONDS:
                save(trainer, progress, checkpoint)
                saved = time.monotonic()
    finally:
        save(trainer, progress, checkpoint)
    return progress


def resume(trainer, checkpoint: Path) -> Progress:
    """The trainer put back to its checkpoint, when there is one; where training stands."""
    if not checkpoint.is_file():
        return Progress(history=[])
    with np.load(checkpoint) as saved:
        state = {name: saved[name] for name in saved.files}
    trainer.restore({k: v for k, v in state.items() if k not in ("seconds", "history")})
    return Progress(trainer.steps, float(state["seconds"]), [float(v) for v in state["history"]])


def save(trainer, progress: Progress, checkpoint: Path) -> None:
    """Write the checkpoint atomically."""
    state = trainer.state() | {"seconds": np.array(progress.seconds),
                               "history": np.array(progress.history or [], np.float64)}  # fmt: skip
    with atomic_path(checkpoint) as tmp, open(tmp, "wb") as file:
        np.savez(file, **state)
