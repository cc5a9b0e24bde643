"""A clip rendered by a network trained on its own stylized keyframes (``render = "network"``),
after Texler et al., "Interactive Video Stylization Using Few-Shot Patch-Based Training"
(SIGGRAPH 2020): the optimizer stylizes a few keyframes at the first frame's full settings
(:mod:`vidstyle.pipeline.keyframes` chooses them), a painter network
(:mod:`vidstyle.engine.painter`) learns from them and from the clip's other frames
(:mod:`vidstyle.pipeline.teaching`), then renders every frame on its own, in batches.

Everything lasting goes to the clip's work folder (:class:`vidstyle.pipeline.workdir.WorkDir`),
so the same command resumes after a kill and redoes nothing finished: ``network.json`` (the
keyframes chosen and what each stage took), ``keys/`` (the stylized keyframes), ``train/`` (the
training's checkpoint), ``network.npz`` (the trained painter) and the rendered frames with their
records, as the frame loop keeps them. The trained painter is also saved beside the output
(:func:`network_file`), and ``network`` reuses such a file on another clip: no keyframes, no
training. The video file (or numbered PNGs) and the report are made as for the frame loop
(:func:`vidstyle.pipeline.video.finish_clip`).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidstyle.config import VideoConfig
from vidstyle.engine.request import Request, Stop
from vidstyle.errors import UsageError
from vidstyle.fsutil import atomic_path
from vidstyle.media.images import fit_longest, load_image, save_image
from vidstyle.pipeline import keyframes as keyframelib
from vidstyle.pipeline import netmeasure, teaching
from vidstyle.pipeline.clip import working_frames
from vidstyle.pipeline.fingerprint import pixels_digest
from vidstyle.pipeline.image import targets_for
from vidstyle.pipeline.workdir import WorkDir
from vidstyle.progress import Reporter, level_callback, step_callback

NETWORK_SUFFIX = ".network.npz"
TRAIN_FRAMES = 48  # frames spread over the clip that the method's objective is trained on
PAIRS = 16  # pairs of consecutive frames for the temporal loss
RENDER_BATCH = 4  # frames rendered together
FALLBACK_MINUTES = 10.0  # the time box when the keyframes' seconds are not known


def network_file(output: Path) -> Path:
    """Where a clip's trained network is saved: ``<output>.network.npz``, beside the output."""
    return output.with_name(output.name + NETWORK_SUFFIX)


@dataclass(frozen=True)
class Source:
    """The clip's frames as the network path reads them.

    Attributes:
        frames: a fresh iterator over the clip's frames (:class:`vidstyle.media.video.Frame`),
            within the clip options, each time it is called.
        total: how many frames are expected (0 when unknown).
        output: the clip's output (the trained network is saved beside it).
    """

    frames: Callable[[], Iterator]
    total: int
    output: Path


class State:
    """``network.json`` in the work folder: the keyframes and what each stage took."""

    def __init__(self, root: Path):
        self.path = root / "network.json"
        self.data = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    def set(self, **values) -> None:
        """Record values, written atomically."""
        self.data.update(values)
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(self.data))


def run(
    engine,
    style,
    config: VideoConfig,
    work: WorkDir,
    records: list[dict],
    source: Source,
    reporter: Reporter,
    stop: Stop | None = None,
    frame_stop: Stop | None = None,
) -> tuple[list, dict]:
    """Stylize a clip's frames with a network: keyframes, training, rendering, each resumed.

    Args:
        engine: the engine (its method stylizes the keyframes and measures the frames).
        style: the style painting(s).
        config: the video options (``keyframes``, ``keyframe_every``, ``train_minutes``,
            ``network``).
        work: the clip's work folder (its frames and records are the frame loop's).
        records: the records of the frames already rendered (from the work folder).
        source: the clip's frames.
        reporter: progress: keyframes, training, frames.
        stop: called between steps and frames; raises to stop (what is done is kept).
        frame_stop: called as each keyframe or batch of frames starts; raises to stop there (a
            deadline).

    Returns:
        Every frame's record, and the summary's network part.

    Raises:
        UsageError: a ``network`` file trained for another style.
        InputError: a ``network`` file that is missing or not a network.
    """
    reused = None if config.network is None else reuse(config.network, engine, style)
    work.root.mkdir(parents=True, exist_ok=True)
    state = State(work.root)
    first = fit_longest(next(iter(source.frames())).rgb, engine.method.max_size)
    targets = targets_for(engine, style, first)
    if reused is not None:
        painter, summary = reused, {"network": str(config.network)}
    else:
        painter, summary = teach(engine, style, targets, config, work, state, source, reporter,
                                 stop, frame_stop)  # fmt: skip
    renderer = netmeasure.Renderer(engine, painter, targets, state.get("keys") or [])
    records = render(
        renderer, work, records, source, reporter, frame_stop or stop, config.shot_threshold
    )
    return records, summary | netmeasure.summary(records, state.get("teachers", []))


