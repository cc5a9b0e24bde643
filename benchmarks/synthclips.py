"""Synthetic clips with known optical flow and occlusions (issue 24's ground truth).

Each clip is a background texture seen through a camera that pans and zooms, with textured
elliptical objects moving over it by constant velocities (bouncing off the frame's sides). Every
pixel's layer is known, so the true flow between consecutive frames and the true occlusion mask
(the pixels of frame b whose source in frame a shows the same layer and lies inside the picture)
are exact. Flow convention: that of :mod:`vidstyle.media.flow` (``flow_ab[y, x] = (dx, dy)``).

``CLIPS`` names the clips of the benchmark; :func:`make_clip` renders one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class Thing:
    """An elliptical textured object: its radii, start centre and velocity (px per frame)."""

    radii: tuple[float, float]
    start: tuple[float, float]
    velocity: tuple[float, float]


@dataclass(frozen=True)
class Scene:
    """A clip's recipe: camera pan (px per frame), zoom (factor per frame), objects."""

    pan: tuple[float, float] = (0.0, 0.0)
    zoom: float = 1.0
    things: tuple[Thing, ...] = ()
    size: tuple[int, int] = (128, 96)  # width, height
    frames: int = 8
    seed: int = 0


CLIPS = {
    "slow": Scene(pan=(0.7, 0.3), things=(Thing((18, 14), (40, 50), (1.5, 0.5)),)),
    "layers": Scene(pan=(3.0, 0.0), things=(Thing((22, 16), (30, 40), (12.0, 3.0)),
                                            Thing((16, 20), (100, 60), (-25.0, -4.0)))),
    "panzoom": Scene(pan=(10.0, 4.0), zoom=1.04),
    "fast": Scene(things=(Thing((20, 16), (30, 48), (40.0, 6.0)),)),
    "pan40": Scene(pan=(40.0, 0.0), things=(Thing((14, 14), (64, 48), (-8.0, 2.0)),)),
}  # fmt: skip


@dataclass
class Clip:
    """A rendered clip: frames (uint8 RGB), the true flows between consecutive frames
    (``forward[t]`` from t to t+1, ``backward[t]`` from t+1 to t), and the true masks
    (``masks[t]`` over frame t+1: 1 where its source in frame t is the same surface)."""

    frames: list[np.ndarray] = field(default_factory=list)
    forward: list[np.ndarray] = field(default_factory=list)
    backward: list[np.ndarray] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)


def texture(height: int, width: int, seed: int) -> np.ndarray:
    """A colourful multi-scale noise texture (no flat areas, so flow is defined everywhere)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((height, width, 3), np.float32)
    for scale, amp in ((64, 1.0), (16, 0.8), (4, 0.6), (1, 0.3)):
        small = rng.uniform(0, 1, (max(height // scale, 2), max(width // scale, 2), 3))
        out += amp * cv2.resize(small.astype(np.float32), (width, height),
                                interpolation=cv2.INTER_CUBIC)  # fmt: skip
    out -= out.min()
    return np.clip(out / out.max() * 255, 0, 255).astype(np.float32)


def _centres(scene: Scene, thing: Thing) -> list[np.ndarray]:
    """The object's centre in each frame, bouncing off the sides."""
    width, height = scene.size
    pos, vel, out = np.array(thing.start, float), np.array(thing.velocity, float), []
    for _ in range(scene.frames):
        out.append(pos.copy())
        pos = pos + vel
        for axis, limit in ((0, width), (1, height)):
            if pos[axis] < 0 or pos[axis] > limit:
                vel[axis] = -vel[axis]
                pos[axis] = -pos[axis] if pos[axis] < 0 else 2 * limit - pos[axis]
    return out


