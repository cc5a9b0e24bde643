"""Synthetic ledger rows for the report's tests: real small files (photos, a style, results, a
stylized clip and its report.json) under a project folder, with the run folder inside it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from clipmaker import pan_frames, write_clip
from conftest import textured
from PIL import Image

from vidstyle.jobs.rows import Row


def row(key: str, source: Path, style: Path, output: Path, status: str = "done", **more) -> Row:
    """A ledger row of an image task (``more``: any other field, e.g. ``kind``, ``detail``)."""
    fields = dict(key=key, job="holiday", kind="image", source=str(source), style=str(style),
                  output=str(output), variant="", steps=4, pixels=1024, status=status,
                  attempts=1, seconds=3.0, error=None, host=None, pid=None, heartbeat=None,
                  started=None, finished=None, detail={})  # fmt: skip
    return Row(**(fields | more))


def make_rows(project: Path, now: float | None = None) -> list[Row]:
    """Under ``project``: two stills done (one name with a space), one running on another host
    (started 65 s before ``now``, last heard 3 s before; default: the clock's now), one failed,
    and a clip done (its output an MP4, with a report.json for its chart)."""
    photos, styles, out = project / "photos", project / "styles", project / "styled"
    for folder in (photos, styles, out):
        folder.mkdir(parents=True, exist_ok=True)
    style = styles / "starry.jpg"
    Image.fromarray(textured(40, 40, seed=3)).save(style)
    rows = []
    for n, name in enumerate(["a.png", "b b.png", "c.png", "d.png"]):
        Image.fromarray(textured(30, 40, seed=n)).save(photos / name)
    for name, drop in (("a.png", 12.345), ("b b.png", 3.0)):
        Image.fromarray(textured(30, 40, seed=9)).save(out / name)
        rows.append(row(name, photos / name, style, out / name, detail={"style_drop": drop}))
    rows.append(row("d.png", photos / "d.png", style, out / "d.png", status="failed",
                    error="d.png: cannot read it"))  # fmt: skip
    clip, result = project / "clips" / "beach.mp4", out / "beach.mp4"
    clip.parent.mkdir(exist_ok=True)
    write_clip(clip, pan_frames((48, 32), 4))
    write_clip(result, pan_frames((48, 32), 4, seed=5))
    report = out / "beach.mp4.report.json"
    frames = [{"index": i, "temporal_error": 2.0 + i, "content_error": 5.0} for i in range(1, 4)]
    report.write_text(json.dumps({"summary": {}, "frames": frames}))
    summary = {"temporal_error": 3.0, "content_temporal_error": 5.0, "style_drop": 7.5}
    rows.append(row("clip", clip, style, result, job="beach", kind="video",
                    detail={"report": str(report), "summary": summary}))  # fmt: skip
    now = time.time() if now is None else now
    rows.insert(2, row("c.png", photos / "c.png", style, out / "c.png", status="running",
                       host="render1", pid=4242, started=now - 65, heartbeat=now - 3))  # fmt: skip
    return rows
