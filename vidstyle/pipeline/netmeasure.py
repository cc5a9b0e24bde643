"""Rendering a clip's frames with its painter, and what the quality report says of them
(:mod:`vidstyle.pipeline.network`).

Each frame's record has the fields of the frame loop's (:mod:`vidstyle.pipeline.video`) that
the report reads: its crispness (every frame: cheap), its style and content losses and the
content's style loss (every MEASURE_EVERY-th frame from the second: two VGG19 passes), and its
temporal error against the frame before (the same frames, through plain DIS flow and vidstyle's
reliable mask: a tenth of the fused flow's time; vidstyle's own measure, as the frame loop's). The
stylized keyframes are measured the same way as teachers, and the summary compares the frames
that are not keyframes with them: crispness, style drop and content loss, each as a ratio.
"""

from __future__ import annotations

import time

import numpy as np

from vidstyle.media import flow as flowlib

MEASURE_EVERY = 10  # frames between two whose losses and temporal error are measured


def teacher(engine, targets, content: np.ndarray, result: np.ndarray) -> dict:
    """A stylized keyframe's crispness, style and content losses and its content's style loss."""
    return {"crispness": flowlib.crispness(result, content)} | losses(engine, targets, content,
                                                                      result)  # fmt: skip


def losses(engine, targets, content: np.ndarray, result: np.ndarray) -> dict:
    """The result's style and content losses, and the content's own style loss."""
    own = engine.losses(result, content, targets)
    return {"style_loss": own["style"], "content_loss": own["content"],
            "content_style_loss": engine.losses(content, content, targets)["style"]}  # fmt: skip


class Renderer:
    """Renders frames with a painter and measures them.

    Args:
        engine: the engine (the working size, and VGG19 for the losses).
        painter: the trained :class:`vidstyle.engine.painter.Painter`.
        targets: the style's targets at the working size.
        keys: the keyframes' positions (their records say so).
    """

    def __init__(self, engine, painter, targets, keys=()):
        self.engine, self.painter, self.targets = engine, painter, targets
        self.max_size = engine.method.max_size
        self.keys = set(keys)
        self.previous: tuple[np.ndarray, np.ndarray] | None = None  # (content, result)

    def skip(self, content: np.ndarray, record: dict) -> None:
        """A frame rendered by an earlier run: the next is not compared with it."""
        self.previous = None

    def render(self, frames: list, cuts: list[bool]) -> list[tuple[np.ndarray, dict]]:
        """Render and measure frames of one clip (:class:`vidstyle.media.video.Frame` at the
        working size) with whether a shot cut lies before each
        (:func:`vidstyle.pipeline.clip.working_frames`).

        Returns:
            Per frame, its result (uint8 at the working size) and its record.
        """
        started = time.monotonic()
        contents = [frame.rgb for frame in frames]
        results = [None] * len(contents)
        for shape in dict.fromkeys(content.shape for content in contents):  # a batch per size
            same = [i for i, content in enumerate(contents) if content.shape == shape]
            for i, result in zip(same, self.painter.render(np.stack([contents[i] for i in same]))):
                results[i] = result
        share = (time.monotonic() - started) / len(frames)
        out = []
        for frame, cut, result in zip(frames, cuts, results):
            begun = time.monotonic()
            record = self.measure(frame, result, cut)
            record["seconds"] = round(share + time.monotonic() - begun, 4)
            out.append((result, record))
        return out

    def measure(self, frame, result: np.ndarray, cut: bool) -> dict:
        """A frame's record (see the module's docstring)."""
        content = frame.rgb
        previous, self.previous = self.previous, (content, result)
        record = {"index": frame.index, "time": frame.time, "cut": cut,
                  "crispness": flowlib.crispness(result, content)}  # fmt: skip
        if frame.index in self.keys:
            record["keyframe"] = True
        if frame.index % MEASURE_EVERY != 1 % MEASURE_EVERY:  # 1, 11, 21...: not the first
            return record
        record |= losses(self.engine, self.targets, content, result)
        if previous is not None and not cut:
            forward = flowlib.flow(previous[0], content, large=False)
            backward = flowlib.flow(content, previous[0], large=False)
            mask = flowlib.reliable_mask(forward, backward)
            record["temporal_error"] = flowlib.temporal_error(result, previous[1], backward, mask)
            record["content_error"] = flowlib.temporal_error(content, previous[0], backward, mask)
        return record


def summary(records: list[dict], teachers: list[dict]) -> dict:
    """The report's network part: the seconds per rendered frame and, against the stylized
    keyframes (``teachers``), the frames that are not keyframes' crispness, style drop (the
    content's style loss over the result's) and content loss, each over the keyframes'."""
    out = {"render": "network",
           "seconds_rendering_per_frame": _mean([r["seconds"] for r in records])}  # fmt: skip
    if not teachers:
        return out
    others = [r for r in records if not r.get("keyframe")]
    measured = [r for r in others if "style_loss" in r]
    keys = {"crispness": _mean([t["crispness"] for t in teachers]),
            "style_drop": _mean([_drop(t) for t in teachers]),
            "content_loss": _mean([t["content_loss"] for t in teachers])}  # fmt: skip
    ours = {"crispness": _mean([r["crispness"] for r in others]),
            "style_drop": _mean([_drop(r) for r in measured]),
            "content_loss": _mean([r["content_loss"] for r in measured])}  # fmt: skip
    for name, value in keys.items():
        out[f"keyframe_{name}"] = value
        if ours[name] is not None and value:
            out[f"{name}_vs_keyframes"] = ours[name] / value
    return out


def _drop(record: dict) -> float:
    return record["content_style_loss"] / max(record["style_loss"], 1e-12)


def _mean(values: list) -> float | None:
    return float(np.mean(values)) if values else None
