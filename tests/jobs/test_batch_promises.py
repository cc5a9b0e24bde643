"""The README's batch promises, through the command line only (``vidstyle batch ...`` with
CliRunner and the tiny random-weight engine): the queue controls by id and by ``run.log`` name,
priority from a job file and its ``[defaults]``, the whole ``status --json`` schema and
``sequence = true``."""

import json

import pytest
from conftest import shared_tiny_engine, textured
from PIL import Image
from typer.testing import CliRunner

from vidstyle._cli import app

runner = CliRunner()

NIGHT = """
[defaults]
steps = 2
priority = 2
output = "out/{job}/{path}"

[[job]]
name = "first"
input = "a"
styles = ["styles/s.png"]
priority = 0

[[job]]
name = "second"
input = "b"
styles = ["styles/s.png"]
"""
TASK_FIELDS = {"id", "job", "name", "kind", "input", "style", "variant", "output", "status",
               "attempts", "seconds", "estimate_left", "frames_done", "frames", "priority",
               "last_error", "reasons", "host", "pid", "heartbeat_age", "stopped_why"}  # fmt: skip
STATUSES = ["done", "running", "stopped", "pending", "failed", "cancelled"]


def batch(*args):
    return runner.invoke(app, ["batch", *[str(a) for a in args]])


def status(night, *args) -> dict:
    result = batch("status", night, "--json", *args)
    return json.loads(result.output) | {"exit": result.exit_code}


