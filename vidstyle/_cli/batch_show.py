"""What ``vidstyle batch`` prints: the plan of a dry run, where a run stands (per job, then the
tasks that need a word), and one task's history."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from vidstyle._cli.common import console, err_console
from vidstyle.errors import flag, render
from vidstyle.progress import duration

COLUMNS = ("done", "running", "stopped", "pending", "failed", "cancelled")


def print_plan(plan) -> None:
    """The tasks a run would do, with their steps, the estimated time and the precision."""
    from vidstyle.engine.precision import explain
    from vidstyle.jobs.rows import estimate

    table = Table(title=f"plan of {plan.path.name}")
    columns = ("job", "input ~ style (variant)", "kind", "steps", "estimate", "output",
               "levels (tiles): memory")  # fmt: skip
    for column in columns:
        table.add_column(column, overflow="fold")
    seconds = 0.0
    for task in plan.tasks:
        guess = estimate(task.steps, task.pixels)
        seconds += guess
        name = task.label.split(": ", 1)[1]
        output = os.path.relpath(task.output, plan.path.parent)
        table.add_row(task.job, escape(name), task.kind, str(task.steps), duration(guess),
                      escape(output), task.work)  # fmt: skip
    console.print(table)
    line = (f"{len(plan.tasks)} tasks, {plan.steps()} steps, about {duration(seconds)} on a "
            "2-core CPU (a run measures this machine's own speed)")  # fmt: skip
    console.print(line, highlight=False)
    for used in sorted({task.method.precision for task in plan.tasks}):
        console.print(f"precision {used} ({explain(used)})", highlight=False)


def print_status(state) -> None:
    """Per job: counts by status (stopped and cancelled when there are any), time spent, the
    estimate for the rest; then the tasks that
    need a word (retried, running, stopped, cancelled, failed), each with its id."""
    table = Table(title=f"vidstyle batch status: {state.path.name}")
    shown = [c for c in COLUMNS if c not in ("stopped", "cancelled")
             or any(job.counts.get(c) for job in state.jobs)]  # fmt: skip
    for column in ("job", *shown, "time spent", "estimate left"):
        table.add_column(column, justify="left" if column == "job" else "right")
    for job in state.jobs:
        counts = [str(job.counts.get(s, 0)) for s in shown]
        table.add_row(escape(job.job), *counts, duration(job.seconds), duration(job.left))
    console.print(table)
    if not state.started:
        console.print("not started yet", highlight=False)
    for job in state.jobs:
        for source, attempts, faults in job.retried:
            why = f": {render(faults[-1], flag)}" if faults else ""
            line = f"[yellow]retried:[/] {escape(job.job)}: {escape(Path(source).name)}, "
            console.print(f"{line}{attempts} attempts{escape(why)}", highlight=False)
    for task in state.tasks:
        _task_line(task)


def _task_line(task) -> None:
    """One line for a task that is running, stopped, cancelled or failed (others: none)."""
    row, name = task.row, escape(_name(task))
    if task.status == "running":
        since = time.time() - (row.heartbeat or time.time())
        line = f"running: {name} on {row.host} (pid {row.pid}, heartbeat {since:.0f}s ago)"
    elif task.status == "stopped":
        line = (f"[yellow]stopped:[/] {name} ({escape(task.why)}); rerun, or "
                "`vidstyle batch retry`, to go on")  # fmt: skip
    elif task.status == "cancelled":
        line = f"cancelled: {name} (`vidstyle batch retry` puts it back)"
    elif task.status == "failed":
        reason = escape(render(row.error or "", flag))
        err_console.print(f"[bold red]failed:[/] {name}: {reason}", highlight=False)
        return
    else:
        return
    console.print(line, highlight=False)


def _name(task) -> str:
    from vidstyle.jobs.queue import ID_PREFIX

    return f"{task.row.label} [id {task.row.key[: ID_PREFIX + 2]}]"


def print_history(task) -> None:
    """A task's state and every attempt: host, pid (and worker), start, end, outcome, reason."""
    row = task.row
    console.print(f"{escape(_name(task))}: {task.status}, {row.attempts} attempt(s), "
                  f"{duration(row.seconds)} spent, output {escape(row.output)}",
                  highlight=False)  # fmt: skip
    if row.kind == "video" and row.frames:
        console.print(f"frames finished: {row.frames_done} of {row.frames}", highlight=False)
    table = Table(title="attempts")
    for column in ("#", "host", "pid", "worker", "start", "end", "outcome", "reason"):
        table.add_column(column, overflow="fold")
    number = 0
    for attempt in task.history:
        number += attempt.outcome not in ("reset", "cancelled")
        table.add_row(str(number), attempt.host or "", str(attempt.pid or ""),
                      attempt.worker or "", _clock(attempt.started), _clock(attempt.ended),
                      attempt.outcome, escape(render(attempt.reason or "", flag)))  # fmt: skip
    console.print(table)


def _clock(when: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)) if when else ""
