"""The batch queue spread over a Ray cluster: the driver (this process) owns the ledger and is its
only writer; workers (:mod:`vidstyle.jobs.worker`, one Ray actor each) run what it sends them.

- Workers: one per ``gpus_per_worker`` GPUs of the cluster (and 1 CPU each); on a cluster
  without GPUs one per node, holding a node's CPUs (the smallest node's count, so any node takes
  any worker): TensorFlow spreads one image over a node's cores, and two workers on one node
  would only share them. ``workers`` sets the number instead (on CPUs each then gets the
  cluster's CPUs divided among them, at most a node's). Workers are spread over the nodes.
- Affinity: an idle worker takes the pending task of the same style, working size and method as
  the one it ran last (its style targets and compiled graph are ready), else one no other
  worker is set up for, else the next in the plan.
- Clips are cut at their shot cuts (:mod:`vidstyle.jobs.shots`); the shots run on any workers
  and the driver joins them.
- Faults: a worker that dies mid-task is restarted by Ray; its task counts the attempt and goes
  to another worker (the ledger's ``max_attempts`` bounds the retries). A task that cannot read
  its input fails with the reason and the night goes on. A killed driver leaves its tasks
  ``running`` with its pid: the next run finds them (see :mod:`vidstyle.jobs.ledger`).
- Without a shared filesystem (``shared_fs=False``), an image's bytes and its style's go to the
  worker through Ray's object store and the output's bytes come back; the driver writes the
  output. Clips always travel that way (their working-size frames, shot by shot).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vidstyle.engine.precision import ALIASES
from vidstyle.errors import UsageError
from vidstyle.jobs.backends.ray import WORKER_RESTARTS, RayBackend, Slot
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.loop import run_loop
from vidstyle.jobs.plan import Task
from vidstyle.jobs.recorder import Recorder, RunResult
from vidstyle.jobs.stop import StopFlag
from vidstyle.jobs.worker import Worker
from vidstyle.progress import NullReporter, Reporter

START_SECONDS = 300.0  # how long the workers may take to start
INSTALL_HINT = "pip install 'vidstyle[ray]'"


@dataclass(frozen=True)
class ClusterConfig:
    """Where and how a batch runs on Ray.

    Attributes:
        address: ``auto`` (a local Ray with this machine's CPUs and GPUs, or the cluster
            ``RAY_ADDRESS`` names), ``host:port`` of a running cluster, or ``ray://host:10001``.
        workers: number of workers (None: as many as the cluster holds).
        gpus_per_worker: GPUs per worker (None: 1 when the cluster has GPUs, else 0).
        shared_fs: whether every node sees the inputs and outputs at the same paths.
    """

    address: str = "auto"
    workers: int | None = None
    gpus_per_worker: float | None = None
    shared_fs: bool = True

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise UsageError(None, f"{{workers}} must be at least 1, got {self.workers}")
        if self.gpus_per_worker is not None and self.gpus_per_worker < 0:
            raise UsageError(None, "{gpus_per_worker} must be 0 or more")


def import_ray():
    """Ray, or one line saying how to install it.

    Raises:
        UsageError: when Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise UsageError(None, "{ray} needs Ray, which is not installed",
                         hint=INSTALL_HINT) from None  # fmt: skip
    return ray


def refuse(group_size: int, tasks: list[Task] = (), path: Path | None = None,
           cluster: ClusterConfig | None = None) -> None:  # fmt: skip
    """What a run over Ray refuses: the one rule, checked before any work.

    - Grouped claims (``group_size`` above 1, ``--batch``): a worker runs one unit at a time and
      the driver sends each image on its own (the affinity of a worker for its last style and
      size already keeps its compiled graph and style targets warm).
    - Clips of several passes (``passes`` above 1): the workers get a clip's shots one by one,
      in one forward sweep (long-term offsets work there); the passes go back over the whole
      clip, which no one worker holds.
    - GPUs per worker other than 0 or 1: a worker's engine uses one GPU, whole. With a fraction
      two workers would share a GPU while each budgets all of its free memory; with 2 or more
      the others stay idle. More workers than GPUs: run more processes with ``workers``.
    - ``precision`` auto (or ``mixed``) unless ``VIDSTYLE_AUTO_PRECISION`` says what it means:
      the plan resolves it here, from this machine's CPU and GPU, which need not be the
      workers' (a CPU-only head would send float32, the slowest choice, to H100 workers), and
      the task's fingerprint records what the workers run; so the plan does not guess.

    Args:
        group_size: images claimed together.
        tasks: the plan (nothing to check before it is read).
        path: the job file, named in the error.
        cluster: the cluster's settings (``gpus_per_worker``).

    Raises:
        UsageError: naming the option (and the job file and its first such job).
    """
    if group_size > 1:
        raise UsageError(
            None,
            f"{{batch}} {group_size} does not run over {{ray}}: its workers "
            "take one image at a time",
            hint="leave out {batch} with {ray}",
        )
    gpus = None if cluster is None else cluster.gpus_per_worker
    if gpus not in (None, 0, 1):
        raise UsageError(None, f"{{gpus_per_worker}} must be 0 or 1 (an engine uses one whole "
                         f"GPU), got {gpus:g}")  # fmt: skip
    for task in tasks:
        if task.kind == "video" and task.video.passes > 1:
            raise UsageError(path, f"job {task.job!r}: {{passes}} above 1 does not run over "
                             "{ray}", hint="run that job without {ray}")  # fmt: skip
        guessed = task.options.get("precision", "auto") in ("auto", *ALIASES)
        if guessed and not os.environ.get("VIDSTYLE_AUTO_PRECISION"):
            raise UsageError(path, f"job {task.job!r}: {{precision}} auto would be resolved for "
                             f"this machine ({task.method.precision}), not for the Ray workers",
                             hint="give {precision} in the job file (bfloat16 for GPUs of compute "
                             "capability 8.0+), or set VIDSTYLE_AUTO_PRECISION")  # fmt: skip


