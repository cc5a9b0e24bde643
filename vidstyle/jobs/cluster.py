"""The batch queue spread over a Ray cluster: the driver (this process) owns the ledger and is its
only writer; workers (:mod:`vidstyle.jobs.worker`, one Ray actor each) run what it sends them.

- Workers: one per ``gpus_per_worker`` GPUs of the cluster (and 1 CPU each); on a cluster
  without GPUs one per node, holding a node's CPUs (the smallest node's count, so any node takes
  any worker): TensorFlow spreads one image over a node's cores, and two workers on one node
  would only share them. ``workers`` sets the number instead (on CPUs each then gets the
  cluster's CPUs divided among them, at most a node's). Workers are spread over the nodes.
- Claims: the driver claims for an idle worker through the run's recorder, as the in-process
  back end does: among the pending tasks of the highest priority, one of the setup (style,
  working size, method) of the worker's last unit (its style targets and compiled graph are
  ready), else one no other worker is set up for, else the next in the plan; with a group size
  above 1 (``--batch``), up to that many images of that setup, sent as one unit and run in one
  engine call, as in-process.
- Clips are cut at their shot cuts (:mod:`vidstyle.jobs.shots`; a clip rendered by a trained
  network into runs of frames, and one not yet trained is refused); the shots run on any workers,
  every pass of a clip of several passes each (a later pass never holds a frame to one across a
  cut), and the driver joins them: the frames the in-process run gives.
- Faults: a worker that dies mid-task is restarted by Ray; its task counts the attempt and goes
  to another worker (the ledger's ``max_attempts`` bounds the retries). A task that cannot read
  its input fails with the reason and the night goes on. A killed driver leaves its tasks
  ``running`` with its pid: the next run finds them (see :mod:`vidstyle.jobs.ledger`).
- Without a shared filesystem (``shared_fs=False``), an image's bytes and its style's go to the
  worker through Ray's object store and the output's bytes come back; the driver writes the
  output. Clips always travel that way (their working-size frames, shot by shot).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from vidstyle.engine.precision import ALIASES
from vidstyle.errors import UsageError
from vidstyle.jobs.backends.ray import WORKER_RESTARTS, RayBackend, Slot
from vidstyle.jobs.plan import Task
from vidstyle.jobs.recorder import Recorder
from vidstyle.jobs.runner import View
from vidstyle.jobs.settings import ClusterConfig
from vidstyle.jobs.stop import StopFlag
from vidstyle.jobs.worker import Worker
from vidstyle.progress import Reporter

START_SECONDS = 300.0  # how long the workers may take to start
INSTALL_HINT = "pip install 'vidstyle[ray]'"


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


def refuse_guessed_precision(tasks: list[Task], path: Path | None = None) -> None:
    """Refuse ``precision`` auto (or ``mixed``) for Ray workers unless ``VIDSTYLE_AUTO_PRECISION``
    says what it means: the plan resolves it here, from this machine's CPU and GPU, which need
    not be the workers' (a CPU-only head would send float32, the slowest choice, to H100
    workers), and the task's fingerprint records what the workers run; so the plan does not
    guess. Checked before any work.

    Args:
        tasks: the tasks the run may still run (a finished task ran with what it ran with).
        path: the job file, named by the error.

    Raises:
        UsageError: naming the job file and its first such job.
    """
    if os.environ.get("VIDSTYLE_AUTO_PRECISION"):
        return
    for task in tasks:
        if task.options.get("precision", "auto") in ("auto", *ALIASES):
            raise UsageError(path, f"job {task.job!r}: {{precision}} auto would be resolved for "
                             f"this machine ({task.method.precision}), not for the Ray workers",
                             hint="give {precision} in the job file (bfloat16 for GPUs of compute "
                             "capability 8.0+), or set VIDSTYLE_AUTO_PRECISION")  # fmt: skip


def refuse_untrained_network(tasks: list[Task], path: Path | None = None) -> None:
    """Refuse a clip rendered by a network (``render`` network) without a trained ``network``
    over Ray: the keyframes and the training are one worker's work; with the file, any worker
    renders any of the clip's frames (:func:`vidstyle.jobs.shots.pieces`). Checked before any
    work.

    Raises:
        UsageError: naming the job file and its first such job.
    """
    for task in tasks:
        if task.kind == "video" and task.video.render == "network" and not task.video.network:
            raise UsageError(path, f"job {task.job!r}: {{render}} network over {{ray}} splits "
                             "the frames of a trained {network} among the workers",
                             hint="train it once without {ray}, then give {network}")  # fmt: skip


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


class Cluster:
    """The Ray back end before a run: what :func:`vidstyle.jobs.runner.run_tasks` opens.

    Args:
        config: the cluster and the workers.
        engine_factory: builds an engine for a method on a worker; must be picklable (a
            module-level function, or :class:`vidstyle.jobs.engines.EngineFactory`).
    """

    def __init__(self, config: ClusterConfig, engine_factory):
        self.config, self.engine_factory = config, engine_factory

    @contextlib.contextmanager
    def open(self, recorder: Recorder, reporter: Reporter, stop: StopFlag, view: View):
        """Ray (a local one, or the cluster's), its workers started, as the run's back end; the
        workers are killed after it (and a Ray started here shut down).

        Raises:
            UsageError: Ray is not installed, or the cluster cannot hold a worker.
        """
        ray = import_ray()
        own = not ray.is_initialized()
        if own:
            address = None if self.config.address in ("auto", "local") else self.config.address
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        try:
            slots = _start_workers(ray, self.config, self.engine_factory, recorder.log)
            try:
                yield RayBackend(ray, slots, self.config.shared_fs, recorder, stop.deadline, view)
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
