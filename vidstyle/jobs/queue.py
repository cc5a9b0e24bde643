"""The controls of the queue, ``vidstyle batch retry`` and ``cancel``: tasks named by the user in
a job file's ledger, put back to pending (``retry``) or set aside (``cancel``), each change in
the task's history and in ``run.log``.

Rules:

- **retry** puts failed tasks back to ``pending`` with a fresh attempt count (0), their error
  cleared and their history kept: every failed task when none is named, or the named ones, or
  those of one job. A named (or ``--job``) cancelled task is put back too, unless only failed
  ones are asked for (``--failed``). A task left ``running`` by a dead process is recovered
  first (so the second kill -9 of a clip is retried at once). A clip resumes from the frames
  finished in its work folder; an image starts over.
- **cancel** sets pending or failed tasks to ``cancelled``: every run skips them until they are
  retried. A running task is not cancelled (its run would overwrite it): stop that run first.

A task is named by its id (the ledger's key, or a unique prefix of :data:`ID_PREFIX` or more of
its characters), its output path (as given, or relative to the job file's folder), or its name as
``run.log`` and status write it (``job: input ~ style (variant)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vidstyle.errors import UsageError
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.plan import Plan, load_plan
from vidstyle.jobs.recorder import Recorder
from vidstyle.jobs.rows import Row
from vidstyle.jobs.runlog import RunLog
from vidstyle.progress import NullReporter

ID_PREFIX = 6  # the shortest prefix of a task's key that names it


@dataclass
class Changed:
    """What a control did: the tasks changed, and those named that were left as they were
    (with their status)."""

    changed: list[str] = field(default_factory=list)  # task names
    left: list[tuple[str, str]] = field(default_factory=list)  # (task name, its status)
    recovered: list[str] = field(default_factory=list)  # tasks of dead processes found first


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
    return output == Path(row.output) or name == row.label


def retry(plan: Plan | str | Path, names: list[str] = (), job: str | None = None,
          failed_only: bool = False) -> Changed:  # fmt: skip
    """Put failed tasks back to pending with a fresh attempt count: every failed one when none
    is named (``names``) and no ``job`` is given, else the named ones, or those of ``job``.

    Args:
        plan: the job file's plan (:func:`vidstyle.jobs.plan.load_plan`), or the job file.

    Raises:
        UsageError: for a bad job file, a run not started, a name matching no task or several,
            an unknown job.
    """
    plan, ledger, log = _open(plan)
    try:
        recorder = Recorder(ledger, plan.tasks, log, NullReporter())
        ledger.recover()  # a task of a dead process: failed now, if that was its last try
        recorder.recovered()
        done = Changed(recovered=recorder.result.recoveries)
        rows = ledger.rows()
        if job is not None and job not in {r.job for r in rows}:
            raise UsageError(plan.path, f"no job named {job!r}")
        chosen = find(rows, list(names), plan.path) if names else [
            r for r in rows if job in (None, r.job) and r.status == "failed"
            or (job is not None and r.job == job and r.status == "cancelled" and not failed_only)
        ]  # fmt: skip
        wanted = ("failed",) if failed_only else ("failed", "cancelled")

        def change(row: Row) -> str | None:
            if not ledger.reset(row.key, wanted, f"retried by hand (was {row.status})"):
                return None
            why = f": {row.error}" if row.error else ""
            return f"retry {row.label} by hand (was {row.status}{why}); attempts reset"

        return _sort(ledger, chosen, change, log, done)
    finally:
        ledger.close()
        log.close()


def cancel(plan: Plan | str | Path, names: list[str]) -> Changed:
    """Cancel the named tasks (pending or failed): every run skips them until retried.

    Args:
        plan: the job file's plan, or the job file.

    Raises:
        UsageError: for a bad job file, a run not started, a name matching no task or several.
    """
    plan, ledger, log = _open(plan)
    try:
        chosen = find(ledger.rows(), list(names), plan.path)

        def change(row: Row) -> str | None:
            if not ledger.cancel(row.key):
                return None
            return f"cancel {row.label} by hand (was {row.status})"

        return _sort(ledger, chosen, change, log, Changed())
    finally:
        ledger.close()
        log.close()


def _sort(ledger: Ledger, chosen: list[Row], change: Callable[[Row], str | None], log,
          done: Changed) -> Changed:  # fmt: skip
    """``done`` with the ``chosen`` rows changed (``change`` returns the line to log, None when
    it left the row as it was), in one transaction, and sorted into changed and left (with
    their status)."""
    with ledger.transaction():
        lines = [(row, change(row)) for row in chosen]
    for row, line in lines:
        if line is None:
            done.left.append((row.label, row.status))
        else:
            done.changed.append(row.label)
            log(line)
    return done


def _open(plan: Plan | str | Path) -> tuple[Plan, Ledger, RunLog]:
    """The plan, its ledger (synced with the plan: a new task can be cancelled before it runs)
    and its run.log.

    Raises:
        UsageError: for a bad job file, or a run that has not started (no ledger).
    """
    plan = plan if isinstance(plan, Plan) else load_plan(plan)
    if not plan.ledger_path.is_file():
        raise UsageError(plan.path, "no run yet: nothing to retry or cancel",
                         hint="start it with `vidstyle batch run`")  # fmt: skip
    ledger = Ledger(plan.ledger_path)
    ledger.sync(plan.tasks)
    return plan, ledger, RunLog(plan.log_path)
