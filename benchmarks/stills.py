"""Crispness against the right reference (issue 29): a later video frame beside the same frame
stylized alone with the first frame's settings (its steps and optimizer, from its content, the
first frame's style targets), not only beside the clip's first frame. A clip that softens as it
goes shows below 1 here even when its first quarter had already softened.

Used by ``benchmarks/frames.py`` and ``benchmarks/video.py`` (the ``vs still`` column).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidstyle.config import VideoConfig
from vidstyle.media import flow as flowlib
from vidstyle.media.images import load_image, save_image
from vidstyle.pipeline.video import FrameLoop
from vidstyle.progress import NullReporter


def stills(engine, style: np.ndarray, config: VideoConfig, frames: Sequence, indices,
           cache: Path | None = None, key: str = "") -> dict[int, np.ndarray]:  # fmt: skip
    """The frames ``indices`` of a clip, each stylized alone as the first frame is: from its
    content, ``config``'s first-frame steps, the style targets of ``frames[0]``.

    Args:
        engine: the clip's engine.
        style: the style image.
        config: the clip's video options (``steps_first``).
        frames: the clip's frames (:class:`vidstyle.media.video.Frame`), the first included.
        indices: which frames (positions in ``frames``).
        cache: a folder to keep them in and read them from (``KEY-INDEX.png``); none when None.
        key: what the cached stills depend on (clip, size, style, steps, precision).

    Returns:
        Each index's still, HxWx3 uint8 at the working size.
    """
    loop = FrameLoop(engine, style, config, NullReporter())
    loop.working(frames[0].rgb)  # the first frame's style targets, as the clip has them
    out = {}
    for index in indices:
        path = None if cache is None else Path(cache) / f"{key}-{index:04d}.png"
        if path is not None and path.is_file():
            out[index] = load_image(path).rgb
            continue
        out[index] = loop.run(frames[index], None)[0].result
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_image(path, out[index])
    return out


def against(results: Sequence[np.ndarray], references: dict[int, np.ndarray]) -> dict:
    """Each later frame's detail (:func:`vidstyle.media.flow.detail`) over its still's.

    Returns:
        ``per_frame`` (index: ratio), ``worst`` (the smallest) and ``last`` (the last index's);
        the two None without a reference.
    """
    ratios = {i: flowlib.detail(results[i]) / max(flowlib.detail(s), 1e-6)
              for i, s in sorted(references.items()) if i < len(results)}  # fmt: skip
    if not ratios:
        return {"per_frame": {}, "worst": None, "last": None}
    return {"per_frame": ratios, "worst": min(ratios.values()), "last": ratios[max(ratios)]}
