"""The queue's controls and truths (issue 20): a deadline judged by a clip's frames left, retry
after two kill -9s, status after a kill and after an edit, reasons in the JSON, cancel, priority,
per-task history, and an old ledger opened (tiny random-weight engine)."""

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
from held import Gate, vidstyle
from ledgerseed import seed_speed
from nightmaker import ledger_rows, make_night
from tinyvgg import tiny_engine
from typer.testing import CliRunner

from vidstyle import batch
from vidstyle._cli import app
from vidstyle.jobs import stop as stop_module
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.plan import Task
from vidstyle.jobs.status import status

runner = CliRunner()
_check_deadline = stop_module.StopFlag.check_deadline  # the real one (tests patch it)
CLIP_ONLY = """
[defaults]
max_size = 32
steps = 4

[[job]]
name = "beach"
input = "clips/beach.mp4"
styles = ["styles/starry.jpg"]
steps_next = 2
"""
ONE_IMAGE = """
[[job]]
name = "{name}"
input = "photos/{image}"
styles = ["styles/starry.jpg"]
max_size = 32
steps = 4
"""


def _clip_night(tmp_path, frames=4):
    night = make_night(tmp_path, frames=frames)
    night.write_text(CLIP_ONLY)
    return night


def _log(night):
    return (night.parent / "night.vidstyle-run" / "run.log").read_text()


def _frames_until_deadline(monkeypatch, frames):
    """The deadline passes as the clip's frame number ``frames + 1`` (of this run) would start."""
    check, seen = _check_deadline, []

    def deadline_after(self):
        seen.append(1)
        if len(seen) > frames:
            self.deadline = time.time() - 1
        check(self)

    monkeypatch.setattr(stop_module.StopFlag, "check_deadline", deadline_after)


def test_a_partly_done_clip_is_judged_by_its_frames_left_and_starts_when_nothing_fits(
    tmp_path, monkeypatch
):
    night = _clip_night(tmp_path)
    _frames_until_deadline(monkeypatch, 2)
    first = batch.run(night, deadline=time.time() + 3600, engine_factory=tiny_engine)
    assert first.stopped_by == "deadline"
    (clip,) = ledger_rows(night)
    assert (clip.status, clip.frames_done, clip.frames) == ("pending", 2, 4)
    # A measured speed at which the whole clip needs 2000 s: half of it is left (1000 s).
    seed_speed(night, 2000 / (clip.steps * clip.pixels))
    # 600 s: not even the frames left fit, but nothing else does and time remains: it starts,
    # and stops between frames at the deadline (here after one frame).
    _frames_until_deadline(monkeypatch, 1)
    second = batch.run(night, deadline=time.time() + 600, engine_factory=tiny_engine)
    assert (second.done, second.stopped_by) == (0, "deadline")
    assert ledger_rows(night)[0].frames_done == 3  # it went on
    # 1500 s: less than the whole clip's 2000 s, more than its last frame's share: it fits.
    monkeypatch.setattr(stop_module.StopFlag, "check_deadline", _check_deadline)
    third = batch.run(night, deadline=time.time() + 1500, engine_factory=tiny_engine)
    assert (third.done, third.stopped_by) == (1, None)
    log = _log(night)
    assert "resume beach: beach.mp4 ~ starry from frame 3 of 4 (2 finished frames kept)" in log
    assert "resume beach: beach.mp4 ~ starry from frame 4 of 4" in log


def _run(night, gate, wait=True):
    (night.parent / "unused.bin").write_bytes(b"")
    command = ["batch", "run", str(night), "--quiet", "--weights", "unused.bin"]
    process = vidstyle(command, gate, cwd=night.parent)
    if wait:
        process.wait(timeout=600)
    return process


def _kill_at(night, gate, allow, tickets):
    """Run until ``tickets`` engine calls started (``allow`` let through), then kill -9."""
    gate.allow(allow)
    process = _run(night, gate, wait=False)
    gate.wait_for_tickets(tickets, process)
    process.kill()
    process.wait()
    return process.pid


