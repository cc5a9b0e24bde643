"""What a run writes in its run folder for people to read: ``run.log`` (:class:`RunLog`) and the
picture report ``report.html``, one self-contained page (no scripts, no network) with its
thumbnails in ``thumbs/`` beside it, rewritten after every task. Several runners sharing the run
folder write both: the log a whole line at a time, the page and thumbnails atomically, and the
page under a lock on ``.report.lock`` with the ledger read inside it, so that the page renamed
into place last was built from the latest read (never one runner's older view of the night).

Per job: a grid of content | style | result thumbnails; for each clip a strip of frames and a
chart of its temporal error per frame (inline SVG); then the failures with their reasons and the
night's timings.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console

from vidstyle.errors import flag, render
from vidstyle.fsutil import atomic_path
from vidstyle.jobs.ledger import Row
from vidstyle.progress import duration

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the page is still written atomically
    fcntl = None

THUMB = 200  # longest side of a thumbnail, in pixels
STRIP_FRAMES = 6
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f4f6;color:#222}
header{background:#23262e;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px;font-size:20px} header p{margin:0;color:#c8cad0}
main{padding:8px 24px 32px} h2{margin:24px 0 8px;font-size:17px}
.counts span{display:inline-block;margin-right:14px;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:12px}
.card{background:#fff;border-radius:6px;box-shadow:0 1px 3px #0002;padding:8px}
.card.failed{border-left:4px solid #c0392b}
.trio{display:grid;grid-template-columns:1fr 1fr 1fr;gap:6px}
.trio figure{margin:0;text-align:center}
.trio img{width:100%;height:120px;object-fit:contain;background:#e8e8ec;border-radius:3px}
.trio .none{height:120px;background:#e8e8ec;border-radius:3px}
figcaption{font-size:12px;color:#666;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.meta{font-size:12px;color:#444;margin-top:4px;word-break:break-all}
.strip{display:flex;gap:4px;margin-top:6px}
.strip img{flex:1;min-width:0;height:56px;object-fit:cover;border-radius:2px}
.status{font-weight:600} .done{color:#1e8449} .failed{color:#c0392b}
.pending{color:#7f8c8d} .running{color:#2471a3}
svg{display:block;margin-top:6px;width:100%}
table{border-collapse:collapse;background:#fff}
td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}
"""


