"""The pictures of the run's report (:mod:`vidstyle.jobs.report`): thumbnails of inputs, styles
and results in ``thumbs/`` beside the page (each made once, named after its file as it is now),
a strip of frames spread over a stylized clip, and a clip's temporal-error chart as inline SVG.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from vidstyle.fsutil import atomic_path

THUMB = 200  # longest side of a thumbnail, in pixels
STRIP_FRAMES = 6


def thumb(thumbs: Path, source: Path, kind: str) -> str | None:
    """The thumbnail of an image (or a clip's first frame), made once.

    Args:
        thumbs: the thumbnails' folder (``thumbs/`` in the run folder).
        source: the image, clip or frame folder.
        kind: ``image`` or ``video``.

    Returns:
        Its path relative to the run folder (``thumbs/<name>.jpg``), or None if unreadable.
    """
    name = _tag(source) + ".jpg"
    target = thumbs / name
    if not target.is_file():
        try:
            rgb = _first_frame(source) if kind == "video" else _image(source)
            _save_thumb(target, rgb)
        except Exception:  # noqa: BLE001 - a missing thumbnail must not stop the report
            return None
    return f"thumbs/{name}"


def strip(thumbs: Path, clip: Path) -> list[str]:
    """Thumbnails of a few frames spread over a stylized clip (or frame folder), made once.

    Returns:
        Their paths relative to the run folder (fewer, or none, when the clip is unreadable).
    """
    key = _tag(clip)
    names = [f"{key}-{i}.jpg" for i in range(STRIP_FRAMES)]
    if not all((thumbs / n).is_file() for n in names):
        try:
            for name, rgb in zip(names, _spread_frames(clip, STRIP_FRAMES)):
                _save_thumb(thumbs / name, rgb)
        except Exception:  # noqa: BLE001 - as above
            pass
    return [f"thumbs/{n}" for n in names if (thumbs / n).is_file()]


def chart(report_path: str | None, width: int = 600, height: int = 110) -> str:
    """An inline SVG line of the temporal error per frame, from the clip's report.json, with
    the content's own frame-to-frame change (the floor) dashed beside it ("" when there is no
    report or fewer than two measured frames)."""
    if not report_path or not Path(report_path).is_file():
        return ""
    frames = json.loads(Path(report_path).read_text()).get("frames", [])
    result = [(f["index"], f["temporal_error"]) for f in frames if "temporal_error" in f]
    floor = [(f["index"], f["content_error"]) for f in frames if "content_error" in f]
    if len(result) < 2:
        return ""
    last = max(i for i, _ in result) or 1
    top = max(v for _, v in result + floor) or 1.0
    left, bottom = 34, height - 18

    def line(points, colour, dash=""):
        xy = " ".join(f"{left + i / last * (width - left - 6):.1f},"
                      f"{bottom - v / top * (bottom - 8):.1f}" for i, v in points)  # fmt: skip
        return (f"<polyline fill='none' stroke='{colour}' stroke-width='1.5' "
                f"stroke-dasharray='{dash}' points='{xy}'/>")  # fmt: skip

    return (
        f"<svg viewBox='0 0 {width} {height}' role='img' aria-label='temporal error per frame'>"
        f"<rect width='{width}' height='{height}' fill='#fafafa'/>"
        f"<line x1='{left}' y1='{bottom}' x2='{width - 6}' y2='{bottom}' stroke='#bbb'/>"
        f"<text x='2' y='14' font-size='10' fill='#666'>{top:.3g}</text>"
        f"<text x='2' y='{bottom}' font-size='10' fill='#666'>0</text>"
        + line(result, "#2471a3")
        + (line(floor, "#aaa", "4 3") if len(floor) > 1 else "")
        + f"<text x='{left}' y='{height - 4}' font-size='10' fill='#666'>temporal error per "
        f"frame (blue: result, dashed: content), frames 0-{last}</text></svg>"
    )


def _tag(path: Path) -> str:
    """A file name for a thumbnail of ``path`` as it is now (a remade output gets a new one)."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return hashlib.sha1(f"{path}:{stamp}".encode()).hexdigest()[:16]


def _image(path: Path) -> np.ndarray:
    from vidstyle.media.images import load_image

    return load_image(path).rgb


def _first_frame(path: Path) -> np.ndarray:
    from vidstyle.media import video as videolib

    return next(iter(videolib.read_frames(path, None, None, 1))).rgb


def _spread_frames(path: Path, count: int) -> list[np.ndarray]:
    """``count`` frames spread evenly over a clip or a folder of frames; a clip is decoded
    twice (to count its frames, then to keep the chosen ones), never held in memory whole."""
    from vidstyle.media import video as videolib

    if path.is_dir():
        files = videolib.list_sequence(path)
        return [_image(files[i]) for i in _picks(len(files), count)]
    total = sum(1 for _ in videolib.read_frames(path, None, None, None))
    picks = set(_picks(total, count))
    return [f.rgb for f in videolib.read_frames(path, None, None, None) if f.index in picks]


def _picks(total: int, count: int) -> list[int]:
    return sorted({round(i * (total - 1) / max(count - 1, 1)) for i in range(count)})


def _save_thumb(target: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    image = Image.fromarray(rgb)
    image.thumbnail((THUMB, THUMB))
    with atomic_path(target) as tmp:
        image.save(tmp, format="JPEG", quality=85)