def reuse(path: Path, engine, style):
    """A saved painter, checked against the style.

    Raises:
        InputError: the file is missing or not a painter; UsageError: another style's.
    """
    from vidstyle.engine.painter import Painter

    painter = Painter.load(path, engine.method.precision)
    if painter.meta.get("style") not in (None, pixels_digest(style)):
        hint = "give the style it was trained with, or leave out {network}"
        raise UsageError(path, "was trained for another style", hint=hint)
    return painter


def teach(engine, style, targets, config: VideoConfig, work: WorkDir, state: State,
          source: Source, reporter: Reporter, stop: Stop | None,
          frame_stop: Stop | None = None):  # fmt: skip
    """The keyframes (stylized unless done), then the painter (trained unless done); the painter
    is saved in the work folder and beside the output. Returns it and the summary's part."""
    from vidstyle.engine.painter import Painter

    saved = work.root / "network.npz"
    if state.get("keys") is None:
        state.set(keys=choose(source, config, engine.method.max_size))
    keys = state.get("keys")
    frames = gather(source, keys, engine.method.max_size)
    results = stylize_keys(engine, targets, config, frames, keys, work, state, reporter, stop,
                           frame_stop)  # fmt: skip
    if not saved.is_file():
        painter = train(engine, style, targets, config, work, state, frames, keys, results,
                        reporter, stop)  # fmt: skip
        with atomic_path(saved) as tmp:
            painter.save(tmp)
    else:
        painter = Painter.load(saved, engine.method.precision)
    beside = network_file(source.output)
    with atomic_path(beside) as tmp:
        shutil.copyfile(saved, tmp)
    summary = {"keyframes": len(keys), "seconds_keyframes": round(sum(state.get("key_seconds",
               {}).values()), 3), "training_steps": state.get("steps"),
               "seconds_training": state.get("train_seconds"), "network": str(beside)}  # fmt: skip
    return painter, summary


def choose(source: Source, config: VideoConfig, max_size: int) -> list[int]:
    """The keyframes' positions (:func:`vidstyle.pipeline.keyframes.choose`), in one pass."""
    survey = keyframelib.Survey()
    for frame, cut in working_frames(source.frames(), max_size, config.shot_threshold):
        survey.add(frame.rgb, cut)
    return keyframelib.choose(survey, config.keyframes, config.keyframe_every)


def gather(source: Source, keys: list[int], max_size: int) -> dict[int, np.ndarray]:
    """The working-size frames training needs, by position: the keyframes, TRAIN_FRAMES spread
    over the clip, and PAIRS consecutive pairs."""
    count = max(source.total, max(keys) + 1)
    spread = set(np.linspace(0, count - 1, min(TRAIN_FRAMES, count)).round().astype(int))
    starts = np.linspace(0, count - 2, min(PAIRS, count - 1)).round().astype(int)
    wanted = set(keys) | spread | set(starts) | set(starts + 1)
    frames = {}
    for position, frame in enumerate(source.frames()):
        if position in wanted:
            frames[position] = fit_longest(frame.rgb, max_size)
    return frames


def stylize_keys(engine, targets, config: VideoConfig, frames: dict, keys: list[int],
                 work: WorkDir, state: State, reporter: Reporter, stop,
                 frame_stop=None) -> list:  # fmt: skip
    """The keyframes stylized with the optimizer at the first frame's settings (those done
    are read back); each is measured once as a teacher (see :mod:`netmeasure`)."""
    steps = engine.method.steps if config.steps_first is None else config.steps_first
    seconds, teachers = dict(state.get("key_seconds", {})), list(state.get("teachers", []))
    reporter.begin(len(keys), "keyframes")
    results = []
    for position in keys:
        path, name = work.root / "keys" / f"{position:06d}.png", f"keyframe {position}"
        if path.is_file():
            results.append(load_image(path).rgb)
            reporter.end_item(name, "skipped", 0.0)
            continue
        if frame_stop is not None:
            frame_stop()
        started = time.monotonic()
        reporter.start_item(name, steps)
        request = Request(frames[position], targets, steps=steps, on_step=step_callback(reporter),
                          on_level=level_callback(reporter), stop=stop)  # fmt: skip
        results.append(engine.stylize(request))
        save_image(path, results[-1])
        seconds[str(position)] = round(time.monotonic() - started, 3)
        teachers.append(netmeasure.teacher(engine, targets, frames[position], results[-1]))
        state.set(key_seconds=seconds, teachers=teachers)
        reporter.end_item(name, "done", seconds[str(position)])
    reporter.end()
    return results


