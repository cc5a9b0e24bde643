"""Overnight batch jobs: a job file run to the end across crashes, reboots and several processes.

``run(plan)`` adds the plan's new tasks (:func:`vidstyle.jobs.plan.load_plan`) to the run's
ledger (:mod:`vidstyle.jobs.ledger`) in ``<job file>.vidstyle-run/`` beside it, and runs the
pending ones (:func:`vidstyle.jobs.runner.run_tasks`), in this process or on Ray workers,
writing ``run.log`` and ``report.html`` as it goes. Where a run stands is
:func:`vidstyle.jobs.status.status`; ``retry`` and ``cancel`` are in :mod:`vidstyle.jobs.queue`.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

from vidstyle.errors import UsageError
from vidstyle.jobs.backends.inprocess import InProcess
from vidstyle.jobs.engines import EngineFactory, default_engine_factory
from vidstyle.jobs.executor import Executor
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.live import LiveReport
from vidstyle.jobs.plan import Plan, Task, load_plan
from vidstyle.jobs.recorder import RunResult
from vidstyle.jobs.runlog import RunLog
from vidstyle.jobs.runner import View, run_tasks, same_work
from vidstyle.jobs.settings import ClusterConfig, RunConfig
from vidstyle.jobs.stop import StopFlag, stop_on_signals
from vidstyle.progress import NullReporter, PlainReporter, Reporter, Tee


def run(
    plan: Plan | str | Path,
    deadline: float | None = None,
    reporter: Reporter | None = None,
    engine_factory=None,
    weights: str | Path | None = None,
    cluster: ClusterConfig | None = None,
    settings: RunConfig = RunConfig(),
) -> RunResult:
    """Start, or continue, the job file's run.

    Args:
        plan: the job file's plan (:func:`vidstyle.jobs.plan.load_plan`), or the job file.
        deadline: epoch seconds after which no task starts that cannot end in time (and a clip
            under way stops between frames), or None.
        reporter: progress (every line also goes to ``run.log``).
        engine_factory: builds an engine for a method (default: VGG19 with ``weights``).
        weights: a VGG19 weights file, else the usual sources.
        cluster: where to run on Ray workers (then ``engine_factory`` must be picklable; the
            weights are found on each worker); None: in this process.
        settings: attempts per task, and images run together (``batch``).

    Returns:
        What this run did and why it stopped (``signal`` is set when SIGINT or SIGTERM asked).

    Raises:
        UsageError: for a bad job file (nothing runs), Ray not installed, or precision auto over
            Ray for a task still to run (:func:`vidstyle.jobs.cluster.refuse_guessed_precision`;
            finished ones are not run again), a network clip not yet trained over Ray
            (:func:`~vidstyle.jobs.cluster.refuse_untrained_network`); WeightsError: when no
            weights are found.
    """
    if cluster is not None:
        from vidstyle.jobs.cluster import (
            Cluster,
            import_ray,
            refuse_guessed_precision,
            refuse_untrained_network,
        )

        import_ray()  # one line saying how to install it, before any work
    plan = plan if isinstance(plan, Plan) else load_plan(plan)
    if cluster is not None:
        still = _still_to_run(plan)
        refuse_guessed_precision(still, plan.path)
        refuse_untrained_network(still, plan.path)
    ledger = Ledger(plan.ledger_path, settings.max_attempts)
    log = RunLog(plan.log_path)
    try:
        new = ledger.sync(plan.tasks)
        log(f"run of {plan.path.name}: {len(plan.tasks)} tasks in the plan, {new} new")
        factory = engine_factory or _engine_factory(weights, cluster)
        backend = InProcess(Executor(factory)) if cluster is None else Cluster(cluster, factory)
        view = View(group_size=settings.batch, group_key=same_work)
        stop = StopFlag(deadline=deadline)
        restore = stop_on_signals(stop)

        # rewritten as tasks end (the recorder's hook: it has logged what the claims recovered)
        # and start (a reporter of the run), at most every few seconds, and at the end
        after_task = LiveReport(plan.run_dir, ledger.rows, f"vidstyle batch: {plan.path.name}")
        try:
            after_task()
            tee = Tee(reporter or NullReporter(), PlainReporter(log.console), after_task)
            result = run_tasks(plan.tasks, ledger, backend, tee, stop, after_task, log, view)
        finally:
            restore()
        after_task.close()  # the last state, always
        log(f"run ended: {result.done} done, {result.failed} failed"
            + (f", stopped by {result.stopped_by}" if result.stopped_by else ""))  # fmt: skip
        return result
    finally:
        ledger.close()
        log.close()


def _still_to_run(plan: Plan) -> list[Task]:
    """The plan's tasks a run may still run: new ones, and those its ledger has pending or
    running (done, failed and cancelled ones do not run); all of them for a job file never run,
    whose run folder is not made here."""
    if not plan.ledger_path.exists():
        return plan.tasks
    ledger = Ledger(plan.ledger_path)
    try:
        ended = {r.key for r in ledger.rows(plan_only=False)
                 if r.status not in ("pending", "running")}  # fmt: skip
    finally:
        ledger.close()
    return [task for task in plan.tasks if task.key not in ended]


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
