"""Where a job file's run stands: the job file planned as it is now, each task as the ledger has
it (a task the ledger does not know yet is pending), and the truth about running tasks.

A task the ledger says is ``running`` is shown ``stopped`` when its process is gone: at once for
a pid of this host that no longer exists, and for a process on another host when its heartbeat
is older than :data:`vidstyle.jobs.ledger.STALE_SECONDS` (600 s: a runner beats every 15 s). The
next run (or ``retry``) takes such a task up again.

``Status.as_dict`` is the stable JSON of ``vidstyle batch status --json`` (:data:`SCHEMA`); its
fields are documented in the README ("Batch jobs").
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from vidstyle.errors import render
from vidstyle.jobs.ledger import STALE_SECONDS, Ledger, alive
from vidstyle.jobs.plan import Plan, Task, load_plan
from vidstyle.jobs.rows import Attempt, Row, estimate

SCHEMA = 1  # the version of status --json; a field removed or changed in meaning raises it
SHOWN = ("done", "running", "stopped", "pending", "failed", "cancelled")  # what status counts


@dataclass
class TaskStatus:
    """One task as status shows it."""

    row: Row
    status: str  # one of SHOWN
    why: str = ""  # for ``stopped``: the process that is gone
    reasons: list[tuple[float, str]] = field(default_factory=list)
    history: list[Attempt] = field(default_factory=list)
    left: float = 0.0  # estimated seconds still to run

    def as_dict(self, name=str) -> dict:
        """The task's entry in the JSON (see the README for each field)."""
        r = self.row
        age = None if r.status != "running" or r.heartbeat is None else time.time() - r.heartbeat
        return {
            "id": r.key, "job": r.job, "name": r.label, "kind": r.kind,
            "input": r.source, "style": r.style.splitlines(), "variant": r.variant,
            "output": r.output, "status": self.status, "attempts": r.attempts,
            "seconds": round(r.seconds, 3), "estimate_left": round(self.left, 1),
            "frames_done": r.frames_done, "frames": r.frames, "priority": r.priority,
            "last_error": render(r.error, name) if r.error else None,
            "reasons": [{"time": _iso(t), "reason": render(why, name)} for t, why in self.reasons],
            "host": r.host, "pid": r.pid if r.status == "running" else None,
            "heartbeat_age": None if age is None else round(age, 1),
            "stopped_why": self.why or None,
        }  # fmt: skip


@dataclass
class JobStatus:
    """Where one job stands."""

    job: str
    counts: dict = field(default_factory=lambda: dict.fromkeys(SHOWN, 0))  # status -> tasks
    seconds: float = 0.0
    left: float = 0.0  # estimated seconds for the tasks not done
    failures: list[tuple[str, str]] = field(default_factory=list)  # (input, reason with {param})
    running: list[tuple[str, str, int, float]] = field(default_factory=list)  # input, host, pid,
    # seconds since its heartbeat
    retried: list[tuple[str, int, list]] = field(default_factory=list)  # (input, attempts, faults)
    tasks: list[TaskStatus] = field(default_factory=list)


@dataclass
class Status:
    """Where a run stands, job by job."""

    path: Path
    jobs: list[JobStatus]
    started: bool

    @property
    def exit_code(self) -> int:
        """1 when something failed, 3 when work remains (pending, running, stopped), else 0
        (cancelled tasks are not work that remains)."""
        if any(j.counts.get("failed") for j in self.jobs):
            return 1
        if any(j.counts.get(s) for j in self.jobs for s in ("pending", "running", "stopped")):
            return 3
        return 0

    @property
    def tasks(self) -> list[TaskStatus]:
        """Every task of the plan, in the plan's order."""
        return [t for job in self.jobs for t in job.tasks]

    def as_dict(self, name=str) -> dict:
        """The JSON of ``status --json`` (schema :data:`SCHEMA`); reasons name parameters as
        ``name(param)``."""
        counts = dict.fromkeys(SHOWN, 0)
        for job in self.jobs:
            for status, count in job.counts.items():
                counts[status] += count
        jobs = [{"job": j.job, "counts": j.counts, "seconds": round(j.seconds, 3),
                 "estimate_left": round(j.left, 1)} for j in self.jobs]  # fmt: skip
        return {"schema": SCHEMA, "job_file": str(self.path), "started": self.started,
                "exit_code": self.exit_code, "counts": counts, "jobs": jobs,
                "tasks": [t.as_dict(name) for t in self.tasks]}  # fmt: skip