def train(engine, style, targets, config: VideoConfig, work: WorkDir, state: State,
          frames: dict, keys: list[int], results: list, reporter: Reporter, stop):  # fmt: skip
    """A painter trained from the keyframes and frames (resuming the checkpoint)."""
    from vidstyle.engine.painter import ARCHITECTURE, Painter
    from vidstyle.engine.training import LossWeights, Trainer

    method = engine.method
    first = frames[keys[0]]
    meta = {"style": pixels_digest(style), "size": method.max_size}
    painter = Painter.fresh(ARCHITECTURE, method.precision, meta=meta)
    trainer = Trainer(painter, engine.extractor, targets, method, LossWeights(),
                      area=first.shape[0] * first.shape[1])  # fmt: skip
    starts = sorted(p for p in frames if p + 1 in frames and frames[p].shape == frames[p + 1].shape)
    material = teaching.Material([frames[p] for p in keys], results, list(frames.values()),
                                 [(frames[p], frames[p + 1]) for p in starts[:PAIRS]])  # fmt: skip
    reporter.begin(None, "training")
    try:
        checkpoint = work.root / "train" / "checkpoint.npz"
        budget = training_budget(config, state.get("key_seconds", {}))
        progress = teaching.train(trainer, material, budget, checkpoint, reporter, stop)
    finally:
        reporter.end()
    state.set(steps=progress.steps, train_seconds=round(progress.seconds, 3))
    return painter


def training_budget(config: VideoConfig, key_seconds: dict) -> float:
    """The training's time box in seconds: ``train_minutes``, or when 0 the seconds a keyframe
    took (their mean; FALLBACK_MINUTES when not known): training then costs one keyframe more,
    and scales as they do with the machine, the working size and the steps."""
    if config.train_minutes > 0:
        return config.train_minutes * 60.0
    if not key_seconds:
        return FALLBACK_MINUTES * 60.0
    return float(np.mean(list(key_seconds.values())))


def render(renderer, work: WorkDir, records: list[dict], source: Source, reporter: Reporter,
           stop: Stop | None, threshold: float) -> list[dict]:  # fmt: skip
    """Every frame not yet rendered, RENDER_BATCH at a time, saved with its record
    (``threshold``: the shot-cut option)."""
    reporter.begin(source.total or None, "frames")
    batch: list = []
    try:
        for frame, cut in working_frames(source.frames(), renderer.max_size, threshold):
            if frame.index < len(records):
                renderer.skip(frame.rgb, records[frame.index])
                reporter.end_item(f"frame {frame.index}", "skipped", 0.0)
                continue
            batch.append((frame, cut))
            if len(batch) == RENDER_BATCH:
                records += _render_batch(renderer, work, records, batch, reporter, stop)
                batch = []
        if batch:
            records += _render_batch(renderer, work, records, batch, reporter, stop)
    finally:
        reporter.end()
    return records


def render_frames(engine, style, config: VideoConfig, frames: list, reporter: Reporter,
                  stop: Stop | None = None) -> list[tuple[np.ndarray, dict]]:  # fmt: skip
    """Some of a clip's frames rendered by the saved ``network`` alone (a worker's share of a
    clip over a cluster; no frame needs another).

    Args:
        engine: the engine (the working size, VGG19 for the records).
        style: the style painting(s) the network was trained for.
        config: the video options (``network``, ``shot_threshold``).
        frames: the frames (:class:`vidstyle.media.video.Frame`), in order.
        reporter: progress, frame by frame.
        stop: called as each batch starts (a clip's ``frame_stop``); raises to stop.

    Returns:
        Per frame, its result (uint8 at the working size) and its record.

    Raises:
        UsageError: no ``network``, or one trained for another style.
        InputError: a ``network`` file that is missing or not a network.
    """
    if config.network is None:
        raise UsageError(None, "rendering a clip's frames alone needs a trained {network}")
    painter = reuse(config.network, engine, style)
    first = fit_longest(frames[0].rgb, engine.method.max_size)
    renderer = netmeasure.Renderer(engine, painter, targets_for(engine, style, first))
    frames, cuts = _unzip(working_frames(frames, engine.method.max_size, config.shot_threshold))
    done: list = []
    for start in range(0, len(frames), RENDER_BATCH):
        if stop is not None:
            stop()
        end = start + RENDER_BATCH
        done += renderer.render(frames[start:end], cuts[start:end])
        for _, record in done[start:]:
            reporter.end_item(f"frame {record['index']}", "done", record["seconds"])
    return done


def _unzip(pairs) -> tuple[list, list]:
    """(frames, cuts) of :func:`vidstyle.pipeline.clip.working_frames`' pairs."""
    pairs = list(pairs)
    return [frame for frame, _ in pairs], [cut for _, cut in pairs]


def _render_batch(renderer, work: WorkDir, records, pairs, reporter: Reporter, stop) -> list:
    if stop is not None:
        stop()
    batch, cuts = _unzip(pairs)
    reporter.start_item(f"frames {batch[0].index}-{batch[-1].index}", len(batch))
    done = renderer.render(batch, cuts)
    for frame, (result, _) in zip(batch, done):
        save_image(work.frame(frame.index, 1), result)
    work.save(records + [record for _, record in done])
    for _, record in done:
        reporter.end_item(f"frame {record['index']}", "done", record["seconds"])
    return [record for _, record in done]