class RunLog:
    """``run.log``: every line with its time and the pid of the runner that wrote it, appended
    across runs (``2026-01-31 23:59:59 [4242] start ...``).

    Args:
        path: the log file (created with its folder when missing).
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = _Lines(path)
        self.console = Console(file=self.file, width=200, no_color=True, highlight=False,
                               soft_wrap=True)  # fmt: skip

    def __call__(self, line: str) -> None:
        self.console.print(line, markup=False)

    def close(self) -> None:
        self.file.close()


class _Lines:
    """A text file opened for appending that starts every line with the time and this process's
    pid, and writes each line whole in one ``write``: the lines of runners sharing the file never
    mix."""

    def __init__(self, path: Path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        self.partial = ""

    def write(self, text: str) -> int:
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            self._put(line)
        return len(text)

    def _put(self, line: str) -> None:
        data = f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{os.getpid()}] {line}\n".encode()
        while data:
            data = data[os.write(self.fd, data) :]

    def flush(self) -> None:
        """Lines are written as they end: nothing is held but an unfinished one."""

    def close(self) -> None:
        if self.partial:
            self._put(self.partial)
            self.partial = ""
        os.close(self.fd)


def write_report(run_dir: Path, rows: list[Row] | Callable[[], list[Row]], title: str) -> Path:
    """Rewrite ``report.html`` (and any thumbnails it lacks) from the ledger's rows.

    Args:
        run_dir: the run folder.
        rows: the rows, or what reads them (read under the report's lock: see the module).
        title: the page's title.

    Returns:
        The report's path.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    with _locked(run_dir / ".report.lock"):
        return _write(run_dir, rows() if callable(rows) else rows, title)


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive advisory lock on ``path`` (POSIX ``flock``; none where there is no fcntl)."""
    with path.open("a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _write(run_dir: Path, rows: list[Row], title: str) -> Path:
    thumbs = run_dir / "thumbs"
    thumbs.mkdir(parents=True, exist_ok=True)
    jobs: dict[str, list[Row]] = {}
    for row in rows:
        jobs.setdefault(row.job, []).append(row)
    parts = [_header(rows, title)]
    for job, members in jobs.items():
        parts.append(f"<h2>{_e(job)}</h2><div class='grid'>")
        parts += [_card(row, thumbs, run_dir.parent) for row in members]
        parts.append("</div>")
    parts.append(_failures(rows))
    parts.append(_timings(rows))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        + "".join(parts)
        + "</main></body></html>"
    )
    path = run_dir / "report.html"
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def _header(rows: list[Row], title: str) -> str:
    counts = {s: sum(r.status == s for r in rows) for s in ("done", "running", "pending", "failed")}
    shown = "".join(f"<span class='{s}'>{n} {s}</span>" for s, n in counts.items())
    spent = sum(r.seconds for r in rows)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"<header><h1>{_e(title)}</h1><p>{len(rows)} tasks, {duration(spent)} of work; "
        f"written {stamp}</p></header><main><p class='counts'>{shown}</p>"
    )


def _card(row: Row, thumbs: Path, base: Path) -> str:
    content = _thumb(thumbs, Path(row.source), row.kind)
    styles = [Path(line) for line in row.style.splitlines()]  # a blend: one per line
    style = _thumb(thumbs, styles[0], "image")
    result = _thumb(thumbs, Path(row.output), row.kind) if row.status == "done" else None
    result_caption = row.variant or ("result" if row.status == "done" else row.status)
    trio = "".join(
        _figure(src, caption)
        for src, caption in (
            (content, Path(row.source).name),
            (style, "+".join(path.stem for path in styles)),
            (result, result_caption),
        )  # fmt: skip
    )
    extra = _clip_extras(row, thumbs) if row.kind == "video" and row.status == "done" else ""
    why = f"<div class='meta failed'>{_e(_reason(row))}</div>" if row.status == "failed" else ""
    output = os.path.relpath(row.output, base)
    return (
        f"<div class='card {row.status}'><div class='trio'>{trio}</div>{extra}"
        f"<div class='meta'><span class='status {row.status}'>{row.status}</span>"
        f" · {row.attempts} attempt(s) · {duration(row.seconds)} · {_e(output)}</div>"
        f"{why}</div>"
    )


def _figure(src: str | None, caption: str) -> str:
    image = f"<img src='{_e(src)}' alt=''>" if src else "<div class='none'></div>"
    return f"<figure>{image}<figcaption>{_e(caption)}</figcaption></figure>"


def _clip_extras(row: Row, thumbs: Path) -> str:
    """A strip of the clip's frames and its temporal-error chart."""
    frames = _strip(thumbs, Path(row.output))
    strip = "".join(f"<img src='{_e(src)}' alt=''>" for src in frames)
    chart = _chart(row.detail.get("report"))
    summary = row.detail.get("summary", {})
    error = summary.get("temporal_error")
    floor = summary.get("content_temporal_error")
    numbers = ""
    if error is not None and floor is not None:
        numbers = f"<div class='meta'>temporal error {error:.3g} (content {floor:.3g})</div>"
    return f"<div class='strip'>{strip}</div>{chart}{numbers}"


def _chart(report_path: str | None, width: int = 600, height: int = 110) -> str:
    """An inline SVG line of the temporal error per frame, from the clip's report.json, with
    the content's own frame-to-frame change (the floor) dashed beside it."""
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


def _thumb(thumbs: Path, source: Path, kind: str) -> str | None:
    """The thumbnail of an image (or a clip's first frame), made once; None if unreadable."""
    name = _tag(source) + ".jpg"
    target = thumbs / name
    if not target.is_file():
        try:
            rgb = _first_frame(source) if kind == "video" else _image(source)
            _save_thumb(target, rgb)
        except Exception:  # noqa: BLE001 - a missing thumbnail must not stop the report
            return None
    return f"thumbs/{name}"


def _strip(thumbs: Path, clip: Path) -> list[str]:
    """Thumbnails of a few frames spread over a stylized clip (or frame folder)."""
    key = _tag(clip)
    names = [f"{key}-{i}.jpg" for i in range(STRIP_FRAMES)]
    if not all((thumbs / n).is_file() for n in names):
        try:
            for name, rgb in zip(names, _spread_frames(clip, STRIP_FRAMES)):
                _save_thumb(thumbs / name, rgb)
        except Exception:  # noqa: BLE001 - as above
            pass
    return [f"thumbs/{n}" for n in names if (thumbs / n).is_file()]


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


def _failures(rows: list[Row]) -> str:
    failed = [r for r in rows if r.status == "failed"]
    if not failed:
        return ""
    items = "".join(f"<tr><td>{_e(r.job)}</td><td>{_e(Path(r.source).name)}</td>"
                    f"<td>{_e(_reason(r))}</td></tr>" for r in failed)  # fmt: skip
    return (
        f"<h2>Failures</h2><table><tr><th>job</th><th>input</th><th>reason</th></tr>{items}</table>"
    )


def _timings(rows: list[Row]) -> str:
    jobs: dict[str, list[Row]] = {}
    for row in rows:
        jobs.setdefault(row.job, []).append(row)
    lines = "".join(
        f"<tr><td>{_e(job)}</td><td>{sum(r.status == 'done' for r in members)}/{len(members)}</td>"
        f"<td>{duration(sum(r.seconds for r in members))}</td></tr>"
        for job, members in jobs.items()
    )
    started = [r.started for r in rows if r.started]
    finished = [r.finished for r in rows if r.finished]
    span = ""
    if started and finished:
        first, last = min(started), max(finished)
        span = (f"<p>first task started {time.strftime('%H:%M:%S', time.localtime(first))}, "
                f"last ended {time.strftime('%H:%M:%S', time.localtime(last))}</p>")  # fmt: skip
    return (f"<h2>Timings</h2><table><tr><th>job</th><th>done</th><th>time</th></tr>{lines}"
            f"</table>{span}")  # fmt: skip


def _reason(row: Row) -> str:
    """A failure's reason as the command line would show it (parameters as flags)."""
    return render(row.error or "", flag)


def _e(text) -> str:
    return html.escape(str(text), quote=True)
