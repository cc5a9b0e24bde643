"""``vidstyle batch run`` and ``vidstyle batch status``: the overnight queue from a job file.

Exit codes: 0 when every task is done, 1 when a task failed, 2 for a bad job file or option, 3
when work remains (``status``, or ``run`` stopped by its deadline), 130 after Ctrl-C and 143
after SIGTERM (the task under way is pending again; the same command continues).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from vidstyle._cli.common import Quiet, Weights, console, err_console, reported_errors, reporter
from vidstyle.errors import flag, render
from vidstyle.progress import duration

batch_app = typer.Typer(
    no_args_is_help=True,
    help="Overnight jobs from a job file (TOML): a durable queue, status, deadline and report.",
)
JobFile = Annotated[Path, typer.Argument(help="The job file (TOML).")]


@batch_app.command("run")
def run_command(
    job_file: JobFile,
    until: Annotated[
        str | None, typer.Option(help="Start no task that cannot end by this time (HH:MM).")
    ] = None,
    within: Annotated[
        str | None, typer.Option("--for", help="Deadline as a duration from now (8h, 90m).")
    ] = None,
    max_attempts: Annotated[
        int, typer.Option(help="Attempts per task when its process dies or it fails unexpectedly.")
    ] = 2,
    batch_size: Annotated[
        int,
        typer.Option("--batch", help="Same-size images of one style and options run together."),
    ] = 1,
    dry_run: Annotated[
        bool, typer.Option(help="Print the plan (tasks, steps, estimated time); run nothing.")
    ] = False,
    weights: Weights = None,
    quiet: Quiet = False,
    ray: Annotated[
        str | None,
        typer.Option(
            help="Run on Ray workers: 'auto' (this machine), or a cluster's address "
            "(host:port, ray://head:10001). Needs pip install 'vidstyle\\[ray]'."
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="With --ray: number of workers (default: what fits).")
    ] = None,
    gpus_per_worker: Annotated[
        float | None,
        typer.Option(help="With --ray: GPUs per worker (default 1 with GPUs, else CPU workers)."),
    ] = None,
    shared_fs: Annotated[
        bool,
        typer.Option(
            help="With --ray: every node sees inputs and outputs at the same paths; "
            "--no-shared-fs sends them through Ray's object store."
        ),
    ] = True,
) -> None:
    """Start, or continue, the job file's run (in <job file>.vidstyle-run/ beside it)."""
    from vidstyle import batch

    with reported_errors(job_file):
        deadline = batch.deadline_from(until, within)
        if dry_run:
            print_plan(batch.load_plan(job_file))
            return
        cluster = cluster_config(ray, workers, gpus_per_worker, shared_fs)
        result = batch.run(job_file, deadline, max_attempts, reporter(quiet), weights=weights,
                           cluster=cluster, group_size=batch_size)  # fmt: skip
        state = batch.status(job_file)
    if not quiet:
        print_status(state)
    if result.signal is not None:
        err_console.print("[yellow]stopped[/]: the task under way is pending again; rerun to go on")
        raise typer.Exit(143 if result.signal == signal.SIGTERM else 130)
    if result.stopped_by == "deadline":
        console.print("deadline: no more tasks fit before it; rerun to go on", highlight=False)
    raise typer.Exit(state.exit_code)


def cluster_config(address, workers, gpus_per_worker, shared_fs):
    """The Ray options as a :class:`ClusterConfig`, or None without ``--ray``."""
    if address is None:
        if workers is not None or gpus_per_worker is not None or not shared_fs:
            from vidstyle.errors import UsageError

            raise UsageError(None, "{workers}, {gpus_per_worker} and {no_shared_fs} need {ray}")
        return None
    from vidstyle.jobs.cluster import ClusterConfig

    return ClusterConfig(address, workers, gpus_per_worker, shared_fs)


@batch_app.command("status")
def status_command(
    job_file: JobFile,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Where the job file's run stands: exit 0 all done, 3 work remains, 1 something failed."""
    from vidstyle import batch

    with reported_errors(job_file):
        state = batch.status(job_file)
    if as_json:
        console.print_json(json.dumps(state.as_dict(flag)))
    else:
        print_status(state)
    raise typer.Exit(state.exit_code)


def print_plan(plan) -> None:
    """The tasks a run would do, with their steps, the estimated time and the precision."""
    from vidstyle.engine.precision import explain
    from vidstyle.jobs.runner import PRIOR_SECONDS_PER_STEP_PIXEL

    table = Table(title=f"plan of {plan.path.name}")
    columns = ("job", "input ~ style (variant)", "kind", "steps", "estimate", "output",
               "levels (tiles): memory")  # fmt: skip
    for column in columns:
        table.add_column(column, overflow="fold")
    seconds = 0.0
    for task in plan.tasks:
        guess = PRIOR_SECONDS_PER_STEP_PIXEL * task.steps * max(task.pixels, 1)
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
    """Per job: counts by status, time spent, the estimate for the rest, and each failure."""
    table = Table(title=f"vidstyle batch status: {state.path.name}")
    for column in ("job", "done", "running", "pending", "failed", "time spent", "estimate left"):
        table.add_column(column, justify="left" if column == "job" else "right")
    for job in state.jobs:
        counts = [str(job.counts.get(s, 0)) for s in ("done", "running", "pending", "failed")]
        table.add_row(job.job, *counts, duration(job.seconds), duration(job.left))
    console.print(table)
    if not state.started:
        console.print("not started yet", highlight=False)
    for job in state.jobs:
        for source, attempts, faults in job.retried:
            why = f": {render(faults[-1], flag)}" if faults else ""
            line = f"[yellow]retried:[/] {escape(job.job)}: {escape(Path(source).name)}, "
            console.print(f"{line}{attempts} attempts{escape(why)}", highlight=False)
        for source, host, pid, since in job.running:
            line = f"running: {job.job}: {source} on {host} (pid {pid}, heartbeat {since:.0f}s ago)"
            console.print(escape(line), highlight=False)
    for job in state.jobs:
        for _, reason in job.failures:
            reason = render(reason, flag)
            err_console.print(f"[bold red]failed:[/] {escape(job.job)}: {escape(reason)}",
                              highlight=False)  # fmt: skip