def worker_name(lane: str, pid: int | None = None) -> str:
    """The Ray actor name of a driver's worker ``lane`` (``w0``, ``w1``, ...)."""
    return f"vidstyle-{pid or os.getpid()}-{lane}"


def sizing(config: ClusterConfig, nodes: list[dict]) -> tuple[int, float, int]:
    """(workers, GPUs each, CPUs each) for the alive ``nodes`` (``ray.nodes()``).

    Raises:
        UsageError: when the cluster cannot hold one worker.
    """
    gpus_total = sum(n["Resources"].get("GPU", 0) for n in nodes)
    cpus = [int(n["Resources"].get("CPU", 0)) for n in nodes]
    gpus = config.gpus_per_worker
    gpus = (1 if gpus_total else 0) if gpus is None else gpus
    if gpus > 0:
        if gpus > gpus_total:
            raise UsageError(None, f"the cluster has {gpus_total:g} GPUs, fewer than "
                             f"{{gpus_per_worker}} ({gpus:g})")  # fmt: skip
        return config.workers or int(gpus_total // gpus), gpus, 1
    if not any(cpus):
        raise UsageError(None, "the Ray cluster has no CPUs")
    count = config.workers or sum(1 for c in cpus if c)
    smallest = min(c for c in cpus if c)  # every worker must fit on any node
    return count, 0, max(1, min(smallest, sum(cpus) // count))


def run_cluster(
    tasks: list[Task],
    ledger: Ledger,
    config: ClusterConfig,
    engine_factory,
    reporter: Reporter | None = None,
    stop: StopFlag | None = None,
    after_task: Callable[[], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Run the plan's pending tasks on Ray workers (see the module's docstring).

    Args:
        tasks: the plan (already in the ledger).
        ledger: the run's ledger; only this process writes it.
        config: the cluster and the workers.
        engine_factory: builds an engine for a method on a worker; must be picklable (a
            module-level function, or :class:`vidstyle.jobs.engines.EngineFactory`).
        reporter: progress: the night's tasks, and one line per worker.
        stop: the deadline and the signal flag.
        after_task: called after every task.
        log: where a line about every task, shot and fault goes (``run.log``).

    Returns:
        What the run did and why it stopped.

    Raises:
        UsageError: Ray is not installed, or the cluster cannot hold a worker.
    """
    ray = import_ray()
    log = log or (lambda line: None)
    own = not ray.is_initialized()
    if own:
        address = None if config.address in ("auto", "local") else config.address
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    try:
        slots = _start_workers(ray, config, engine_factory, log)
        stop = stop or StopFlag()
        recorder = Recorder(ledger, log, reporter or NullReporter(), stop.deadline,
                            after=after_task, retry_lines=True)  # fmt: skip
        backend = RayBackend(ray, tasks, slots, config, recorder, stop.deadline)
        try:
            return run_loop(backend, recorder, stop)
        finally:
            for slot in slots:
                ray.kill(slot.handle, no_restart=True)
    finally:
        if own:
            ray.shutdown()


def _start_workers(ray, config: ClusterConfig, engine_factory, log) -> list[Slot]:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    count, gpus, cpus = sizing(config, nodes)
    actor = ray.remote(Worker)
    slots = []
    for i in range(count):
        lane = f"w{i}"
        handle = actor.options(
            name=worker_name(lane), num_cpus=cpus, num_gpus=gpus, max_restarts=WORKER_RESTARTS,
            max_task_retries=0, max_concurrency=2, scheduling_strategy="SPREAD",
        ).remote(engine_factory, cpus if not gpus else 0)  # fmt: skip
        slots.append(Slot(lane, handle, cpus))
    try:
        infos = ray.get([slot.handle.info.remote() for slot in slots], timeout=START_SECONDS)
    except ray.exceptions.GetTimeoutError:
        raise UsageError(None, f"the Ray cluster did not start {count} worker(s) of "
                         f"{gpus:g} GPU(s) and {cpus} CPU(s) in {START_SECONDS:.0f} s",
                         hint="lower {workers} or {gpus_per_worker}") from None  # fmt: skip
    for slot, info in zip(slots, infos):
        slot.pid, slot.host = info["pid"], info["host"]
    per = f"{gpus:g} GPU(s)" if gpus else f"{cpus} CPU(s)"
    log(f"ray: {count} worker(s) of {per} each on {len(nodes)} node(s)"
        f"{'' if config.shared_fs else ', no shared filesystem'}")  # fmt: skip
    return slots
