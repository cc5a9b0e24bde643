"""Running a night with the tiny random-weight model: outputs, ledger states, reruns, edits,
the deadline, status codes, the report and two runners sharing one ledger."""

import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from conftest import shared_tiny_engine as shared
from gate import Gate, run_held
from ledgerseed import seed_speed
from nightmaker import EXPECTED_OUTPUTS, ledger_rows, make_night
from tinyvgg import tiny_engine

from vidstyle import batch
from vidstyle.errors import UsageError
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.settings import RunConfig
from vidstyle.jobs.status import status

TESTS = Path(__file__).resolve().parents[1]


def _outputs(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in (root / "styled").rglob("*")
                  if p.is_file() and not p.name.endswith(".json"))  # fmt: skip


_rows = ledger_rows


@pytest.fixture
def night(tmp_path):
    return make_night(tmp_path)


def test_a_night_runs_every_task_once(night, tmp_path):
    assert status(night).exit_code == 3 and not status(night).started
    result = batch.run(night, engine_factory=shared)
    assert (result.done, result.failed) == (9, 0)
    assert _outputs(tmp_path) == EXPECTED_OUTPUTS
    rows = _rows(night)
    assert [(r.status, r.attempts) for r in rows] == [("done", 1)] * 9
    assert all(r.seconds > 0 and r.host and r.pid is None for r in rows)
    beach = rows[-1]
    assert beach.kind == "video" and beach.detail["summary"]["frames"] == 4
    state = status(night)
    assert state.exit_code == 0 and state.jobs[0].counts == {
        "done": 8,
        "running": 0,
        "stopped": 0,
        "pending": 0,
        "failed": 0,
        "cancelled": 0,
    }
    again = batch.run(night, engine_factory=shared)  # nothing left: nothing redone
    assert (again.done, again.failed) == (0, 0)
    log = (tmp_path / "night.vidstyle-run" / "run.log").read_text()
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[\d+\] run of night.toml: 9 tasks", log)
    assert log.count("start holiday: a.jpg ~ starry (style_weight-0.01)") == 1


def test_an_edited_job_file_adds_tasks_and_changed_options_make_new_ones(night, tmp_path):
    batch.run(night, engine_factory=shared)
    first = {r.key: r.finished for r in _rows(night)}
    text = night.read_text().replace("steps_next = 2", "steps_next = 3")  # the clip changes
    night.write_text(text + '\n[[job]]\nname = "more"\ninput = "photos/a.jpg"\n'
                     'styles = ["styles/scream.jpg"]\n')  # fmt: skip
    result = batch.run(night, engine_factory=shared)
    assert result.done == 2  # the clip with its new option, and the new job's image
    rows = _rows(night)
    assert len(rows) == 10 and all(r.status == "done" for r in rows)
    kept = [r for r in rows if r.key in first]
    assert len(kept) == 8 and all(first[r.key] == r.finished for r in kept)  # not redone
    assert (tmp_path / "styled/more/scream/a.jpg").is_file()


