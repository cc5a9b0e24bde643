"""The Ray back end of the run loop (:mod:`vidstyle.jobs.loop`): its lanes are Ray workers. It
claims for an idle worker, through the run's recorder, the task (or the images of one setup, up
to the run's group size) that suits it best, or a waiting shot of a clip; sends units of work
(:class:`~vidstyle.jobs.worker.Unit`: images, or a range of a clip's frames); collects what they
came to into the recorder (this process is the ledger's only writer), retries the work of a
worker that died on another one, and passes the workers' progress on, one lane each.

See :mod:`vidstyle.jobs.cluster` for the cluster's side (workers, sizing) and the whole picture.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from vidstyle.errors import InternalError, VidstyleError, param
from vidstyle.fsutil import atomic_path
from vidstyle.jobs.executor import Ran
from vidstyle.jobs.ledger import HEARTBEAT_SECONDS
from vidstyle.jobs.plan import Task
from vidstyle.jobs.recorder import Recorder
from vidstyle.jobs.runner import View
from vidstyle.jobs.shots import ClipRun
from vidstyle.jobs.worker import Unit

POLL_SECONDS = 0.5  # how often the driver collects progress from busy workers
WORKER_RESTARTS = 4  # times Ray restarts a worker whose process died
BACK_SECONDS = 120  # how long a dead worker may take to come back before it counts as gone


@dataclass
class Slot:
    """A worker as the driver sees it."""

    lane: str
    handle: object
    cpus: int
    last: tuple | None = None  # the setup of its last unit (see Task.setup)
    unit: Unit | None = None
    began: float = 0.0
    pid: int | None = None
    host: str | None = None
    poll: object = None  # an ObjectRef of a pending poll
    down: bool = False  # its process died: Ray restarts it
    ready: object = None  # an ObjectRef that answers once it is back
    probe_at: float = 0.0  # when to ask again whether it is back
    deaths: int = 0
    probes: int = 0  # unanswered readiness probes since it died

    @property
    def idle(self) -> bool:
        return self.unit is None and not self.down

    @property
    def where(self) -> str:
        return f"{self.lane} (pid {self.pid} on {self.host})"


class RayBackend:
    """Sends units to workers and records what they came to (see the module's docstring).

    Args:
        ray: the ``ray`` module.
        slots: the workers.
        shared_fs: whether every node sees the inputs and outputs at the same paths (else the
            bytes travel through the object store).
        recorder: records every outcome (its ``shown`` gets one lane per worker).
        deadline: epoch seconds after which a shot stops between frames, or None.
        view: the run's grouped claims (``group_size``, ``group_key``).
    """

    def __init__(self, ray, slots: list[Slot], shared_fs: bool, recorder: Recorder,
                 deadline: float | None = None, view: View | None = None):  # fmt: skip
        self.ray, self.slots, self.shared_fs, self.recorder = ray, slots, shared_fs, recorder
        self.log, self.reporter = recorder.log, recorder.shown
        self.deadline, self.view = deadline, view or View()
        self.running: dict = {}  # ObjectRef -> Slot
        self.clips: dict[str, ClipRun] = {}
        self.avoid: dict[str, set[str]] = {}  # task key (or key/shot) -> lanes it died on
        self.styles: dict[tuple, object] = {}  # style paths -> ObjectRef of their bytes
        self.halted = False
        self.last_beat = time.monotonic()

    # ------------------------------------------------------------------ the loop's interface
    def idle(self) -> list[Slot]:
        """The workers that are up and have no unit."""
        return [slot for slot in self.slots if slot.idle]

    def claim(self, slot: Slot):
        """A waiting shot of a clip under way, else the pending tasks that suit ``slot`` best:
        of the setup of its last unit, else of one no other worker is set up for (after the
        tasks' priority), and never one that died on it while another worker lives."""
        shot = self._waiting_shot(slot)
        if shot is not None:
            return shot
        others = {s.last for s in self.slots if s is not slot}
        keys = {key for key in self.recorder.tasks if self._may_take(slot, key)}

        def prefer(task: Task) -> tuple:
            return task.setup != slot.last, task.setup in others

        tasks = self.recorder.claim(self.view.group_size, self.view.group_key, keys, prefer)
        return tasks or None

    def dispatch(self, slot: Slot, work) -> bool:
        """Send a shot or images to ``slot``; a clip is cut into shots (claimed next)."""
        if isinstance(work, tuple):
            run, shot = work
            self._send(slot, Unit((run.task,), shot, run.shots[shot], self.deadline, of=run.frames))
        elif work[0].kind == "image":
            self._send(slot, Unit(tuple(work), deadline=self.deadline, carry=not self.shared_fs))
        else:
            self._open_clip(work[0])
        return slot.unit is not None

    def busy(self) -> bool:
        """Units under way, or a worker coming back while work waits."""
        return self._restarting() or bool(self.running)

    def collect(self) -> None:
        """Wait for a unit to end (or a poll period), record it, pass progress on."""
        probes = {s.ready: s for s in self.slots if s.ready is not None}
        waiting = list(self.running) + list(probes)
        ready, _ = self.ray.wait(waiting, num_returns=1, timeout=POLL_SECONDS)
        for ref in ready:
            if ref in self.running:
                self._collect(ref, self.running.pop(ref))
            else:
                self._back(probes[ref])
        self._progress()
        self._heartbeat()

    def halt(self, signum: int) -> None:
        """Ask every busy worker to stop at its next chunk of steps."""
        self.halted = True
        for slot in self.slots:
            if slot.unit is not None:
                slot.handle.halt.remote(signum)

    def close(self) -> None:
        """Clips left with shots not run (a stop): pending again, their finished shots kept."""
        for run in list(self.clips.values()):
            self.clips.pop(run.task.key)
            if not run.failed:
                self.recorder.left_open(run.task, run.seconds)

    # -------------------------------------------------------------------------- workers
    def _restarting(self) -> bool:
        """Whether a worker is coming back while work waits (it may be work only it may take)."""
        down = [s for s in self.slots if s.down and s.deaths <= WORKER_RESTARTS]
        for slot in down:
            if slot.ready is None and time.monotonic() >= slot.probe_at:
                slot.ready = slot.handle.info.remote()
        if not down or self.halted:
            return False
        waiting = any(r.waiting for r in self.clips.values())
        return waiting or self.recorder.ledger.count("pending") > 0

    def _back(self, slot: Slot) -> None:
        """A dead worker's readiness probe answered: it is back, or ask again in a second."""
        ref, slot.ready = slot.ready, None
        try:
            info = self.ray.get(ref)
        except self.ray.exceptions.RayActorError:
            slot.probe_at, slot.probes = time.monotonic() + 1.0, slot.probes + 1
            if slot.probes > BACK_SECONDS:
                slot.deaths = WORKER_RESTARTS + 1  # gone for good
                self.log(f"worker {slot.lane} did not come back; the night goes on without it")
            return
        slot.down, slot.probes, slot.pid, slot.host = False, 0, info["pid"], info["host"]
        self.log(f"worker {slot.lane} is back (pid {slot.pid} on {slot.host})")

    def _waiting_shot(self, slot: Slot):
        runs = [r for r in self.clips.values() if r.waiting and not (r.stopped or r.failed)]
        for run in sorted(runs, key=lambda r: r.task.setup != slot.last):
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

    def _open_clip(self, task: Task) -> None:
        """Cut a claimed clip into shots (the finished ones skipped), or finish it at once."""
        began = time.monotonic()
        try:
            run = ClipRun.open(task)
        except VidstyleError as error:
            return self.recorder.failed(task, time.monotonic() - began, error, retry=False)
        run.seconds = time.monotonic() - began
        self.log(f"start {task.label}: {len(run.shots)} shot(s) of {run.frames} frames, "
                 f"{len(run.shots) - len(run.waiting)} already done, to {task.output}")  # fmt: skip
        self.clips[task.key] = run
        if not run.waiting:
            self._finish_clip(run)

    def _send(self, slot: Slot, unit: Unit) -> None:
        style = data = None
        if not self.shared_fs:
            try:
                style = self._style_bytes(unit.task)
            except OSError as error:
                return self._unreadable(unit, unit.tasks, error)
            if unit.part is None:
                data, readable = [], []
                for task in unit.tasks:
                    try:
                        data.append(task.source.read_bytes())
                        readable.append(task)
                    except OSError as error:
                        self._unreadable(unit, (task,), error)
                if not readable:
                    return
                unit = dataclasses.replace(unit, tasks=tuple(readable))
        slot.unit, slot.began, slot.last = unit, time.monotonic(), unit.task.setup
        if unit.part is None:
            for task in unit.tasks:
                self.recorder.started(task, f", on {slot.where}", worker=slot.where)
        else:
            run = self.clips[unit.task.key]
            run.running += 1
            run.workers[unit.part] = slot.lane
            self.log(f"start {unit.task.label} shot {unit.part + 1} ({len(unit.frames)} frames) "
                     f"on {slot.lane} (pid {slot.pid})")  # fmt: skip
        self.running[slot.handle.run.remote(unit, style, data)] = slot

    def _unreadable(self, unit: Unit, tasks, error: OSError) -> None:
        """Fail ``tasks`` whose input (or style) this process cannot read; a clip's other shots
        are not sent."""
        why = f"{error.filename or unit.task.source}: cannot read: {error.strerror or error}"
        run = self.clips.get(unit.task.key) if unit.part is not None else None
        if run is not None:
            run.failed = True
            if not run.running:
                self.clips.pop(unit.task.key)
        for task in tasks:
            self.recorder.failed(task, 0.0, why, retry=False)

    def _style_bytes(self, task: Task):
        """The task's style images' bytes in the object store (one list), put once."""
        if task.styles not in self.styles:
            self.styles[task.styles] = self.ray.put([path.read_bytes() for path in task.styles])
        return self.styles[task.styles]

    # ------------------------------------------------------------------------------ outcomes
    def _collect(self, ref, slot: Slot) -> None:
        unit, slot.unit, slot.poll = slot.unit, None, None
        seconds, died = time.monotonic() - slot.began, False
        try:
            out = self.ray.get(ref)
            ran, seconds = out["ran"], out["seconds"]
        except self.ray.exceptions.RayActorError:
            where = f" (pid {slot.pid} on {slot.host})" if slot.pid else ""
            out, died = {}, True
            ran = _failed(unit, f"worker {slot.lane}{where} died while running it")
        except self.ray.exceptions.RayError as error:
            out, ran = {}, _failed(unit, InternalError(unit.task.source, error).message(param))
        slot.pid, slot.host = out.get("pid", slot.pid), out.get("host", slot.host)
        if ran.restart:  # a sticky CUDA fault (worker.py): Ray restarts its process
            self.ray.kill(slot.handle, no_restart=False)
            died = True  # as a death: counted, and the task kept off this lane
            ran = dataclasses.replace(ran, restart=False)  # done: the run goes on (recorder)
        if died:
            slot.down, slot.deaths = True, slot.deaths + 1
            slot.ready = slot.handle.info.remote() if slot.deaths <= WORKER_RESTARTS else None
        self.halted = self.halted or ran.fatal  # no weights or no cuDNN on a worker: all would fail
        if unit.part is None:
            self._images_outcome(unit, slot, ran, seconds, died)
        else:
            self._shot_outcome(unit, slot, ran, seconds, died)

    def _images_outcome(self, unit: Unit, slot: Slot, ran: Ran, seconds: float, died: bool):
        """Write the carried outputs, then record what each image came to."""
        if ran.stopped is not None:
            return self.recorder.attempted(list(unit.tasks), ran, seconds)
        share, tasks, outcomes = seconds / len(unit.tasks), [], []
        for task, (detail, error) in zip(unit.tasks, ran.outcomes, strict=True):
            if died:
                self.avoid.setdefault(task.key, set()).add(slot.lane)
            if error is None and (why := _deliver(task, detail)) is not None:
                self.recorder.failed(task, share, why, retry=False)
                continue
            tasks.append(task)
            outcomes.append((detail and detail | {"worker": slot.lane}, error))
        if tasks:
            ran = dataclasses.replace(ran, outcomes=outcomes, retry=ran.retry or died)
            self.recorder.attempted(tasks, ran, share * len(tasks), f"on {slot.lane}")

    def _shot_outcome(self, unit: Unit, slot: Slot, ran: Ran, seconds: float, died: bool):
        task, shot = unit.task, unit.part
        run = self.clips[task.key]
        run.running -= 1
        run.seconds += seconds
        label = f"{task.label} shot {shot + 1}"
        detail, error = ran.outcomes[0] if ran.outcomes else (None, None)
        if run.failed:
            pass
        elif ran.stopped is not None:
            run.stopped = ran.stopped
        elif error is None:
            run.book.add(detail["frames"], detail["records"], cut=run.after_cut(shot))
            self.log(f"done {label} on {slot.lane} in {seconds:.1f}s")
            if not run.waiting and not run.running and not run.stopped:
                self._finish_clip(run)
        elif died or ran.retry:
            self.avoid.setdefault(f"{task.key}/{shot}", set()).add(slot.lane)
            given_up = self.recorder.part_failed(task, label, error)
            if given_up is None:
                run.waiting.insert(0, shot)
            else:
                run.failed = True
                self.recorder.failed(task, run.seconds, given_up, retry=False)
        else:
            run.failed = True
            self.recorder.attempted([task], dataclasses.replace(ran, outcomes=[(None, error)]),
                                    run.seconds)  # fmt: skip
        if run.stopped and not run.running:
            self.clips.pop(task.key)
            self.recorder.stopped(task, run.seconds, run.stopped, shown=False)
        if run.failed and not run.running:
            self.clips.pop(task.key, None)

    def _finish_clip(self, run: ClipRun) -> None:
        self.clips.pop(run.task.key, None)
        try:
            detail = run.finish()
        except VidstyleError as error:
            return self.recorder.failed(run.task, run.seconds, error, retry=False)
        self.recorder.done(run.task, run.seconds, detail, f"from {len(run.shots)} shot(s)")

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

    def _events(self, slot: Slot, events: list[tuple]) -> None:
        for kind, *args in events:
            if kind == "start":
                self.reporter.start_item(args[0], args[1], lane=slot.lane)
            elif kind == "level":
                self.reporter.level(args[0], args[1], lane=slot.lane)
            else:
                self.reporter.step(args[0], args[1], lane=slot.lane)

    def _heartbeat(self) -> None:
        if time.monotonic() - self.last_beat < HEARTBEAT_SECONDS:
            return
        self.last_beat = time.monotonic()
        busy = {task.key for s in self.slots if s.unit is not None for task in s.unit.tasks}
        self.recorder.heartbeat(busy | set(self.clips))


def _failed(unit: Unit, message: str) -> Ran:
    """A unit that ended with an error of its worker (not of its work): tried again."""
    return Ran([(None, message)] * len(unit.tasks), retry=True)


def _deliver(task: Task, detail: dict) -> str | None:
    """Write an output that came back as bytes (no shared filesystem), once, atomically.
    Returns why it could not be written, or None."""
    data = detail.pop("output", None)
    if data is None:
        return None
    try:
        with atomic_path(task.output) as tmp:
            tmp.write_bytes(data)
    except OSError as error:
        return f"{task.output}: cannot write: {error.strerror or error}"
    return None
