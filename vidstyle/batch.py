"""Overnight batch jobs: a job file run to the end across crashes, reboots and several processes.

``run(path)`` plans the job file (:mod:`vidstyle.jobs.plan`), adds the new tasks to the run's
ledger (:mod:`vidstyle.jobs.ledger`) in ``<job file>.vidstyle-run/`` beside it, and runs the
pending ones (:mod:`vidstyle.jobs.runner`), writing ``run.log`` and ``report.html`` as it goes.
``status(path)`` reads where a run stands (:mod:`vidstyle.jobs.status`); ``retry`` and ``cancel``
are in :mod:`vidstyle.jobs.controls`.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from pathlib import Path

from vidstyle.errors import UsageError
from vidstyle.jobs import jobfile as jobfile_module
from vidstyle.jobs.engines import EngineFactory, default_engine_factory
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.live import LiveReport
from vidstyle.jobs.plan import Task, plan
from vidstyle.jobs.report import RunLog
from vidstyle.jobs.runner import (
    Executor,
    RunResult,
    StopFlag,
    View,
    run_tasks,
    same_work,
    stop_on_signals,
)
from vidstyle.jobs.status import JobStatus, Status, status  # noqa: F401 - batch.status()
from vidstyle.progress import NullReporter, PlainReporter, Reporter, Tee

LEDGER_NAME = "ledger.sqlite"


@dataclass(frozen=True)
class Plan:
    """A job file's tasks and the run folder they are kept in."""

    path: Path
    run_dir: Path
    tasks: list[Task]

    def steps(self) -> int:
        return sum(t.steps for t in self.tasks)


def load_plan(path: str | Path) -> Plan:
    """Read, check and expand a job file (nothing is written).

    Raises:
        UsageError: one line naming the file, the job and the key.
    """
    jobs = jobfile_module.load(path)
    return Plan(jobs.path, jobs.run_dir, plan(jobs))


def run(
    path: str | Path,
    deadline: float | None = None,
    max_attempts: int = 2,
    reporter: Reporter | None = None,
    engine_factory=None,
    weights: str | Path | None = None,
    cluster=None,
    group_size: int = 1,
) -> RunResult:
    """Start, or continue, the job file's run.

    Args:
        path: the job file.
        deadline: epoch seconds after which no task starts that cannot end in time (and a clip
            under way stops between frames), or None.
        max_attempts: attempts a task gets when its process dies or it fails unexpectedly.
        reporter: progress (every line also goes to ``run.log``).
        engine_factory: builds an engine for a method (default: VGG19 with ``weights``).
        weights: a VGG19 weights file, else the usual sources.
        cluster: a :class:`vidstyle.jobs.cluster.ClusterConfig` to run on Ray workers (then
            ``engine_factory`` must be picklable; the weights are found on each worker).
        group_size: images of one method, style and working size optimized together, up to
            this many (in this process: not with ``cluster``), as ``vidstyle folder --batch``.

    Returns:
        What this run did and why it stopped (``signal`` is set when SIGINT or SIGTERM asked).

    Raises:
        UsageError: for a bad job file (nothing runs); WeightsError: when no weights are found.
    """
    if max_attempts < 1:
        raise UsageError(None, f"{{max_attempts}} must be at least 1, got {max_attempts}")
    if group_size < 1:
        raise UsageError(None, f"{{batch}} must be 1 or more, got {group_size}")
    if cluster is not None:
        from vidstyle.jobs import cluster as cluster_module

        cluster_module.refuse(group_size, cluster=cluster)
        cluster_module.import_ray()  # one line saying how to install it, before any work
    work = load_plan(path)
    if cluster is not None:
        cluster_module.refuse(group_size, work.tasks, work.path)  # what Ray refuses, one rule
    ledger = Ledger(work.run_dir / LEDGER_NAME, max_attempts)
    log = RunLog(work.run_dir / "run.log")
    try:
        new = ledger.sync(work.tasks)
        log(f"run of {work.path.name}: {len(work.tasks)} tasks in the plan, {new} new")
        factory = engine_factory or _engine_factory(weights, cluster)
        stop = StopFlag(deadline=deadline)
        restore = stop_on_signals(stop)

        # rewritten as tasks end (the recorder's hook: it has logged what the claims recovered)
        # and start (a reporter of the run), at most every few seconds, and at the end
        after_task = LiveReport(work.run_dir, ledger.rows, f"vidstyle batch: {work.path.name}")
        try:
            after_task()
            tee = Tee(reporter or NullReporter(), PlainReporter(log.console), after_task)
            if cluster is None:
                executor = Executor(factory)
                view = View(group_size=group_size, group_key=same_work)
                result = run_tasks(work.tasks, ledger, executor, tee, stop, after_task, log, view)
            else:
                from vidstyle.jobs.cluster import run_cluster

                args = (tee, stop, after_task, log)
                result = run_cluster(work.tasks, ledger, cluster, factory, *args)
        finally:
            restore()
        after_task.close()  # the last state, always
        log(f"run ended: {result.done} done, {result.failed} failed"
            + (f", stopped by {result.stopped_by}" if result.stopped_by else ""))  # fmt: skip
        return result
    finally:
        ledger.close()
        log.close()


def _engine_factory(weights, cluster):
    if cluster is None:
        return default_engine_factory(weights)
    return EngineFactory(weights)


# ----------------------------------------------------------------------------------- deadline


def deadline_from(until: str | None, within: str | None, now: float | None = None) -> float | None:
    """Epoch seconds from ``until`` (``HH:MM``, the next such local time) or ``within``
    (``8h``, ``90m``, ``1h30m``, ``45s``); None when neither is given.

    Raises:
        UsageError: for both, or for text that is neither form.
    """
    if until and within:
        raise UsageError(None, "give {until} or {for}, not both")
    now = time.time() if now is None else now
    if until:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", until.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise UsageError(None, f"cannot read {{until}} {until!r}", hint="use HH:MM, e.g. 07:30")
        start = dt.datetime.fromtimestamp(now)
        target = start.replace(hour=int(match[1]), minute=int(match[2]), second=0, microsecond=0)
        if target <= start:
            target += dt.timedelta(days=1)
        return target.timestamp()
    if within:
        match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", within.strip())
        if not match or not any(match.groups()):
            raise UsageError(
                None, f"cannot read {{for}} {within!r}", hint="use e.g. 8h, 90m, 1h30m"
            )
        hours, minutes, seconds = (int(g or 0) for g in match.groups())
        return now + hours * 3600 + minutes * 60 + seconds
    return None
