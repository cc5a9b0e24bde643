"""The controls of the queue: tasks named by the user, put back to pending (``retry``) or set
aside (``cancel``), and each task's history of attempts, read from the ledger.

Rules:

- **retry** puts failed tasks back to ``pending`` with a fresh attempt count (0), their error
  cleared and their history kept: every failed task when none is named, or the named ones, or
  those of one job. A named (or ``--job``) cancelled task is put back too, unless only failed
  ones are asked for (``--failed``). A task left ``running`` by a dead process is recovered
  first (so the second kill -9 of a clip is retried at once). A clip resumes from the frames
  finished in its work folder; an image starts over.
- **cancel** sets pending or failed tasks to ``cancelled``: every run skips them until they are
  retried. A running task is not cancelled (its run would overwrite it): stop that run first.

A task is named by its id (the ledger's key, or a unique prefix of 6 or more of its characters),
its output path (as given, or relative to the job file's folder), or its name as ``run.log``
and status write it (``job: input ~ style (variant)``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from vidstyle.errors import UsageError
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.rows import Row

ID_PREFIX = 6  # the shortest prefix of a task's key that names it


@dataclass(frozen=True)
class Attempt:
    """One attempt of a task, from the ledger's history."""

    host: str | None
    pid: int | None
    worker: str | None
    started: float | None
    ended: float | None
    outcome: str  # running, done, failed, retry (failed, tried again), lost (process died),
    # stopped (signal, deadline), reset (put back by retry)
    reason: str | None


def label(row: Row) -> str:
    """A task's name as ``run.log`` writes it: ``job: input ~ style (variant)``."""
    styles = "+".join(Path(p).stem for p in row.style.splitlines())
    variant = f" ({row.variant})" if row.variant else ""
    return f"{row.job}: {Path(row.source).name} ~ {styles}{variant}"


def find(rows: list[Row], names: list[str], job_file: Path) -> list[Row]:
    """The rows the user named (see the module's docstring; output paths relative to
    ``job_file``'s folder), in the order named.

    Raises:
        UsageError: for a name that matches no task, or several.
    """
    found = []
    for name in names:
        matches = [r for r in rows if _names(r, name, job_file.parent)]
        if len(matches) != 1:
            why = "no task" if not matches else f"{len(matches)} tasks"
            raise UsageError(job_file, f"{why} named {name!r}",
                             hint="give an id from `vidstyle batch status --json`")  # fmt: skip
        found.append(matches[0])
    return found


def _names(row: Row, name: str, base: Path) -> bool:
    if len(name) >= ID_PREFIX and row.key.startswith(name):
        return True
    output = Path(name) if Path(name).is_absolute() else base / name
    return output == Path(row.output) or name == label(row)


def retry(ledger: Ledger, rows: list[Row], failed_only: bool = False) -> list[Row]:
    """Put ``rows`` that are failed (or cancelled, unless ``failed_only``) back to pending with
    a fresh attempt count. Returns the rows put back."""
    wanted = ("failed",) if failed_only else ("failed", "cancelled")
    back = []
    with ledger.transaction():
        for row in rows:
            changed = ledger.db.execute(
                "UPDATE tasks SET status = 'pending', attempts = 0, error = NULL, pid = NULL"
                f" WHERE key = ? AND status IN ({','.join('?' * len(wanted))})",
                (row.key, *wanted),
            ).rowcount
            if changed:
                _note(ledger, row.key, "reset", f"retried by hand (was {row.status})")
                back.append(row)
    return back


def cancel(ledger: Ledger, rows: list[Row]) -> list[Row]:
    """Set ``rows`` that are pending or failed to cancelled. Returns the rows cancelled."""
    out = []
    with ledger.transaction():
        for row in rows:
            changed = ledger.db.execute(
                "UPDATE tasks SET status = 'cancelled' WHERE key = ?"
                " AND status IN ('pending', 'failed')",
                (row.key,),
            ).rowcount
            if changed:
                _note(ledger, row.key, "cancelled", "cancelled by hand")
                out.append(row)
    return out


def recover(ledger: Ledger) -> None:
    """Find the tasks of dead processes now (see :meth:`Ledger.claim`): pending again, or failed
    after their last attempt. What was found is left in ``ledger.recovered``."""
    ledger.claim(keys=set())


def history(ledger: Ledger, key: str) -> list[Attempt]:
    """Every attempt of the task, oldest first."""
    query = ("SELECT host, pid, worker, started, ended, outcome, reason FROM attempts"
             " WHERE key = ? ORDER BY rowid")  # fmt: skip
    return [Attempt(*r) for r in ledger.db.execute(query, (key,))]


def reasons(ledger: Ledger) -> dict[str, list[tuple[float, str]]]:
    """Per task key: why its attempts did not end it (time, reason), oldest first."""
    out: dict[str, list[tuple[float, str]]] = {}
    query = ("SELECT key, COALESCE(ended, started), reason FROM attempts"
             " WHERE reason IS NOT NULL AND outcome != 'done' ORDER BY rowid")  # fmt: skip
    for key, when, reason in ledger.db.execute(query):
        out.setdefault(key, []).append((when or 0.0, reason))
    return out


def _note(ledger: Ledger, key: str, outcome: str, reason: str) -> None:
    """An event of the task by hand (retry, cancel) in its history, at this moment."""
    now = time.time()
    ledger.db.execute(
        "INSERT INTO attempts (key, host, pid, started, ended, outcome, reason)"
        " VALUES (?,?,?,?,?,?,?)",
        (key, ledger.host, ledger.pid, now, now, outcome, reason),
    )