def make_clip(scene: Scene) -> Clip:
    """Render a scene's frames with their true flows and occlusion masks."""
    width, height = scene.size
    grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32),
                                np.arange(height, dtype=np.float32)), axis=2)  # fmt: skip
    centre = np.array([width / 2, height / 2], np.float32)
    pad = int(abs(scene.pan[0]) * scene.frames + abs(scene.pan[1]) * scene.frames) + 2 * width
    back = texture(height + 2 * pad, width + 2 * pad, scene.seed)
    skins = [texture(2 * int(t.radii[1]) + 4, 2 * int(t.radii[0]) + 4, scene.seed + 1 + k)
             for k, t in enumerate(scene.things)]  # fmt: skip
    paths = [_centres(scene, t) for t in scene.things]
    zooms = [scene.zoom**t for t in range(scene.frames)]
    offsets = [np.array(scene.pan, np.float32) * t for t in range(scene.frames)]

    def back_coords(t):  # texture coordinates of the background at each pixel of frame t
        return (grid - centre) / zooms[t] + centre + offsets[t] + pad

    layers, images = [], []
    for t in range(scene.frames):
        coords = back_coords(t).astype(np.float32)
        image = cv2.remap(back, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR)
        layer = np.zeros((height, width), np.int32)
        for k, thing in enumerate(scene.things):
            rel = grid - paths[k][t]
            inside = np.sum((rel / np.array(thing.radii, np.float32)) ** 2, axis=2) <= 1
            src = (rel + np.array(thing.radii, np.float32) + 2).astype(np.float32)
            skin = cv2.remap(skins[k], src[..., 0], src[..., 1], cv2.INTER_LINEAR)
            image[inside], layer[inside] = skin[inside], k + 1
        images.append(np.clip(np.rint(image), 0, 255).astype(np.uint8))
        layers.append(layer)
    clip = Clip(frames=images)
    for t in range(scene.frames - 1):
        clip.forward.append(_flow(scene, paths, zooms, offsets, grid, centre, layers[t], t, t + 1))
        backward = _flow(scene, paths, zooms, offsets, grid, centre, layers[t + 1], t + 1, t)
        clip.backward.append(backward)
        clip.masks.append(_same_surface(backward, layers[t], layers[t + 1]))
    return clip


def _flow(scene, paths, zooms, offsets, grid, centre, layer, t, u) -> np.ndarray:
    """The true flow from frame t to frame u at each pixel of t, by its visible layer."""
    texture_xy = (grid - centre) / zooms[t] + centre + offsets[t]
    target = (texture_xy - offsets[u] - centre) * zooms[u] + centre
    out = (target - grid).astype(np.float32)
    for k in range(len(scene.things)):
        out[layer == k + 1] = (paths[k][u] - paths[k][t]).astype(np.float32)
    return out


def _same_surface(flow_ba: np.ndarray, layer_a: np.ndarray, layer_b: np.ndarray) -> np.ndarray:
    """1 where pixel p of b comes from p + flow_ba inside a, showing the same layer there."""
    height, width = layer_b.shape
    src = np.stack(np.meshgrid(np.arange(width), np.arange(height)), axis=2) + flow_ba
    inside = (src[..., 0] >= 0) & (src[..., 0] <= width - 1) & (src[..., 1] >= 0)
    inside &= src[..., 1] <= height - 1
    sx = np.clip(np.rint(src[..., 0]), 0, width - 1).astype(int)
    sy = np.clip(np.rint(src[..., 1]), 0, height - 1).astype(int)
    same = layer_a[sy, sx] == layer_b
    return (inside & same).astype(np.float32)


def scaled(scene: Scene, factor: float, frames: int | None = None) -> Scene:
    """The scene at ``factor`` times its size, every length and motion scaled alike (so that a
    motion keeps its share of the frame's width)."""

    def times(pair):
        return tuple(v * factor for v in pair)

    things = tuple(Thing(times(t.radii), times(t.start), times(t.velocity)) for t in scene.things)
    size = (round(scene.size[0] * factor), round(scene.size[1] * factor))
    return Scene(pan=times(scene.pan), zoom=scene.zoom, things=things, size=size,
                 frames=frames or scene.frames, seed=scene.seed)  # fmt: skip


def max_motion(clip: Clip) -> float:
    """The largest true displacement in the clip, px per frame."""
    return float(max(np.linalg.norm(f, axis=2).max() for f in clip.forward))


def write_frames(clip: Clip, folder) -> None:
    """Save a rendered clip's frames as numbered PNGs in ``folder`` (made if missing): an image
    sequence that ``vidstyle video`` reads losslessly, for a benchmark that takes a clip (issue
    19: a clip of our own making beside the real ones; an ``.mp4`` would add coding noise of
    about 40 mse on 0..255 to frames whose true flow is otherwise exact)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(clip.frames):
        cv2.imwrite(str(Path(folder) / f"{index:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
