"""The run's report page: relative links from each result to its file, the style drop of stills,
what is running and when the page was written, and the live page rewritten as a night goes on
(at most every few seconds, always at the end). The browser's view is test_report_browser.py."""

from __future__ import annotations

import html
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import textured
from PIL import Image
from reportrows import make_rows, row
from tinyvgg import tiny_engine

from vidstyle import batch
from vidstyle.engine.request import Request
from vidstyle.jobs import live as live_module
from vidstyle.jobs.live import LiveReport
from vidstyle.jobs.report import write_report


def _links(page: str) -> list[str]:
    return [unquote(html.unescape(h)) for h in re.findall(r"href='([^']+)'", page)]


def _sources(page: str) -> list[str]:
    return [html.unescape(s) for s in re.findall(r"src='([^']+)'", page)]


def test_every_link_is_relative_and_still_holds_when_the_folders_are_moved(tmp_path):
    """Catches: absolute links (or file:// ones) from results to their outputs, links that are
    not URL-quoted (a space in a name), and a result without a link."""
    project = tmp_path / "project"
    rows = make_rows(project)
    write_report(project / "night.vidstyle-run", rows, "night")
    moved = shutil.move(project, tmp_path / "elsewhere" / "moved")
    page_path = Path(moved) / "night.vidstyle-run" / "report.html"
    page = page_path.read_text()
    links = _links(page)
    assert links and not [h for h in links if h.startswith(("/", "file:")) or "://" in h]
    assert "b%20b.png" in page  # quoted in the page, a space once read
    resolved = {(page_path.parent / h).resolve() for h in links}
    assert all(p.is_file() for p in resolved)
    done = [Path(moved) / "styled" / name for name in ("a.png", "b b.png", "beach.mp4")]
    assert set(done) <= resolved  # every result done links to its output
    assert Path(moved) / "styled" / "c.png" not in resolved  # running: no output to link yet
    assert all((page_path.parent / s).is_file() for s in _sources(page))


def test_the_page_gives_stills_their_style_drop_and_names_what_runs_and_when(tmp_path):
    """Catches: a still without its style drop, the running task without its host, pid and
    time, a page that does not say when it was written, and a finished night that reloads."""
    project, now = tmp_path / "project", 1_700_000_000.0  # the page's clock, not the machine's
    rows = make_rows(project, now)
    page = write_report(project / "run", rows, "night", now=now).read_text()
    cards = re.findall(r"<div class='card.*?</div></div>", page)
    assert "style drop 12.3 ·" in cards[0] and "style drop 3 ·" in cards[1]
    assert "style drop 7.5" in page  # the clip's, from its summary
    running = re.search(r"<h2>Running</h2><ul class='now'>(.*?)</ul>", page)[1]
    assert running == ("<li>holiday: c.png ~ starry: on render1 (pid 4242), for 1m05s, "
                       "last heard 3s ago</li>")  # fmt: skip
    assert f"written {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(now))}<" in page
    assert "http-equiv='refresh'" in page  # left open, it follows the night
    finished = [r for r in rows if r.status != "running"]
    page = write_report(project / "run", finished, "night").read_text()
    assert "<p>nothing is running</p>" in page and "http-equiv" not in page


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_live_page_is_written_at_most_every_few_seconds_and_always_at_the_end(tmp_path):
    """Catches: a page rewritten on every call (a night of small stills spent writing HTML), a
    change left unwritten while a long task runs, and an end state not written."""
    reads, clock = [], Clock()

    def rows():
        reads.append(clock.now)
        return [row("k", tmp_path / f"in{len(reads)}.png", tmp_path / "s.png", tmp_path / "o")]

    live = LiveReport(tmp_path, rows, "night", every=5.0, clock=clock)
    events = {"call": live, "step": lambda: live.step(10, 1.0),
              "item": lambda: live.start_item("x", 5)}  # fmt: skip
    timeline = [(0, "call"), (1, "call"), (2, "step"), (4.9, "item"), (5.5, "step"), (6, "step"),
                (7, "call"), (9, "step"), (10.5, "step"), (11, "step")]  # fmt: skip
    for now, event in timeline:
        clock.now = now
        events[event]()
    assert reads == [0, 5.5, 10.5]  # due changes come out with the first step after 5 s
    clock.now = 11.2
    page = live.close()
    assert reads == [0, 5.5, 10.5, 11.2]
    assert "<figcaption>in4.png</figcaption>" in page.read_text()  # the last read is the page


