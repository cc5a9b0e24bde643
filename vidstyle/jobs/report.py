"""The picture report of a run, ``report.html`` in its run folder: one self-contained page (no
scripts, no network) with its thumbnails in ``thumbs/`` beside it (:mod:`vidstyle.jobs.pictures`).
The run's other file for people, ``run.log``, is :mod:`vidstyle.jobs.runlog`.

The page is kept up to date during a run (:class:`vidstyle.jobs.live.LiveReport`), so that
opening it mid-night shows the night so far; it says when it was written and what is running
(and reloads itself in a browser while something runs). Several runners sharing the run folder
write the page and thumbnails atomically, and the page under a lock on ``.report.lock`` with the
ledger read inside it, so that the page renamed into place last was
built from the latest read (never one runner's older view of the night).

Per job: a grid of content | style | result thumbnails, each linked to its file by a relative
link (the page works wherever the run folder is moved with the outputs), with the style drop
(the content's style loss over the result's) of stills and clips; for each clip a strip of frames
and a chart of its temporal error per frame (inline SVG); then the failures with their reasons
and the night's timings.
"""

from __future__ import annotations

import contextlib
import html
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from vidstyle.errors import flag, render
from vidstyle.fsutil import atomic_path
from vidstyle.jobs.pictures import chart, strip, thumb
from vidstyle.jobs.rows import STATUSES, Row
from vidstyle.progress import duration

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the page is still written atomically
    fcntl = None

