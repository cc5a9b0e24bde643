"""``vidstyle batch run``, ``status``, ``retry`` and ``cancel``: the overnight queue from a job
file.

Exit codes: 0 when every task is done (or cancelled), 1 when a task failed, 2 for a bad job file
or option, 3 when work remains (``status``, or ``run`` stopped by its deadline), 130 after Ctrl-C
and 143 after SIGTERM (the task under way is pending again; the same command continues).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from vidstyle._cli.batch_show import print_history, print_plan, print_status
from vidstyle._cli.common import Quiet, Weights, console, err_console, reported_errors, reporter
from vidstyle._cli.params import with_options
from vidstyle.errors import UsageError, flag
from vidstyle.jobs.settings import ClusterConfig, RunConfig

batch_app = typer.Typer(
    no_args_is_help=True,
    help="Overnight jobs from a job file (TOML): a durable queue, status, deadline and report.",
)
JobFile = Annotated[Path, typer.Argument(help="The job file (TOML).")]
Tasks = Annotated[
    list[str] | None,
    typer.Argument(
        help="Tasks: an id (or its first 6+ characters), an output path, or a name.",
        show_default=False,
    ),
]


@batch_app.command("run")
@with_options(RunConfig, ClusterConfig, command="batch")
def run_command(
    job_file: JobFile,
    until: Annotated[
        str | None, typer.Option(help="Start no task that cannot end by this time (HH:MM).")
    ] = None,
    within: Annotated[
        str | None, typer.Option("--for", help="Deadline as a duration from now (8h, 90m).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Print the plan (tasks, steps, estimated time); run nothing.")
    ] = False,
    options: dict | None = None,
    weights: Weights = None,
    quiet: Quiet = False,
) -> None:
    """Start, or continue, the job file's run (in <job file>.vidstyle-run/ beside it)."""
    from vidstyle import batch
    from vidstyle.jobs.plan import load_plan
    from vidstyle.jobs.recorder import GPU_FAULT
    from vidstyle.jobs.status import status

    with reported_errors(job_file):
        deadline = batch.deadline_from(until, within)
        settings = RunConfig.from_options(options)
        cluster = ClusterConfig.from_options(options)
        plan = load_plan(job_file)
        if dry_run:
            print_plan(plan)
            return
        result = batch.run(plan, deadline, reporter(quiet), weights=weights, cluster=cluster,
                           settings=settings)  # fmt: skip
        state = status(plan)
    for line in result.recoveries:
        err_console.print(f"[yellow]recovered:[/] {escape(line)}", highlight=False)
    if not quiet:
        print_status(state)
    if result.signal is not None:
        err_console.print("[yellow]stopped[/]: the task under way is pending again; rerun to go on")
        raise typer.Exit(143 if result.signal == signal.SIGTERM else 130)
    if result.stopped_by == "deadline":
        console.print("deadline: no more tasks fit before it; rerun to go on", highlight=False)
    elif result.stopped_by == GPU_FAULT:
        err_console.print(f"[yellow]stopped[/] by {GPU_FAULT}", highlight=False)
    raise typer.Exit(state.exit_code)


@batch_app.command("status")
def status_command(
    job_file: JobFile,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON for scripts (schema in the README).")
    ] = False,
    task: Annotated[
        str | None, typer.Option(help="One task's history: its attempts (host, pid, times, why).")
    ] = None,
) -> None:
    """Where the job file's run stands: exit 0 all done, 3 work remains, 1 something failed."""
    from vidstyle.jobs import queue
    from vidstyle.jobs.status import status

    with reported_errors(job_file):
        state = status(job_file, history=task is not None)
        if task is not None:
            (row,) = queue.find([t.row for t in state.tasks], [task], state.path)
            chosen = next(t for t in state.tasks if t.row.key == row.key)
    if as_json:
        data = state.as_dict(flag)
        if task is not None:
            data = next(t for t in data["tasks"] if t["id"] == chosen.row.key) | {
                "history": [vars(a) for a in chosen.history]}  # fmt: skip
        console.print_json(json.dumps(data))
    elif task is not None:
        print_history(chosen)
    else:
        print_status(state)
    raise typer.Exit(state.exit_code)


@batch_app.command("retry")
def retry_command(
    job_file: JobFile,
    tasks: Tasks = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Only failed tasks (not cancelled ones).")
    ] = False,
    job: Annotated[str | None, typer.Option(help="The tasks of this job only.")] = None,
) -> None:
    """Put failed tasks back to pending with fresh attempts (all, the named ones, or one job's);
    a clip goes on from its finished frames. The next `batch run` runs them."""
    from vidstyle.jobs import queue

    with reported_errors(job_file):
        if tasks and job is not None:
            raise UsageError(None, "name tasks or give {job}, not both")
        done = queue.retry(job_file, tasks or [], job, failed)
    for line in done.recovered:
        err_console.print(f"[yellow]recovered:[/] {escape(line)}", highlight=False)
    _changed("retried", done)


@batch_app.command("cancel")
def cancel_command(job_file: JobFile, tasks: Tasks = None) -> None:
    """Cancel tasks (pending or failed): every run skips them until `batch retry` names them."""
    from vidstyle.jobs import queue

    with reported_errors(job_file):
        if not tasks:
            raise UsageError(None, "name the tasks to cancel",
                             hint="ids from `vidstyle batch status --json`")  # fmt: skip
        done = queue.cancel(job_file, tasks)
    _changed("cancelled", done)


def _changed(verb: str, done) -> None:
    """Say what a control changed and what it left (a task named but not failed, ...)."""
    for name in done.changed:
        console.print(f"{verb}: {escape(name)}", highlight=False)
    for name, status in done.left:
        console.print(f"left as it is: {escape(name)} ({status})", highlight=False)
    console.print(f"{len(done.changed)} task(s) {verb}", highlight=False)