def test_a_bad_input_fails_alone_and_status_says_why(night, tmp_path):
    (tmp_path / "photos" / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    result = batch.run(night, engine_factory=shared)
    assert (result.done, result.failed) == (9, 4)  # c.png x 2 styles x 2 weights
    failed = [r for r in _rows(night) if r.status == "failed"]
    assert len(failed) == 4 and all(r.attempts == 1 for r in failed)  # not retried
    state = status(night)
    assert state.exit_code == 1
    reasons = state.jobs[0].failures
    expected = (
        f"{tmp_path / 'photos' / 'c.png'}: cannot decode image: not a recognised image format"
    )
    assert [reason for _, reason in reasons] == [expected] * 4


def test_a_deadline_admits_what_fits_then_a_clip_and_never_an_image_that_does_not(night):
    # A measured speed at which a.jpg (4 steps at 768 px) needs 1000 s, "b b.png" (672 px) 875 s
    # and the clip (10 steps at 672 px) 2188 s. The clip's job comes first (priority 1), yet
    # 950 s admit only b's four images: they run first; then nothing fits and time remains, so
    # the clip starts all the same (it would stop between frames at the deadline); a's images,
    # which could only overrun it, wait for the next run.
    night.write_text(night.read_text().replace('name = "beach"', 'name = "beach"\npriority = 1'))
    seed_speed(night, 1000 / (4 * 768))
    result = batch.run(night, deadline=time.time() + 950, engine_factory=tiny_engine)
    assert (result.done, result.stopped_by) == (5, "deadline")
    rows = _rows(night)
    assert {(Path(r.source).name, r.status, r.attempts) for r in rows} == {
        ("b b.png", "done", 1),
        ("a.jpg", "pending", 0),
        ("beach.mp4", "done", 1),
    }
    log = (night.parent / "night.vidstyle-run" / "run.log").read_text()
    starts = re.findall(r"start (\w+): (\S+)", log)
    assert [name for _, name in starts] == ["b"] * 4 + ["beach.mp4"]
    assert status(night).exit_code == 3


def test_a_clip_stops_between_frames_at_the_deadline_and_resumes(night, tmp_path, monkeypatch):
    from vidstyle.jobs.stop import StopFlag

    night.write_text(night.read_text().replace('input = "photos"', 'input = "photos/a.jpg"'))
    seen = []
    check = StopFlag.check_deadline

    def deadline_after_two_frames(self):
        seen.append(1)
        if len(seen) > 2:
            self.deadline = time.time() - 1
        check(self)

    monkeypatch.setattr(StopFlag, "check_deadline", deadline_after_two_frames)
    far = time.time() + 3600
    result = batch.run(night, deadline=far, engine_factory=shared)
    assert result.stopped_by == "deadline"
    clip = [r for r in _rows(night) if r.kind == "video"][0]
    assert (clip.status, clip.attempts) == ("pending", 0)  # not counted as an attempt
    work = tmp_path / "styled/beach/starry/beach.mp4.vidstyle-work/frames"
    assert len(list(work.glob("*.png"))) == 2  # two finished frames kept
    monkeypatch.setattr(StopFlag, "check_deadline", check)
    assert batch.run(night, deadline=far, engine_factory=shared).done == 1
    assert (tmp_path / "styled/beach/starry/beach.mp4").is_file()


def test_the_report_references_only_files_that_exist(night, tmp_path):
    batch.run(night, engine_factory=shared)
    report = tmp_path / "night.vidstyle-run" / "report.html"
    page = report.read_text()
    sources = re.findall(r"src='([^']+)'", page)
    assert len(sources) >= 9 * 3 + 4  # content, style and result per task, clip frames
    assert all((report.parent / s).is_file() for s in sources)
    assert "<svg" in page and "temporal error per frame" in page
    assert "http" not in page.replace("http-equiv", "")  # self-contained


RUNNER = """
import sys
sys.path[:0] = [{tests!r}, {jobs!r}]
from gate import wait_at
from tinyvgg import tiny_engine
from vidstyle import batch

held = []


def engine(method):
    if not held:  # this runner's first task is claimed: held until the other has one too
        wait_at({gate!r})
        held.append(method)
    return tiny_engine(method)


batch.run({night!r}, engine_factory=engine)
"""


def test_two_runners_on_one_ledger_never_run_a_task_twice(tmp_path):
    night = make_night(tmp_path)
    gate = Gate(2)
    try:
        script = RUNNER.format(tests=str(TESTS), jobs=str(TESTS / "jobs"), gate=gate.path,
                               night=str(night))  # fmt: skip
        (pids,) = run_held([script] * 2, gate, opens=1)  # a runner's stderr shown if it fails
    finally:
        gate.close()
    rows = _rows(night)
    assert [(r.status, r.attempts) for r in rows] == [("done", 1)] * 9
    log = (tmp_path / "night.vidstyle-run" / "run.log").read_text()
    starts = [re.fullmatch(r"\S+ \S+ \[(\d+)\] start (.+)", line) for line in log.splitlines()
              if "] start " in line]  # fmt: skip
    assert len(starts) == len({m[2] for m in starts}) == 9  # each task started once
    assert {int(m[1]) for m in starts} == set(pids) and len(set(pids)) == 2  # both did work
    assert _outputs(tmp_path) == EXPECTED_OUTPUTS


def test_a_running_task_keeps_its_heartbeat_fresh_however_long_a_step(night, monkeypatch):
    from vidstyle.jobs import ledger as ledger_module

    monkeypatch.setattr(ledger_module, "HEARTBEAT_SECONDS", 0.05)
    beats, two_beats = [], threading.Event()
    beat = ledger_module._beat

    def counted(db, keys, pid):
        beat(db, keys, pid)
        beats.append(keys)
        if len(beats) == 2:
            two_beats.set()

    monkeypatch.setattr(ledger_module, "_beat", counted)
    path = night.with_name("night.vidstyle-run") / "ledger.sqlite"
    batch.run(night, deadline=time.time() + 0.001, engine_factory=tiny_engine)  # plan only
    ledger = Ledger(path)
    key = ledger.claim()
    (first,) = [r.heartbeat for r in ledger.rows() if r.key == key]
    with ledger.beating(key):
        assert two_beats.wait(timeout=60)  # one long step: no progress call in between
        (later,) = [r.heartbeat for r in ledger.rows() if r.key == key]
    ledger.close()
    assert beats[:2] == [(key,), (key,)] and later > first


def test_same_size_images_of_a_job_run_together_up_to_the_group_size(tmp_path):
    night = make_night(tmp_path)
    for name in ("c.jpg", "d.jpg", "e.jpg"):  # a.jpg's size: 40x30, 32x24 to work at
        shutil.copy(tmp_path / "photos" / "a.jpg", tmp_path / "photos" / name)
    night.write_text(night.read_text().replace("style_weight = [1e-2, 1e-1]", ""))
    shapes = []

    def spying(method):
        engine = tiny_engine(method)
        stylize = engine.stylize
        engine.stylize = lambda content, *a, **k: (
            shapes.append(content.shape) or stylize(content, *a, **k)
        )
        return engine

    with pytest.raises(UsageError, match="batch"):
        batch.run(night, engine_factory=spying, settings=RunConfig(batch=0))
    result = batch.run(night, engine_factory=spying, settings=RunConfig(batch=3))
    assert (result.done, result.failed) == (11, 0)  # 5 photos x 2 styles, and the clip
    images = sorted(s for s in shapes if len(s) == 4)  # not the clip's frames, one by one
    assert images == [(1, 24, 32, 3)] * 2 + [(1, 32, 21, 3)] * 2 + [(3, 24, 32, 3)] * 2
    rows = [r for r in _rows(night) if r.kind == "image"]
    assert all((r.status, r.attempts) == ("done", 1) for r in rows) and len(rows) == 10


def test_a_sticky_gpu_fault_stops_the_run_in_process_and_the_next_run_goes_on(tmp_path):
    import tensorflow as tf

    from vidstyle.jobs.recorder import GPU_FAULT

    night = make_night(tmp_path)  # two photos, one style: a.jpg's task runs first
    night.write_text('[[job]]\nname = "two"\ninput = "photos"\nstyles = ["styles/starry.jpg"]\n'
                     'steps = 2\nmax_size = 32\noutput = "styled/{path}"\n')  # fmt: skip
    fault = [tf.errors.InternalError(None, None, "CUDA_ERROR_ILLEGAL_ADDRESS: illegal address")]
    started = []

    def engine(method):  # the first image meets a sticky CUDA fault (none after it, here)
        built = tiny_engine(method)
        stylize = built.stylize

        def faulty(content, *args, **kwargs):
            started.append(content.shape)
            if fault:
                raise fault.pop()
            return stylize(content, *args, **kwargs)

        built.stylize = faulty
        return built

    first = batch.run(night, engine_factory=engine)
    assert (first.done, first.failed, first.stopped_by) == (0, 0, GPU_FAULT)
    assert len(started) == 1  # the second photo was not tried on the broken context
    rows = {Path(r.source).name: (r.status, r.attempts) for r in _rows(night)}
    assert rows == {"a.jpg": ("pending", 1), "b b.png": ("pending", 0)}  # a.jpg retryable
    log = (tmp_path / "night.vidstyle-run" / "run.log").read_text()
    assert f"run ended: 0 done, 0 failed, stopped by {GPU_FAULT}" in log
    second = batch.run(night, engine_factory=engine)
    assert (second.done, second.failed, second.stopped_by) == (2, 0, None)
    assert [(r.status, r.attempts) for r in _rows(night)] == [("done", 2), ("done", 1)]
