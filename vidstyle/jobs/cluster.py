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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vidstyle.errors import InternalError, UsageError, VidstyleError
from vidstyle.fsutil import atomic_path
from vidstyle.jobs.ledger import HEARTBEAT_SECONDS, Ledger
from vidstyle.jobs.plan import Task
from vidstyle.jobs.runner import RunResult, StopFlag, estimate, work_left
from vidstyle.jobs.worker import Unit, Worker
from vidstyle.progress import NullReporter, Reporter

POLL_SECONDS = 0.5  # how often the driver collects progress from busy workers
WORKER_RESTARTS = 4  # times Ray restarts a worker whose process died
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


@dataclass
class Slot:
    """A worker as the driver sees it."""

    lane: str
    handle: object
    cpus: int
    last: tuple | None = None  # (style, pixels, method) of its last unit
    unit: Unit | None = None
    began: float = 0.0
    pid: int | None = None
    host: str | None = None
    poll: object = None  # an ObjectRef of a pending poll
    down: bool = False  # its process died: Ray restarts it
    ready: object = None  # an ObjectRef that answers once it is back
    probe_at: float = 0.0  # when to ask again whether it is back
    deaths: int = 0

    @property
    def idle(self) -> bool:
        return self.unit is None and not self.down


@dataclass
class ClipRun:
    """A clip under way: its shots, which are done, running or waiting."""

    task: Task
    clip: object
    book: object
    shots: list[tuple]
    waiting: list[int] = field(default_factory=list)
    running: int = 0
    seconds: float = 0.0
    stopped: str | None = None
    failed: bool = False
    workers: dict = field(default_factory=dict)  # shot -> lane