def status(plan: Plan | str | Path, history: bool = False) -> Status:
    """Where the job file's run stands: its plan as the file is now, each task as the ledger
    has it (new tasks pending). ``history``: read every task's attempts too.

    Args:
        plan: the job file's plan (:func:`vidstyle.jobs.plan.load_plan`), or the job file.

    Raises:
        UsageError: for a bad job file.
    """
    plan = plan if isinstance(plan, Plan) else load_plan(plan)
    if not plan.ledger_path.is_file():
        rows = [_pending_row(t) for t in plan.tasks]
        return Status(plan.path, _by_job(rows, None, {}, {}), started=False)
    ledger = Ledger(plan.ledger_path)
    try:
        known = {r.key: r for r in ledger.rows(plan_only=False)}
        rows = [_now(known.get(t.key), t) for t in plan.tasks]
        lives = {r.key: ledger.history(r.key) for r in rows} if history else {}
        return Status(plan.path, _by_job(rows, ledger, ledger.reasons(), lives), True)
    finally:
        ledger.close()


def _now(row: Row | None, task: Task) -> Row:
    """The ledger's row of a task of the plan as it is now (its priority from the file), or a
    pending one for a task the ledger does not know."""
    if row is None:
        return _pending_row(task)
    from dataclasses import replace

    return replace(row, priority=task.priority)


def _by_job(rows: list[Row], ledger: Ledger | None, reasons: dict, lives: dict) -> list[JobStatus]:
    out: dict[str, JobStatus] = {}
    here = socket.gethostname()
    rate = None if ledger is None else ledger.seconds_per_step_pixel()
    for row in rows:
        job = out.setdefault(row.job, JobStatus(row.job))
        shown, why = _truth(row, here)
        ended = shown in ("done", "failed", "cancelled")
        left = 0.0 if ended else estimate(row.steps_left, row.pixels, rate)
        task = TaskStatus(row, shown, why, reasons.get(row.key, []), lives.get(row.key, []), left)
        job.tasks.append(task)
        job.counts[shown] += 1
        job.seconds += row.seconds
        job.left += left
        if shown == "failed":
            job.failures.append((row.source, row.error or ""))
        if shown == "running":
            since = time.time() - (row.heartbeat or time.time())
            job.running.append((row.source, row.host or "?", row.pid or 0, since))
        if row.status == "done" and row.attempts > 1:
            job.retried.append((row.source, row.attempts, row.detail.get("faults", [])))
    return list(out.values())


def _truth(row: Row, here: str) -> tuple[str, str]:
    """(status to show, why a running task is shown stopped)."""
    if row.status != "running":
        return row.status, ""
    if row.host == here and row.pid is not None and row.pid != os.getpid() and not alive(row.pid):
        return "stopped", f"process {row.pid} gone"
    age = time.time() - (row.heartbeat or 0)
    if age > STALE_SECONDS:
        return "stopped", f"no heartbeat from {row.host} for {age:.0f} s (over {STALE_SECONDS:.0f})"
    return "running", ""


def _pending_row(task: Task) -> Row:
    return Row(key=task.key, job=task.job, kind=task.kind, source=str(task.source),
               style=task.style_field, output=str(task.output), variant=task.variant,
               steps=task.steps, pixels=task.pixels, priority=task.priority)  # fmt: skip


def _iso(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(when))