def run_night(root):
    """A night of two jobs under ``root``, run once: ``first`` (priority 0 of its own) with one
    photo, and ``second`` (the ``[defaults]``' priority 2) with a photo and a file that is no
    image (its task fails). Returns the job file."""
    for folder in ("a", "b", "styles"):
        (root / folder).mkdir()
    Image.fromarray(textured(20, 20, seed=1)).save(root / "a" / "one.png")
    Image.fromarray(textured(20, 20, seed=2)).save(root / "b" / "two.png")
    (root / "b" / "bad.png").write_bytes(b"not a png")
    Image.fromarray(textured(20, 20, seed=3)).save(root / "styles" / "s.png")
    night = root / "night.toml"
    night.write_text(NIGHT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("vidstyle.batch.default_engine_factory", lambda weights: shared_tiny_engine)
        result = batch("run", night, "--quiet")
    assert result.exit_code == 1, result.output  # the bad file failed
    return night


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    return run_night(tmp_path_factory.mktemp("night"))


def test_priority_from_a_job_and_from_defaults_orders_a_real_run(ran):
    """``second`` (2, from [defaults]) is claimed before ``first`` (0, its own), against the
    file's order; ties (``second``'s two tasks) keep the folder's order."""
    log = (ran.parent / "night.vidstyle-run" / "run.log").read_text().splitlines()
    started = [line.split(" start ")[1].split(":")[0:2] for line in log if " start " in line]
    assert [" ".join(s).split(" ~")[0] for s in started] == [
        "second  bad.png", "second  two.png", "first  one.png"]  # fmt: skip


def test_status_json_has_every_field_and_a_task_its_history(ran):
    data = status(ran)
    assert set(data) == {"schema", "job_file", "started", "exit_code", "counts", "jobs", "tasks",
                         "exit"}  # fmt: skip
    assert (data["schema"], data["started"], data["exit_code"], data["exit"]) == (1, True, 1, 1)
    assert data["job_file"] == str(ran.resolve())
    assert list(data["counts"]) == STATUSES
    assert data["counts"] == dict.fromkeys(STATUSES, 0) | {"done": 2, "failed": 1}
    for job in data["jobs"]:
        assert set(job) == {"job", "counts", "seconds", "estimate_left"}
        assert list(job["counts"]) == STATUSES
    tasks = {t["name"]: t for t in data["tasks"]}
    assert set(tasks) == {"first: one.png ~ s", "second: two.png ~ s", "second: bad.png ~ s"}
    assert all(set(t) == TASK_FIELDS for t in tasks.values())
    bad = tasks["second: bad.png ~ s"]
    assert (bad["status"], bad["kind"], bad["priority"], bad["attempts"]) == (
        "failed",
        "image",
        2,
        1,
    )
    assert "cannot decode image" in bad["last_error"] and len(bad["reasons"]) == 1
    assert set(bad["reasons"][0]) == {"time", "reason"}
    one = tasks["first: one.png ~ s"]
    assert one["priority"] == 0 and one["output"] == str(ran.parent / "out/first/one.png")
    assert one["style"] == [str(ran.parent / "styles/s.png")] and one["seconds"] > 0
    alone = status(ran, "--task", one["id"][:6])
    assert {k: v for k, v in alone.items() if k not in ("history", "exit")} == one
    (attempt,) = alone["history"]
    assert set(attempt) == {"host", "pid", "worker", "started", "ended", "outcome", "reason"}
    assert attempt["outcome"] == "done" and attempt["ended"] >= attempt["started"] > 0
    assert isinstance(attempt["pid"], int) and attempt["reason"] is None


def test_cancel_and_retry_by_id_and_by_run_log_name(tmp_path):
    """cancel by the name run.log writes; ``retry --failed`` (by id, by name, by job or all)
    leaves it cancelled; retry by id brings it back; cancel by a 6-character id; ``retry --job``
    brings cancelled ones back too; a done task named is left done."""
    night = run_night(tmp_path)  # its own ledger: the controls change it
    bad_name = "second: bad.png ~ s"
    bad_id = next(t["id"] for t in status(night)["tasks"] if t["name"] == bad_name)

    def state():
        data = status(night)
        return next(t["status"] for t in data["tasks"] if t["id"] == bad_id), data["exit"]

    assert batch("cancel", night, bad_name).exit_code == 0
    assert state() == ("cancelled", 0)  # cancelled tasks are no work left: all the rest is done
    for named in ([bad_id], [bad_name], ["--job", "second"], []):  # --failed: cancelled stay
        assert batch("retry", night, "--failed", *named).exit_code == 0
        assert state() == ("cancelled", 0), named
    assert batch("retry", night, bad_id).exit_code == 0
    assert state() == ("pending", 3)
    assert batch("cancel", night, bad_id[:6]).exit_code == 0
    assert state() == ("cancelled", 0)
    assert batch("retry", night, "--job", "second").exit_code == 0
    assert state() == ("pending", 3)
    done = next(t for t in status(night)["tasks"] if t["name"] == "second: two.png ~ s")
    assert batch("retry", night, "second: two.png ~ s").exit_code == 0
    after = next(t for t in status(night)["tasks"] if t["id"] == done["id"])
    assert after["status"] == "done"  # retry puts failed (and cancelled) tasks back, not done ones


def test_sequence_true_takes_a_folder_of_frames_as_one_clip(tmp_path, monkeypatch):
    monkeypatch.setattr("vidstyle.batch.default_engine_factory", lambda weights: shared_tiny_engine)
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in (1, 2, 10):  # natural order: frame2 before frame10
        Image.fromarray(textured(24, 32, seed=index)).save(frames / f"frame{index}.png")
    Image.fromarray(textured(20, 20, seed=3)).save(tmp_path / "s.png")
    night = tmp_path / "night.toml"
    night.write_text('[[job]]\nname = "seq"\ninput = "frames"\nstyles = ["s.png"]\nsteps = 2\n'
                     'steps_next = 1\nsequence = true\noutput = "out/{path}"\n')  # fmt: skip
    result = batch("run", night, "--quiet")
    assert result.exit_code == 0, result.output
    (task,) = status(night)["tasks"]
    assert (task["kind"], task["frames"], task["frames_done"]) == ("video", 3, 3)
    assert task["output"] == str(tmp_path / "out" / "frames")  # a sequence gives numbered PNGs
    assert sorted(p.name for p in (tmp_path / "out" / "frames").iterdir()) == [
        "000001.png", "000002.png", "000003.png"]  # fmt: skip


@pytest.mark.parametrize("age, shown", [(700, "stopped"), (5, "running")])
def test_a_task_of_another_host_is_stopped_once_its_heartbeat_is_stale(ran, age, shown):
    """Another host's task (its pid means nothing here) is known dead only by its heartbeat:
    older than 600 s shows as stopped, with why; a fresh one as running. The ledger is written
    as that host's runner would (its SQLite columns, the file format)."""
    import sqlite3
    import time

    data = status(ran)
    task = next(t for t in data["tasks"] if t["name"] == "first: one.png ~ s")
    db = sqlite3.connect(ran.parent / "night.vidstyle-run" / "ledger.sqlite")
    with db:
        db.execute("UPDATE tasks SET status = 'running', host = 'farm1', pid = 4242,"
                   " heartbeat = ? WHERE key = ?", (time.time() - age, task["id"]))  # fmt: skip
    db.close()
    data = status(ran)
    row = next(t for t in data["tasks"] if t["id"] == task["id"])
    assert (row["status"], row["host"], data["counts"][shown]) == (shown, "farm1", 1)
    if shown == "stopped":
        assert row["stopped_why"] == "no heartbeat from farm1 for 700 s (over 600)"
    else:
        assert row["stopped_why"] is None and row["pid"] == 4242