class Driver:
    """Sends units to workers, takes their outcomes into the ledger, and shows progress."""

    def __init__(self, ray, tasks, ledger: Ledger, slots, config, reporter, stop, after, log):
        self.ray, self.ledger, self.slots, self.config = ray, ledger, slots, config
        self.reporter, self.stop, self.after, self.log = reporter, stop, after, log
        self.by_key = {t.key: t for t in tasks}
        self.busy: dict = {}  # ObjectRef -> Slot
        self.clips: dict[str, ClipRun] = {}
        self.avoid: dict[str, set[str]] = {}  # task key -> lanes it died on
        self.styles: dict[Path, object] = {}  # style path -> ObjectRef of its bytes
        self.faults: dict[str, list[str]] = {}  # task key -> what went wrong before a retry
        self.result = RunResult()
        self.halted = self.out_of_time = False
        self.last_beat = time.monotonic()

    # ----------------------------------------------------------------------------- the loop

    def run(self) -> RunResult:
        rows = [r for r in self.ledger.rows() if r.status in ("pending", "running")]
        self.reporter.begin(len(rows), "tasks")
        self.reporter.remaining(work_left(self.ledger))
        started = time.monotonic()
        try:
            while True:
                self._halt_on_signal()
                for slot in self.slots:
                    if slot.idle and not self.halted:
                        self._feed(slot)
                if not self.busy and not self._restarting():
                    break
                probes = {s.ready: s for s in self.slots if s.ready is not None}
                waiting = list(self.busy) + list(probes)
                ready, _ = self.ray.wait(waiting, num_returns=1, timeout=POLL_SECONDS)
                for ref in ready:
                    if ref in self.busy:
                        self._collect(ref, self.busy.pop(ref))
                    else:
                        self._back(probes[ref])
                self._progress()
                self._heartbeat()
            self._release_open_clips()
        finally:
            self.reporter.end()
        if self.out_of_time and not self.result.stopped_by and self.ledger.count("pending"):
            self.result.stopped_by = "deadline"
        self.result.seconds = time.monotonic() - started
        return self.result

    def _restarting(self) -> bool:
        """Whether a worker is coming back while work waits for it (none idle to do it)."""
        down = [s for s in self.slots if s.down and s.deaths <= WORKER_RESTARTS]
        if not down or self.halted or any(s.idle for s in self.slots):
            return False
        for slot in down:
            if slot.ready is None and time.monotonic() >= slot.probe_at:
                slot.ready = slot.handle.info.remote()
        waiting = any(r.waiting for r in self.clips.values())
        return waiting or self.ledger.count("pending") > 0

    def _back(self, slot: Slot) -> None:
        """A dead worker's readiness probe answered: it is back, or ask again in a second."""
        ref, slot.ready = slot.ready, None
        try:
            info = self.ray.get(ref)
        except self.ray.exceptions.RayActorError:
            slot.probe_at = time.monotonic() + 1.0
            return
        slot.down, slot.pid, slot.host = False, info["pid"], info["host"]
        self.log(f"worker {slot.lane} is back (pid {slot.pid} on {slot.host})")

    def _release_open_clips(self) -> None:
        """Clips left with shots not run (a stop): pending again, their finished shots kept."""
        for run in list(self.clips.values()):
            self.clips.pop(run.task.key)
            if not run.failed:
                self.ledger.release(run.task.key, run.seconds)
                self.log(f"stopped {run.task.label}; it is pending again (finished shots kept)")

    def _halt_on_signal(self) -> None:
        if self.stop.signal is None or self.halted:
            return
        self.halted = True
        self.result.signal = self.stop.signal
        self.result.stopped_by = f"signal {self.stop.signal}"
        for slot in self.slots:
            if slot.unit is not None:
                slot.handle.halt.remote(self.stop.signal)

    # -------------------------------------------------------------------------- scheduling

    def _feed(self, slot: Slot) -> None:
        """Give an idle worker a waiting shot, else claim a task for it."""
        while slot.unit is None:
            shot = self._waiting_shot(slot)
            if shot is not None:
                run, index = shot
                frames = run.shots[index]
                of = sum(map(len, run.shots))
                self._send(slot, Unit(run.task, index, frames, self.stop.deadline, of=of))
                continue
            task = self._claim(slot)
            if task is None:
                return
            if task.kind == "image":
                self._send(slot, Unit(task, deadline=self.stop.deadline,
                                      carry=not self.config.shared_fs))  # fmt: skip
            else:
                self._open_clip(task)

    def _waiting_shot(self, slot: Slot):
        runs = [r for r in self.clips.values() if r.waiting and not (r.stopped or r.failed)]
        for run in sorted(runs, key=lambda r: _signature(r.task) != slot.last):
            for shot in run.waiting:
                if self._may_take(slot, f"{run.task.key}/{shot}"):
                    run.waiting.remove(shot)
                    return run, shot
        return None

    def _may_take(self, slot: Slot, key: str) -> bool:
        """A task (or shot) goes back to a worker it died on only when it died on every one."""
        avoid = self.avoid.get(key, set())
        live = {s.lane for s in self.slots if s.deaths <= WORKER_RESTARTS}
        return slot.lane not in avoid or live <= avoid

    def _claim(self, slot: Slot) -> Task | None:
        """Claim, for this worker, the pending task that suits it best."""
        self.ledger.claim(keys=set())  # finds the tasks of dead processes; claims nothing
        pending = [r for r in self.ledger.rows() if r.status == "pending" and r.key in self.by_key]
        fitting = [r for r in pending if self._fits(r.steps, r.pixels)]
        self.out_of_time |= len(fitting) < len(pending)
        others = {s.last for s in self.slots if s is not slot}
        candidates = [self.by_key[r.key] for r in fitting if self._may_take(slot, r.key)]
        candidates.sort(key=lambda t: (_signature(t) != slot.last, _signature(t) in others))
        for task in candidates:
            if self.ledger.claim(keys={task.key}) == task.key:
                self._log_recovered()
                return task
        self._log_recovered()
        return None

    def _fits(self, steps: int, pixels: int) -> bool:
        deadline = self.stop.deadline
        return deadline is None or time.time() + estimate(self.ledger, steps, pixels) <= deadline

    def _open_clip(self, task: Task) -> None:
        """Cut a claimed clip into shots (the finished ones skipped), or finish it at once."""
        from vidstyle.jobs import shots
        from vidstyle.pipeline import video as videopipe

        began = time.monotonic()
        try:
            videopipe.check_outputs(task.source, task.output, task.video)
            clip = videopipe.open_clip(task.source)
            style = self._style_rgb(task.style)
            print_ = videopipe.fingerprint(clip, style, task.method, task.video)
            book = shots.ShotBook(task.output, print_)
            cut = shots.split(clip, task.video, task.method.max_size)
        except VidstyleError as error:
            return self._failed(task, time.monotonic() - began, error.message(), retry=False)
        run = ClipRun(task, clip, book, cut, seconds=time.monotonic() - began)
        run.waiting = [i for i, shot in enumerate(cut) if not book.done(shot)]
        self.log(f"start {task.label}: {len(cut)} shot(s) of {sum(map(len, cut))} frames, "
                 f"{len(cut) - len(run.waiting)} already done, to {task.output}")  # fmt: skip
        self.clips[task.key] = run
        if not run.waiting:
            self._finish_clip(run)

    def _style_rgb(self, path: Path):
        from vidstyle.media.images import load_image

        return load_image(path).rgb

    def _send(self, slot: Slot, unit: Unit) -> None:
        task = unit.task
        style = data = None
        if unit.carry or (not self.config.shared_fs and unit.shot is not None):
            try:
                style = self._style_bytes(task.style)
                data = task.source.read_bytes() if unit.shot is None else None
            except OSError as error:
                why = f"{error.filename or task.source}: cannot read: {error.strerror or error}"
                return self._failed(task, 0.0, why, retry=False)
        slot.unit, slot.began, slot.last = unit, time.monotonic(), _signature(task)
        what = task.label if unit.shot is None else f"{task.label} shot {unit.shot + 1}"
        if unit.shot is None:
            self.log(f"start {task.label}: {task.kind}, {task.steps} steps, to {task.output}, "
                     f"on {slot.lane}")  # fmt: skip
        else:
            self.clips[task.key].running += 1
            self.clips[task.key].workers[unit.shot] = slot.lane
            self.log(f"start {what} ({len(unit.frames)} frames) on {slot.lane}")
        self.busy[slot.handle.run.remote(unit, style, data)] = slot

    def _style_bytes(self, path: Path):
        if path not in self.styles:
            self.styles[path] = self.ray.put(path.read_bytes())
        return self.styles[path]

    # ------------------------------------------------------------------------------ outcomes

    def _collect(self, ref, slot: Slot) -> None:
        unit, slot.unit, slot.poll = slot.unit, None, None
        seconds = time.monotonic() - slot.began
        try:
            out = self.ray.get(ref)
        except self.ray.exceptions.RayActorError:
            where = f" (pid {slot.pid} on {slot.host})" if slot.pid else ""
            out = {"status": "died", "seconds": seconds,
                   "error": f"worker {slot.lane}{where} died while running it"}  # fmt: skip
        except self.ray.exceptions.RayError as error:
            message = InternalError(unit.task.source, error).message()
            out = {"status": "failed", "error": message, "retry": True, "seconds": seconds}
        slot.pid, slot.host = out.get("pid", slot.pid), out.get("host", slot.host)
        if out["status"] == "died":
            slot.down, slot.deaths = True, slot.deaths + 1
            slot.ready = slot.handle.info.remote() if slot.deaths <= WORKER_RESTARTS else None
        if unit.shot is None:
            self._image_outcome(unit.task, slot, out)
        else:
            self._shot_outcome(unit, slot, out)
        self._check_fatal(out)

    def _image_outcome(self, task: Task, slot: Slot, out: dict) -> None:
        status, seconds = out["status"], out["seconds"]
        if status == "done" and "output" in out:
            try:
                with atomic_path(task.output) as tmp:
                    tmp.write_bytes(out["output"])
            except OSError as error:
                why = f"{task.output}: cannot write: {error.strerror or error}"
                return self._failed(task, seconds, why, retry=False)
        if status == "done":
            self.ledger.finish(task.key, seconds, self._detail(task, out.get("detail") or {}))
            self._ended(task, "done", seconds, f"on {slot.lane}")
        elif status == "stopped":
            self.ledger.release(task.key, seconds)
            self.log(f"stopped {task.label} ({out['why']}); it is pending again")
            self.reporter.end_item(task.label, "stopped", seconds)
        elif status == "died":
            self.avoid.setdefault(task.key, set()).add(slot.lane)
            self._failed(task, seconds, out["error"], retry=True)
        else:
            self._failed(task, seconds, out["error"], retry=out.get("retry", False))

    def _shot_outcome(self, unit: Unit, slot: Slot, out: dict) -> None:
        run = self.clips[unit.task.key]
        run.running -= 1
        run.seconds += out["seconds"]
        label = f"{unit.task.label} shot {unit.shot + 1}"
        if run.failed:
            pass
        elif out["status"] == "done":
            run.book.add(out["frames"], out["records"], cut=unit.shot > 0)
            self.log(f"done {label} on {slot.lane} in {out['seconds']:.1f}s")
            if not run.waiting and not run.running and not run.stopped:
                self._finish_clip(run)
        elif out["status"] == "stopped":
            run.stopped = out["why"]
        elif out["status"] == "died" or out.get("retry"):
            self.avoid.setdefault(f"{unit.task.key}/{unit.shot}", set()).add(slot.lane)
            attempts = self.ledger.add_attempt(unit.task.key, out["error"])
            self.faults.setdefault(unit.task.key, []).append(f"{label}: {out['error']}")
            if attempts > self.ledger.max_attempts:
                run.failed = True
                why = f"{out['error']}, {attempts - 1} attempts"
                self._failed(unit.task, run.seconds, why, retry=False)
            else:
                run.waiting.insert(0, unit.shot)
                self.log(f"retry {label}: {out['error']} (attempt {attempts})")
        else:
            run.failed = True
            self._failed(unit.task, run.seconds, out["error"], retry=False)
        if run.stopped and not run.running:
            self.clips.pop(unit.task.key)
            self.ledger.release(unit.task.key, run.seconds)
            self.log(f"stopped {unit.task.label} ({run.stopped}); it is pending again")
            self.result.stopped_by = self.result.stopped_by or run.stopped
        if run.failed and not run.running:
            self.clips.pop(unit.task.key, None)

    def _finish_clip(self, run: ClipRun) -> None:
        task = run.task
        self.clips.pop(task.key, None)
        try:
            done = run.book.finish(run.clip, task.video, task.output)
        except VidstyleError as error:
            return self._failed(task, run.seconds, error.message(), retry=False)
        shots = [{"first": shot[0].index, "frames": len(shot), "worker": run.workers.get(i)}
                 for i, shot in enumerate(run.shots)]  # fmt: skip
        detail = {"report": str(done.report_path), "summary": done.summary, "shots": shots}
        self.ledger.finish(task.key, run.seconds, self._detail(task, detail))
        self._ended(task, "done", run.seconds, f"from {len(run.shots)} shot(s)")

    def _detail(self, task: Task, detail: dict) -> dict:
        """The report's detail of a finished task, with the faults it got over (for status)."""
        faults = self.faults.pop(task.key, None)
        return detail | {"faults": faults} if faults else detail

    def _ended(self, task: Task, status: str, seconds: float, where: str) -> None:
        self.result.done += status == "done"
        self.log(f"{status} {task.label} {where} in {seconds:.1f}s")
        self.reporter.end_item(task.label, status, seconds)
        self._after()

    def _failed(self, task: Task, seconds: float, message: str, retry: bool) -> None:
        (self.ledger.fail if retry else self.ledger.give_up)(task.key, seconds, message)
        row = next(r for r in self.ledger.rows() if r.key == task.key)
        if row.status == "pending":
            self.faults.setdefault(task.key, []).append(message)
            self.log(f"retry {task.label}: {message} (attempt {row.attempts})")
            return
        self.result.failed += 1
        self.result.failures.append(message)
        self.log(f"failed {task.label}: {message}")
        self.reporter.end_item(task.label, "failed", seconds)
        self._after()

    def _after(self) -> None:
        self.reporter.remaining(work_left(self.ledger))
        if self.after is not None:
            self.after()

    def _log_recovered(self) -> None:
        for line in self.ledger.recovered:
            self.log(f"recovered {line}")
        self.ledger.recovered.clear()

    # ------------------------------------------------------------------------------ progress

    def _progress(self) -> None:
        """Pass on the busy workers' progress; ask them for more."""
        for slot in self.slots:
            if slot.unit is None:
                continue
            if slot.poll is not None:
                ready, _ = self.ray.wait([slot.poll], timeout=0)
                if not ready:
                    continue
                try:
                    self._events(slot, self.ray.get(slot.poll))
                except self.ray.exceptions.RayError:
                    pass  # the worker died: its unit's outcome says so
            slot.poll = slot.handle.poll.remote()

    def _check_fatal(self, out: dict) -> None:
        if out.get("fatal"):
            self.halted = True  # no weights on a worker: every task would fail the same way
            self.result.stopped_by = "error"

    def _events(self, slot: Slot, events: list[tuple]) -> None:
        for kind, *args in events:
            if kind == "start":
                self.reporter.start_item(args[0], args[1], lane=slot.lane)
            else:
                self.reporter.step(args[0], args[1], lane=slot.lane)

    def _heartbeat(self) -> None:
        if time.monotonic() - self.last_beat < HEARTBEAT_SECONDS:
            return
        self.last_beat = time.monotonic()
        keys = {s.unit.task.key for s in self.slots if s.unit is not None} | set(self.clips)
        for key in keys:
            self.ledger.heartbeat(key)


def _signature(task: Task) -> tuple:
    """What a worker has ready after a task: style targets and the graph for this size."""
    return (str(task.style), task.pixels, task.method)


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
            module-level function, or :class:`vidstyle.jobs.worker.EngineFactory`).
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
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    try:
        slots = _start_workers(ray, config, engine_factory, log)
        driver = Driver(ray, tasks, ledger, slots, config, reporter or NullReporter(),
                        stop or StopFlag(), after_task, log)  # fmt: skip
        try:
            return driver.run()
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
