"""Runners sharing one ledger under stress (issue 23): several processes opening a new ledger at
the same moment, claiming and finishing many small tasks at once, and writing the run folder
(``run.log``, ``report.html``, thumbnails) side by side. A runner that meets another's lock waits
or retries: none exits 1, none runs a task twice."""

import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import textured
from gate import Gate, run_held
from nightmaker import ledger_rows, make_night
from PIL import Image

from vidstyle.jobs import store
from vidstyle.jobs.ledger import Ledger

TESTS = Path(__file__).resolve().parents[1]
PATHS = [str(TESTS), str(TESTS / "jobs")]


def test_a_runner_opening_a_new_ledger_waits_for_one_that_holds_it(tmp_path, monkeypatch):
    """The race of issue 23, made certain: another connection holds the write lock of a new ledger
    file while this runner turns it to WAL. SQLite answers "database is locked" at once there
    (busy timeout or not); the ledger tries again, and gets in when the lock is let go."""
    path = tmp_path / "ledger.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # what a second runner's WAL switch holds for a moment
    pauses = []

    def pause(seconds: float) -> None:
        if not pauses:
            holder.execute("COMMIT")  # the other runner is done: let go after the first refusal
        pauses.append(seconds)

    monkeypatch.setattr(store, "_pause", pause)
    ledger = Ledger(path)
    assert pauses and all(0 < s <= 0.075 for s in pauses)
    assert ledger.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    ledger.close()
    holder.close()


def test_a_runner_gives_up_on_a_lock_held_past_the_busy_time(tmp_path, monkeypatch):
    """Waiting has an end: a lock held for longer than BUSY_SECONDS is an error, not a hang."""
    monkeypatch.setattr(store, "BUSY_SECONDS", 0.2)
    path = tmp_path / "ledger.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        Ledger(path)
    holder.execute("COMMIT")
    holder.close()


def test_claims_from_threads_with_their_own_connections_are_each_taken_once(tmp_path):
    """Four connections claiming and finishing together (one process): every task once."""
    first = Ledger(tmp_path / "ledger.sqlite")
    first.sync(_tasks(40))
    first.close()
    taken: list[str] = []
    start = threading.Barrier(4)

    def runner() -> None:
        ledger = Ledger(tmp_path / "ledger.sqlite")
        start.wait()
        while (key := ledger.claim()) is not None:
            taken.append(key)
            ledger.finish(key, 0.0)
        ledger.close()

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(f"k{i}" for i in range(40))


LEDGER_RUNNER = """
import os, sys
sys.path[:0] = {paths!r}
from pathlib import Path
from gate import wait_at
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.plan import Task

tasks = [Task(key=f"k{{i}}", job="job", kind="image", source=Path(f"in{{i}}.png"),
              style=Path("style.png"), output=Path(f"out{{i}}.png"), steps=1, pixels=1,
              position=i) for i in range({tasks})]

for folder in {folders!r}:
    wait_at({gate!r})  # every runner here: all open the new ledger at the same moment
    ledger = Ledger(Path(folder) / "ledger.sqlite")
    ledger.sync(tasks)
    while (key := ledger.claim()) is not None:
        ledger.finish(key, 0.0, {{"pid": os.getpid()}})
    ledger.close()
"""


def test_three_runners_open_new_ledgers_at_the_same_moment_round_after_round(tmp_path):
    """50 new ledgers, each opened by three processes let go at once (the race that lost a
    runner in issue 23 came 1 to 2 times in 100 such openings by two processes)."""
    rounds, tasks, count = 50, 6, 3
    folders = [str(tmp_path / f"run{r}") for r in range(rounds)]
    gate = Gate(count)
    try:
        script = LEDGER_RUNNER.format(paths=PATHS, folders=folders, gate=gate.path, tasks=tasks)
        arrivals = run_held([script] * count, gate, opens=rounds)
    finally:
        gate.close()
    pids = set(arrivals[0])
    assert len(pids) == count and all(set(a) == pids for a in arrivals)
    for folder in folders:
        ledger = Ledger(Path(folder) / "ledger.sqlite")
        rows = ledger.rows()
        ledger.close()
        assert [(r.status, r.attempts) for r in rows] == [("done", 1)] * tasks  # once each
        assert {r.detail["pid"] for r in rows} <= pids