def test_two_kill_9s_then_retry_resumes_the_clip_from_its_finished_frames(tmp_path):
    night = _clip_night(tmp_path, frames=6)
    gate = Gate(tmp_path / "gate")
    pid = _kill_at(night, gate, allow=2, tickets=3)  # frames 1-2 done, the third held
    # status knows at once that the process is gone (defect 3)
    state = runner.invoke(app, ["batch", "status", str(night)])
    assert state.exit_code == 3 and f"process {pid} gone" in state.output, state.output
    assert "running:" not in state.output
    task = json.loads(runner.invoke(app, ["batch", "status", str(night), "--json"]).output)
    assert task["tasks"][0]["status"] == "stopped"
    _kill_at(night, gate, allow=4, tickets=5)  # the third frame done, the fourth held
    (clip,) = ledger_rows(night)
    assert (clip.status, clip.attempts, clip.frames_done) == ("running", 2, 3)
    # a plain rerun: the second death was the last attempt: failed, logged and counted
    rerun = runner.invoke(app, ["batch", "run", str(night), "--quiet"])
    assert rerun.exit_code == 1
    log = _log(night)
    assert "failed beach: beach.mp4 ~ starry: the process running it" in log
    assert "stopped without finishing, 2 attempts" in log and "run ended: 0 done, 1 failed" in log
    assert "2 attempts, 2 attempts" not in log  # the count said once
    assert "recovered: beach: beach.mp4 ~ starry" in rerun.output  # shown on the terminal
    again = runner.invoke(app, ["batch", "run", str(night), "--max-attempts", "3", "--quiet"])
    assert again.exit_code == 1  # still failed: a failure stays until retried
    retried = runner.invoke(app, ["batch", "retry", str(night), "--failed"])
    assert retried.exit_code == 0 and "1 task(s) retried" in retried.output, retried.output
    assert [(r.status, r.attempts) for r in ledger_rows(night)] == [("pending", 0)]
    before = gate.tickets()
    gate.allow(1000)
    final = _run(night, gate)
    assert final.returncode == 0, final.stderr.read()
    assert gate.tickets() - before == 3  # frames 4 to 6 only: three engine calls
    assert "resume beach: beach.mp4 ~ starry from frame 4 of 6" in _log(night)
    assert (tmp_path / "styled/beach/starry/beach.mp4").is_file()
    history = runner.invoke(app, ["batch", "status", str(night), "--task", clip.key[:8]])
    outcomes = re.findall(r"│ (lost|failed|reset|done|retry) ", history.output)
    assert outcomes == ["lost", "lost", "reset", "done"], history.output
    reasons = json.loads(runner.invoke(app, ["batch", "status", str(night), "--json"]).output)
    why = [r["reason"] for r in reasons["tasks"][0]["reasons"]]
    assert len(why) == 3 and all("stopped without finishing" in w for w in why[:2])


def test_status_plans_the_job_file_as_it_is_now(tmp_path):
    night = make_night(tmp_path)
    night.write_text(ONE_IMAGE.format(name="one", image="a.jpg"))
    assert batch.run(night, engine_factory=tiny_engine).done == 1
    assert status(night).exit_code == 0
    night.write_text(night.read_text() + ONE_IMAGE.format(name="two", image="b b.png"))
    result = runner.invoke(app, ["batch", "status", str(night), "--json"])
    data = json.loads(result.output)
    assert result.exit_code == 3 and data["counts"]["pending"] == 1 and data["counts"]["done"] == 1
    assert [(t["job"], t["status"]) for t in data["tasks"]] == [("one", "done"), ("two", "pending")]


def _failing_once(method):
    engine = tiny_engine(method)
    stylize, calls = engine.stylize, []

    def once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the GPU fell off the bus")
        return stylize(*args, **kwargs)

    engine.stylize = once
    return engine