def test_a_page_slow_to_write_waits_ten_times_its_writing_time(tmp_path):
    """Catches: a night of thousands of tasks spending most of its time writing its page."""
    clock, reads = Clock(), []

    took = [2.0, 30.0, 0.1, 0.1]  # seconds each write takes

    def rows():
        reads.append(clock.now)
        clock.now += took[len(reads) - 1]
        return []

    live = LiveReport(tmp_path, rows, "night", every=5.0, clock=clock)
    live()  # written from 0 to 2
    for now in (8, 21.9, 22, 111.9, 112, 116.9, 117.2):
        clock.now = now
        live()
    # 20 s after the end of the first write (10 x 2 s, more than 5 s); 60 s after the second's
    # end, 52 (not 10 x 30 s: a first page that made every thumbnail is slow once); then 5 s
    assert reads == [0, 22, 112, 117.2]


NIGHT = """
[defaults]
max_size = 32
steps = 4
output = "styled/{job}/{path}"

[[job]]
name = "holiday"
input = "photos"
styles = ["styles/starry.jpg"]
"""


def test_the_page_opened_mid_night_shows_the_night_so_far(tmp_path, monkeypatch):
    """Catches: a page written only at the end, one that does not show the task running (with
    this process's pid), a still's style drop not recorded by the run, and a last page that
    still shows a task running."""
    for n, name in enumerate(["a.png", "b.png", "c.png"]):
        (tmp_path / "photos").mkdir(exist_ok=True)
        Image.fromarray(textured(24, 32, seed=n)).save(tmp_path / "photos" / name)
    (tmp_path / "styles").mkdir()
    Image.fromarray(textured(32, 32, seed=7)).save(tmp_path / "styles" / "starry.jpg")
    night = tmp_path / "night.toml"
    night.write_text(NIGHT)
    page_path = tmp_path / "night.vidstyle-run" / "report.html"
    monkeypatch.setattr(live_module, "REPORT_SECONDS", 0.0)  # every change written
    monkeypatch.setattr(live_module, "SLOW_FACTOR", 0.0)
    seen = []

    def spying(method):
        engine = tiny_engine(method)
        stylize = engine.stylize

        def spied(*args, **kwargs):
            seen.append(page_path.read_text())  # as a browser would find it now
            return stylize(*args, **kwargs)

        engine.stylize = spied
        return engine

    result = batch.run(night, engine_factory=spying)
    assert (result.done, len(seen)) == (3, 3)
    third = seen[2]
    assert "2 done" in third and "1 running" in third
    assert "<li>holiday: c.png ~ starry: on " in third and f"(pid {os.getpid()})" in third
    links = _links(third)
    assert "../styled/holiday/b.png" in links and "../styled/holiday/c.png" not in links
    last = page_path.read_text()
    assert "3 done" in last and "nothing is running" in last
    drops = [float(d) for d in re.findall(r"style drop ([\d.e+-]+) ·", last)]
    assert len(drops) == 3 and all(d > 1 for d in drops)  # the photo's style loss over the result's


def test_a_still_that_is_its_photo_has_a_style_drop_of_one(tmp_path):
    """Catches: the ratio upside down, or measured against another image than the working one."""
    from vidstyle.config import MethodConfig
    from vidstyle.media.images import fit_longest
    from vidstyle.pipeline.image import style_drop

    photo = tmp_path / "p.png"
    Image.fromarray(textured(30, 40, seed=1)).save(photo)
    style = textured(32, 32, seed=2)
    engine = tiny_engine(MethodConfig(max_size=32, steps=8))
    work = fit_longest(textured(30, 40, seed=1), 32)
    assert style_drop(engine, style, photo, work) == pytest.approx(1.0)
    result = engine.stylize(Request(work, engine.style_targets(style)))
    assert style_drop(engine, style, photo, result) > 1.0


def test_only_the_batch_measures_a_stills_style_drop(tmp_path):
    """Catches: the one-shot commands (which show no style drop) paying for its forward passes,
    or the batch report losing it."""
    from vidstyle.config import MethodConfig
    from vidstyle.jobs.executor import Executor
    from vidstyle.jobs.plan import Task
    from vidstyle.progress import NullReporter

    photo, painting = tmp_path / "p.png", tmp_path / "s.png"
    Image.fromarray(textured(30, 40, seed=1)).save(photo)
    Image.fromarray(textured(32, 32, seed=2)).save(painting)
    method = MethodConfig(max_size=32, steps=4)
    details = []
    for measure in (True, False):
        task = Task(key="k", job="j", kind="image", source=photo, style=painting,
                    output=tmp_path / f"out-{measure}.png", method=method, name="p")  # fmt: skip
        executor = Executor(lambda m: tiny_engine(m), measure=measure)
        details.append(executor.run(task, NullReporter()))
    assert details[0]["style_drop"] > 1.0 and "style_drop" not in details[1]