BATCH_RUNNER = """
import sys
sys.path[:0] = {paths!r}
from gate import wait_at
from tinyvgg import tiny_engine
from vidstyle import batch

held = []


def engine(method):
    if not held:  # this runner's first task is claimed: held until every runner has one
        wait_at({gate!r})
        held.append(method)
    return tiny_engine(method)


wait_at({gate!r})  # every runner up: they open the new run folder at the same moment
result = batch.run({night!r}, engine_factory=engine)
sys.exit(0 if result.failed == 0 else 4)
"""


STRESS_NIGHT = """
[defaults]
max_size = 24
steps = 1
output = "styled/{job}/{path}"

[[job]]
name = "many"
input = "photos"
styles = ["styles/starry.jpg"]
"""


def test_three_runners_share_a_night_of_many_small_tasks(tmp_path):
    """Three runners with the tiny engine on 24 one-step tasks that end at nearly the same
    moments: all exit 0, each task runs once, each runner runs some, and the run folder (log,
    report, thumbnails made by all three) is whole."""
    make_night(tmp_path)
    photos = tmp_path / "photos"
    for path in list(photos.iterdir()):
        path.unlink()
    for i in range(24):
        Image.fromarray(textured(24, 32, seed=i)).save(photos / f"p{i:02}.png")
    night = tmp_path / "stress.toml"
    night.write_text(STRESS_NIGHT)
    gate = Gate(3)
    try:
        script = BATCH_RUNNER.format(paths=PATHS, gate=gate.path, night=str(night))
        started, working = run_held([script] * 3, gate, opens=2)
    finally:
        gate.close()
    rows = ledger_rows(night)
    assert [(r.status, r.attempts) for r in rows] == [("done", 1)] * 24
    run_dir = tmp_path / "stress.vidstyle-run"
    starts = _start_pids(run_dir / "run.log")
    assert len(starts) == 24  # each task started once (_start_pids refuses a second)
    assert set(starts.values()) == set(working) == set(started)  # each of the three ran some
    outputs = sorted(p.name for p in (tmp_path / "styled" / "many").iterdir())
    assert outputs == [f"p{i:02}.png" for i in range(24)]
    page = (run_dir / "report.html").read_text()
    # Whole and the last state: the rows are read under the page's lock (before it, 1 run in 30
    # showed 23 of 24 done: an older read renamed into place last).
    assert page.endswith("</html>") and page.count("<span class='status done'>done</span>") == 24
    assert not [p for p in run_dir.rglob("*") if "vidstyle-tmp" in p.name]


def _start_pids(log: Path) -> dict[str, int]:
    """Each ``start`` line of a run.log: the task it names, and the pid of the runner."""
    starts: dict[str, int] = {}
    for line in log.read_text().splitlines():
        stamp, _, text = line.partition("] ")
        if text.startswith("start "):
            task = text[len("start ") :]
            assert task not in starts, f"started twice: {task}"
            starts[task] = int(stamp.rsplit("[", 1)[1])
    return starts


def _tasks(n: int):
    """``n`` small image tasks named k0, k1, ... (they are never run, only claimed)."""
    from vidstyle.jobs.plan import Task

    return [Task(key=f"k{i}", job="job", kind="image", source=Path(f"in{i}.png"),
                 style=Path("style.png"), output=Path(f"out{i}.png"), steps=1, pixels=1,
                 position=i)
            for i in range(n)]  # fmt: skip


def test_the_report_reads_the_rows_under_its_lock(tmp_path):
    """Two runners rewriting ``report.html``: the rows are read while the page's lock is held,
    so the page renamed into place last is built from the latest read."""
    import fcntl

    from vidstyle.jobs.report import write_report

    held = []

    def rows():
        with (tmp_path / ".report.lock").open("a") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(False)  # nobody held it: the rows were read outside the lock
            except BlockingIOError:
                held.append(True)
        return []

    page = write_report(tmp_path, rows, "night")
    assert held == [True]
    assert page.read_text().endswith("</html>")