REFRESH_SECONDS = 30  # a page written while tasks run reloads itself this often in a browser
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f4f6;color:#222}
header{background:#23262e;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px;font-size:20px} header p{margin:0;color:#c8cad0}
main{padding:8px 24px 32px} h2{margin:24px 0 8px;font-size:17px}
.counts span{display:inline-block;margin-right:14px;font-weight:600}
.now{margin:0;padding-left:20px} .now li{margin:2px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:12px}
.card{background:#fff;border-radius:6px;box-shadow:0 1px 3px #0002;padding:8px}
.card.failed{border-left:4px solid #c0392b} .card.running{border-left:4px solid #2471a3}
.trio{display:grid;grid-template-columns:1fr 1fr 1fr;gap:6px}
.trio figure{margin:0;text-align:center} .trio a{display:block}
.trio img{width:100%;height:120px;object-fit:contain;background:#e8e8ec;border-radius:3px}
.trio .none{height:120px;background:#e8e8ec;border-radius:3px}
figcaption{font-size:12px;color:#666;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.meta{font-size:12px;color:#444;margin-top:4px;word-break:break-all} .meta a{color:inherit}
.strip{display:flex;gap:4px;margin-top:6px}
.strip img{flex:1;min-width:0;height:56px;object-fit:cover;border-radius:2px}
.status{font-weight:600} .done{color:#1e8449} .failed{color:#c0392b}
.pending{color:#7f8c8d} .running{color:#2471a3}
svg{display:block;margin-top:6px;width:100%}
table{border-collapse:collapse;background:#fff}
td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}
"""


def write_report(
    run_dir: Path,
    rows: list[Row] | Callable[[], list[Row]],
    title: str,
    now: float | None = None,
) -> Path:
    """Rewrite ``report.html`` (and any thumbnails it lacks) from the ledger's rows.

    Args:
        run_dir: the run folder.
        rows: the rows, or what reads them (read under the report's lock: see the module).
        title: the page's title.
        now: the epoch seconds the page is written at (default: the clock's), for its stamp
            and how long running tasks have run.

    Returns:
        The report's path.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    with _locked(run_dir / ".report.lock"):
        return _write(run_dir, rows() if callable(rows) else rows, title, now)


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive advisory lock on ``path`` (POSIX ``flock``; none where there is no fcntl)."""
    with path.open("a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _write(run_dir: Path, rows: list[Row], title: str, now: float | None) -> Path:
    thumbs = run_dir / "thumbs"
    thumbs.mkdir(parents=True, exist_ok=True)
    jobs: dict[str, list[Row]] = {}
    for row in rows:
        jobs.setdefault(row.job, []).append(row)
    now = time.time() if now is None else now
    parts = [_header(rows, title, now), _running(rows, now)]
    for job, members in jobs.items():
        parts.append(f"<h2>{_e(job)}</h2><div class='grid'>")
        parts += [_card(row, thumbs, run_dir) for row in members]
        parts.append("</div>")
    parts.append(_failures(rows))
    parts.append(_timings(rows))
    refresh = ""
    if any(r.status == "running" for r in rows):  # a browser left open follows the night
        refresh = f"<meta http-equiv='refresh' content='{REFRESH_SECONDS}'>"
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'>{refresh}"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        + "".join(parts)
        + "</main></body></html>"
    )
    path = run_dir / "report.html"
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def _header(rows: list[Row], title: str, now: float) -> str:
    statuses = list(STATUSES) + sorted({r.status for r in rows} - set(STATUSES))
    counts = {s: sum(r.status == s for r in rows) for s in statuses}
    shown = "".join(f"<span class='{s}'>{n} {s}</span>" for s, n in counts.items())
    spent = sum(r.seconds for r in rows)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(now))
    return (
        f"<header><h1>{_e(title)}</h1><p>{len(rows)} tasks, {duration(spent)} of work; "
        f"written {stamp}</p></header><main><p class='counts'>{shown}</p>"
    )


def _running(rows: list[Row], now: float) -> str:
    """What is running as the page is written (at ``now``): each task, where, for how long."""
    items = "".join(
        f"<li>{_e(r.label)}: on {_e(r.host or '?')} (pid {r.pid or '?'})"
        + (f", for {duration(now - r.started)}" if r.started else "")
        + (f", last heard {duration(now - r.heartbeat)} ago" if r.heartbeat else "")
        + "</li>"
        for r in rows
        if r.status == "running"
    )
    if not items:
        return "<h2>Running</h2><p>nothing is running</p>"
    return f"<h2>Running</h2><ul class='now'>{items}</ul>"


def _card(row: Row, thumbs: Path, run_dir: Path) -> str:
    styles = [Path(line) for line in row.style.splitlines()]
    done = row.status == "done"
    figures = (
        (thumb(thumbs, Path(row.source), row.kind), Path(row.source).name, row.source),
        (thumb(thumbs, styles[0], "image"), row.style_name, styles[0]),
        (thumb(thumbs, Path(row.output), row.kind) if done else None,
         row.variant or ("result" if done else row.status), row.output if done else None),
    )  # fmt: skip
    trio = "".join(_figure(src, caption, target and _href(target, run_dir))
                   for src, caption, target in figures)  # fmt: skip
    extra = _clip_extras(row, thumbs) if row.kind == "video" and done else ""
    why = f"<div class='meta failed'>{_e(_reason(row))}</div>" if row.status == "failed" else ""
    shown = _e(os.path.relpath(row.output, run_dir.parent))  # as the job file's template says
    output = f"<a href='{_e(_href(row.output, run_dir))}'>{shown}</a>" if done else shown
    drop = row.detail.get("style_drop") if row.kind == "image" else None
    return (
        f"<div class='card {_e(row.status)}'><div class='trio'>{trio}</div>{extra}"
        f"<div class='meta'><span class='status {_e(row.status)}'>{_e(row.status)}</span>"
        f" · {row.attempts} attempt(s) · {duration(row.seconds)}"
        + (f" · style drop {drop:.3g}" if drop is not None else "")
        + f" · {output}</div>{why}</div>"
    )


def _href(path: str | Path, run_dir: Path) -> str:
    """A link from the page to a file: relative to the run folder (the page works wherever the
    run folder is moved with the outputs), a file URI only where there is no relative path (a
    file on another drive)."""
    try:
        return quote(Path(os.path.relpath(Path(path).absolute(), run_dir.absolute())).as_posix())
    except ValueError:
        return Path(path).absolute().as_uri()


def _figure(src: str | None, caption: str, href: str | None = None) -> str:
    image = f"<img src='{_e(src)}' alt=''>" if src else "<div class='none'></div>"
    if href:
        image = f"<a href='{_e(href)}'>{image}</a>"
    return f"<figure>{image}<figcaption>{_e(caption)}</figcaption></figure>"


def _clip_extras(row: Row, thumbs: Path) -> str:
    """A strip of the clip's frames, its temporal-error chart and its summary's figures."""
    frames = "".join(f"<img src='{_e(src)}' alt=''>" for src in strip(thumbs, Path(row.output)))
    summary = row.detail.get("summary", {})
    error = summary.get("temporal_error")
    floor = summary.get("content_temporal_error")
    figures = []
    if error is not None and floor is not None:
        figures.append(f"temporal error {error:.3g} (content {floor:.3g})")
    if summary.get("style_drop") is not None:
        figures.append(f"style drop {summary['style_drop']:.3g}")
    numbers = f"<div class='meta'>{' · '.join(figures)}</div>" if figures else ""
    return f"<div class='strip'>{frames}</div>{chart(row.detail.get('report'))}{numbers}"


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
