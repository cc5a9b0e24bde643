"""The ledger on its own: claims, abandoned tasks, attempts, and what the plan holds."""

import time
from pathlib import Path

from vidstyle.jobs.ledger import STALE_SECONDS, Ledger
from vidstyle.jobs.plan import Task


def _tasks(n: int) -> list[Task]:
    return [
        Task(
            key=f"k{i}",
            job="job",
            kind="image",
            source=Path(f"in{i}.png"),
            style=Path("style.png"),
            output=Path(f"out{i}.png"),
            steps=10,
            pixels=100,
            position=i,
        )  # fmt: skip
        for i in range(n)
    ]


def _abandon(ledger: Ledger, key: str, pid: int | None = None, age: float = 0.0) -> None:
    """Make a running task look like another process's: a pid that does not exist, or an old
    heartbeat."""
    ledger.db.execute("UPDATE tasks SET pid = ?, heartbeat = ? WHERE key = ?",
                      (pid, time.time() - age, key))  # fmt: skip


def test_claims_go_in_plan_order_and_each_task_once(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    assert ledger.sync(_tasks(3)) == 3 and ledger.sync(_tasks(3)) == 0
    assert [ledger.claim(), ledger.claim(), ledger.claim(), ledger.claim()] == [
        "k0",
        "k1",
        "k2",
        None,
    ]
    assert ledger.claim(keys={"k0"}) is None


def test_a_task_of_a_dead_process_is_redone_then_failed_after_max_attempts(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite", max_attempts=2)
    ledger.sync(_tasks(1))
    assert ledger.claim() == "k0"
    _abandon(ledger, "k0", pid=2**22 + 12345)  # no such process
    assert ledger.claim() == "k0"  # recovered: pending again, and claimed: attempt 2
    assert ledger.rows()[0].attempts == 2 and ledger.recovered
    _abandon(ledger, "k0", age=STALE_SECONDS + 1)  # silent for too long, wherever it runs
    assert ledger.claim() is None
    (row,) = ledger.rows()
    assert row.status == "failed" and "stopped without finishing, 2 attempts" in row.error


def test_a_live_process_keeps_its_task(tmp_path):
    first = Ledger(tmp_path / "l.sqlite")
    first.sync(_tasks(1))
    assert first.claim() == "k0"
    second = Ledger(tmp_path / "l.sqlite")  # this process too: alive, fresh heartbeat
    assert second.claim() is None and second.rows()[0].status == "running"


def test_tasks_left_out_of_the_plan_are_kept_but_not_run(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.sync(_tasks(3))
    ledger.sync(_tasks(2))
    assert len(ledger.rows()) == 2 and len(ledger.rows(plan_only=False)) == 3
    assert ledger.count("pending") == 2


def test_a_stopped_task_does_not_count_its_attempt(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.sync(_tasks(1))
    ledger.claim()
    ledger.release("k0", 1.5, "deadline")
    (row,) = ledger.rows()
    assert (row.status, row.attempts, row.seconds) == ("pending", 0, 1.5)
    (attempt,) = ledger.history("k0")  # the history says why it stopped
    assert (attempt.outcome, attempt.reason) == ("stopped", "deadline")
