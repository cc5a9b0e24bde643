"""``vidstyle batch retry`` and ``vidstyle batch cancel`` on a job file: the named tasks found in
its ledger, changed (see :mod:`vidstyle.jobs.queue` for the rules), and each change written to
``run.log``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vidstyle.errors import UsageError
from vidstyle.jobs import jobfile as jobfile_module
from vidstyle.jobs import queue
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.report import RunLog
from vidstyle.jobs.status import LEDGER_NAME


@dataclass
class Changed:
    """What a control did: the tasks changed, and those named that were left as they were
    (with their status)."""

    changed: list[str] = field(default_factory=list)  # task names
    left: list[tuple[str, str]] = field(default_factory=list)  # (task name, its status)
    recovered: list[str] = field(default_factory=list)  # tasks of dead processes found first


def retry(path: str | Path, names: list[str] = (), job: str | None = None,
          failed_only: bool = False) -> Changed:  # fmt: skip
    """Put failed tasks back to pending with a fresh attempt count: every failed one when none
    is named (``names``) and no ``job`` is given, else the named ones, or those of ``job``.

    Raises:
        UsageError: for a bad job file, a run not started, a name matching no task or several,
            an unknown job.
    """
    jobs, ledger, log = _open(path)
    try:
        queue.recover(ledger)  # a task of a dead process: failed now, if that was its last try
        rows = ledger.rows()
        labels = {r.key: queue.label(r) for r in rows}
        done = Changed()
        for found in ledger.recovered:
            name = labels.get(found.key, found.key)
            done.recovered.append(f"{name}: {found.reason}")
            log(f"recovered {name}: {found.reason} (attempt {found.attempts})")
            if found.failed:
                log(f"failed {name}: {found.reason}, {found.attempts} attempts")
        if job is not None and job not in {r.job for r in rows}:
            raise UsageError(jobs.path, f"no job named {job!r}")
        chosen = queue.find(rows, list(names), jobs.path) if names else [
            r for r in rows if job in (None, r.job) and r.status == "failed"
            or (job is not None and r.job == job and r.status == "cancelled" and not failed_only)
        ]  # fmt: skip
        back = queue.retry(ledger, chosen, failed_only)
        return _sort(chosen, back, done, log, lambda row: (
            f"retry {queue.label(row)} by hand (was {row.status}"
            + (f": {row.error}" if row.error else "") + "); attempts reset"))  # fmt: skip
    finally:
        ledger.close()
        log.close()


def cancel(path: str | Path, names: list[str]) -> Changed:
    """Cancel the named tasks (pending or failed): every run skips them until retried.

    Raises:
        UsageError: for a bad job file, a run not started, a name matching no task or several.
    """
    jobs, ledger, log = _open(path)
    try:
        chosen = queue.find(ledger.rows(), list(names), jobs.path)
        out = queue.cancel(ledger, chosen)
        return _sort(
            chosen,
            out,
            Changed(),
            log,
            lambda row: f"cancel {queue.label(row)} by hand (was {row.status})",
        )
    finally:
        ledger.close()
        log.close()


def _sort(chosen: list, changed: list, done: Changed, log, line) -> Changed:
    """``done`` with the ``chosen`` rows sorted into changed (each logged with ``line(row)``)
    and left as they were (with their status)."""
    keys = {r.key for r in changed}
    for row in chosen:
        if row.key in keys:
            done.changed.append(queue.label(row))
            log(line(row))
        else:
            done.left.append((queue.label(row), row.status))
    return done


def _open(path: str | Path) -> tuple[jobfile_module.JobFile, Ledger, RunLog]:
    """The job file, its ledger (synced with the plan as it is now) and its run.log.

    Raises:
        UsageError: for a bad job file, or a run that has not started (no ledger).
    """
    from vidstyle.jobs.plan import plan

    jobs = jobfile_module.load(path)
    tasks = plan(jobs)
    ledger_path = jobs.run_dir / LEDGER_NAME
    if not ledger_path.is_file():
        raise UsageError(jobs.path, "no run yet: nothing to retry or cancel",
                         hint="start it with `vidstyle batch run`")  # fmt: skip
    ledger = Ledger(ledger_path)
    ledger.sync(tasks)  # the plan as the file is now: a new task can be cancelled before it runs
    return jobs, ledger, RunLog(jobs.run_dir / "run.log")