def test_a_retry_carries_its_reason_and_time_into_the_json_and_the_history(tmp_path):
    night = make_night(tmp_path)
    night.write_text(ONE_IMAGE.format(name="one", image="a.jpg"))
    result = batch.run(night, engine_factory=_failing_once)
    assert (result.done, result.failed) == (1, 0)  # a retried attempt is not a failure
    result = runner.invoke(app, ["batch", "status", str(night), "--json"])
    (task,) = json.loads(result.output)["tasks"]
    assert (task["status"], task["attempts"]) == ("done", 2)
    (reason,) = task["reasons"]
    assert "internal error: RuntimeError: the GPU fell off the bus" in reason["reason"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", reason["time"])
    assert set(task) >= {"id", "status", "attempts", "seconds", "output", "last_error", "reasons"}
    shown = runner.invoke(app, ["batch", "status", str(night), "--task", task["id"][:6]])
    assert re.findall(r"│ (retry|done) ", shown.output) == ["retry", "done"], shown.output
    assert task["id"][:8] in shown.output


def test_a_cancelled_task_is_skipped_until_retried(tmp_path):
    night = make_night(tmp_path)
    night.write_text(ONE_IMAGE.format(name="one", image="a.jpg")
                     + ONE_IMAGE.format(name="two", image="b b.png"))  # fmt: skip
    batch.run(night, deadline=time.time() - 1, engine_factory=tiny_engine)  # the ledger, no work
    name = "styled/two/starry/b b.png"
    cancelled = runner.invoke(app, ["batch", "cancel", str(night), name])
    assert cancelled.exit_code == 0 and "cancelled: two: b b.png ~ starry" in cancelled.output
    assert batch.run(night, engine_factory=tiny_engine).done == 1
    assert batch.run(night, engine_factory=tiny_engine).done == 0  # still skipped
    state = runner.invoke(app, ["batch", "status", str(night)])
    assert state.exit_code == 0 and "cancelled: two: b b.png ~ starry" in state.output
    assert runner.invoke(app, ["batch", "retry", str(night), "--job", "two"]).exit_code == 0
    assert batch.run(night, engine_factory=tiny_engine).done == 1
    assert "cancel two: b b.png ~ starry by hand" in _log(night)
    unknown = runner.invoke(app, ["batch", "cancel", str(night), "nothing-like-it"])
    assert unknown.exit_code == 2
    assert f"{night}: no task named 'nothing-like-it'" in unknown.output.replace("\n", "")


def _task(key, priority, position):
    return Task(key=key, job="j", kind="image", source=Path(f"{key}.png"), style=Path("s.png"),
                output=Path(f"out-{key}.png"), steps=1, pixels=1, position=position,
                priority=priority)  # fmt: skip


def test_tasks_are_claimed_by_priority_then_in_the_plan_s_order(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.sync([_task("a", 0, 0), _task("b", 2, 1), _task("c", 0, 2), _task("d", 2, 3)])
    assert [ledger.claim() for _ in range(4)] == ["b", "d", "a", "c"]
    ledger.close()


def test_an_old_ledger_opens_and_is_migrated(tmp_path):
    path = tmp_path / "ledger.sqlite"
    old = sqlite3.connect(path)
    old.executescript("""CREATE TABLE tasks (key TEXT PRIMARY KEY, job TEXT NOT NULL, kind TEXT
        NOT NULL, source TEXT NOT NULL, style TEXT NOT NULL, output TEXT NOT NULL, variant TEXT
        NOT NULL, options TEXT NOT NULL, steps INTEGER NOT NULL, pixels INTEGER NOT NULL,
        position INTEGER NOT NULL, in_plan INTEGER NOT NULL DEFAULT 1, status TEXT NOT NULL
        DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, seconds REAL NOT NULL DEFAULT 0,
        error TEXT, host TEXT, pid INTEGER, heartbeat REAL, started REAL, finished REAL,
        detail TEXT);
        INSERT INTO tasks (key, job, kind, source, style, output, variant, options, steps,
        pixels, position, status, attempts) VALUES ('k', 'j', 'image', 'a.png', 's.png',
        'o.png', '', '{}', 4, 100, 0, 'failed', 2);""")
    old.commit()
    old.close()
    ledger = Ledger(path)
    (row,) = ledger.rows()
    assert (row.status, row.attempts, row.frames_done, row.priority) == ("failed", 2, 0, 0)
    ledger.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[defaults]\nsteps = 'many'\n" + ONE_IMAGE.format(name="one", image="a.jpg"),
         "[defaults]: key 'steps' must be an integer, got 'many'"),
        (ONE_IMAGE.format(name="one", image="a.jpg") + "priority = 'high'\n",
         "job 'one': key 'priority' must be an integer, got 'high'"),
    ],
)  # fmt: skip
def test_job_file_mistakes_name_where_they_are(tmp_path, text, expected):
    make_night(tmp_path).write_text(text)
    from vidstyle.errors import UsageError
    from vidstyle.jobs.jobfile import load

    with pytest.raises(UsageError) as caught:
        load(tmp_path / "night.toml")
    assert caught.value.message() == f"{tmp_path / 'night.toml'}: {expected}"


def test_a_folder_as_job_file_and_a_relative_path_are_named_absolutely(tmp_path, monkeypatch):
    from vidstyle.errors import UsageError
    from vidstyle.jobs.jobfile import load

    with pytest.raises(UsageError, match="is a folder, not a job file"):
        load(tmp_path)
    night = make_night(tmp_path)
    night.write_text(night.read_text().replace("max_size", "max_sise"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as caught:
        load("night.toml")
    assert str(caught.value.path) == str(night.resolve())
