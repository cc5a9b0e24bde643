"""The Ray back end of the run loop (:mod:`vidstyle.jobs.loop`): its lanes are Ray workers. It
claims for an idle worker the task that suits it best (or a waiting shot of a clip), sends units
of work (an image task, a clip's shot), collects their outcomes into the run's recorder (this
process is the ledger's only writer), retries the work of a worker that died on another one,
and passes the workers' progress on, one lane each.

See :mod:`vidstyle.jobs.cluster` for the cluster's side (workers, sizing) and the whole picture.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from vidstyle.errors import InternalError, VidstyleError, param
from vidstyle.fsutil import atomic_path
from vidstyle.jobs.ledger import HEARTBEAT_SECONDS
from vidstyle.jobs.plan import Task
from vidstyle.jobs.recorder import Recorder
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
    probes: int = 0  # unanswered readiness probes since it died

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


class RayBackend:
    """Sends units to workers and records their outcomes (see the module's docstring).

    Args:
        ray: the ``ray`` module.
        tasks: the plan (already in the ledger).
        slots: the workers.
        config: the :class:`vidstyle.jobs.cluster.ClusterConfig`.
        recorder: records every outcome (its ``shown`` gets one lane per worker).
        deadline: epoch seconds after which a shot stops between frames, or None.
    """

    def __init__(self, ray, tasks, slots, config, recorder: Recorder, deadline=None):
        self.ray, self.slots, self.config, self.recorder = ray, slots, config, recorder
        self.ledger, self.log, self.reporter = recorder.ledger, recorder.log, recorder.shown
        self.deadline = deadline
        self.by_key = {t.key: t for t in tasks}
        self.labels = {t.key: t.label for t in tasks}
        self.running: dict = {}  # ObjectRef -> Slot
        self.clips: dict[str, ClipRun] = {}
        self.avoid: dict[str, set[str]] = {}  # task key -> lanes it died on
        self.styles: dict[tuple, object] = {}  # style paths -> ObjectRef of their bytes
        self.halted = False
        self.last_beat = time.monotonic()

    # ------------------------------------------------------------------ the loop's interface
    def idle(self) -> list[Slot]:
        """The workers that are up and have no unit."""
        return [slot for slot in self.slots if slot.idle]

    def claim(self, slot: Slot):
        """A waiting shot of a clip under way, else the pending task that suits ``slot`` best."""
        shot = self._waiting_shot(slot)
        return shot if shot is not None else self._claim(slot)

    def dispatch(self, slot: Slot, work) -> bool:
        """Send a shot or an image to ``slot``; a clip is cut into shots (claimed next)."""
        if isinstance(work, tuple):
            run, index = work
            of = sum(map(len, run.shots))
            self._send(slot, Unit(run.task, index, run.shots[index], self.deadline, of=of))
        elif work.kind == "image":
            self._send(slot, Unit(work, deadline=self.deadline, carry=not self.config.shared_fs))
        else:
            self._open_clip(work)
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
        return waiting or self.ledger.count("pending") > 0

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
        fitting = [r for r in pending if self.recorder.fits(r.steps_left, r.pixels)]
        if not fitting:  # nothing fits: a clip all the same (it stops at the deadline)
            fitting = sorted((r for r in pending if self.recorder.anyway(r.kind)),
                             key=lambda r: r.steps_left)[:1]  # fmt: skip
        others = {s.last for s in self.slots if s is not slot}
        candidates = [self.by_key[r.key] for r in fitting if self._may_take(slot, r.key)]
        candidates.sort(key=lambda t: (_signature(t) != slot.last, _signature(t) in others))
        for task in candidates:
            if self.ledger.claim(keys={task.key}) == task.key:
                self.recorder.recovered(self.labels)
                return task
        self.recorder.recovered(self.labels)
        return None

    def _open_clip(self, task: Task) -> None:
        """Cut a claimed clip into shots (the finished ones skipped), or finish it at once."""
        from vidstyle.jobs import shots
        from vidstyle.pipeline import video as videopipe

        began = time.monotonic()
        try:
            videopipe.check_outputs(task.source, task.output, task.video)
            clip = videopipe.open_clip(task.source)
            style = [self._style_rgb(path) for path in task.styles]
            style = style if task.blend else style[0]
            print_ = videopipe.fingerprint(clip, style, task.method, task.video)
            book = shots.ShotBook(task.output, print_)
            cut = shots.split(clip, task.video, task.method.max_size)
        except VidstyleError as error:
            return self.recorder.failed(task, time.monotonic() - began, error, retry=False)
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
                style = self._style_bytes(task)
                data = task.source.read_bytes() if unit.shot is None else None
            except OSError as error:
                why = f"{error.filename or task.source}: cannot read: {error.strerror or error}"
                run = self.clips.get(task.key) if unit.shot is not None else None
                if run is not None:  # the clip fails: its other shots are not sent
                    run.failed = True
                    if not run.running:
                        self.clips.pop(task.key)
                return self.recorder.failed(task, 0.0, why, retry=False)
        slot.unit, slot.began, slot.last = unit, time.monotonic(), _signature(task)
        what = task.label if unit.shot is None else f"{task.label} shot {unit.shot + 1}"
        if unit.shot is None:
            self.recorder.started(task, f", on {slot.lane} (pid {slot.pid} on {slot.host})")
            self.ledger.worker(task.key, f"{slot.lane} (pid {slot.pid} on {slot.host})")
        else:
            self.clips[task.key].running += 1
            self.clips[task.key].workers[unit.shot] = slot.lane
            self.log(f"start {what} ({len(unit.frames)} frames) on {slot.lane} (pid {slot.pid})")
        self.running[slot.handle.run.remote(unit, style, data)] = slot

    def _style_bytes(self, task: Task):
        """The task's style images' bytes in the object store (one list), put once."""
        if task.styles not in self.styles:
            self.styles[task.styles] = self.ray.put([path.read_bytes() for path in task.styles])
        return self.styles[task.styles]

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
            message = InternalError(unit.task.source, error).message(param)
            out = {"status": "failed", "error": message, "retry": True, "seconds": seconds}
        slot.pid, slot.host = out.get("pid", slot.pid), out.get("host", slot.host)
        if out.get("restart"):  # a sticky CUDA fault (worker.py): Ray restarts its process
            self.ray.kill(slot.handle, no_restart=False)
            out["status"] = "died"  # as a death: counted, and the task kept off this lane
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
                return self.recorder.failed(task, seconds, why, retry=False)
        if status == "done":
            detail = (out.get("detail") or {}) | {"worker": slot.lane}
            self.recorder.done(task, seconds, detail, f"on {slot.lane}")
        elif status == "stopped":
            self.recorder.stopped(task, seconds, out["why"])
        elif status == "died":
            self.avoid.setdefault(task.key, set()).add(slot.lane)
            self.recorder.failed(task, seconds, out["error"], retry=True)
        else:
            self.recorder.failed(task, seconds, out["error"], retry=out.get("retry", False))

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
            attempts = self.recorder.shot_failed(unit.task, label, out["error"])
            if attempts > self.ledger.max_attempts:
                run.failed = True
                why = f"{out['error']}, {attempts - 1} attempts"
                self.recorder.failed(unit.task, run.seconds, why, retry=False)
            else:
                run.waiting.insert(0, unit.shot)
        else:
            run.failed = True
            self.recorder.failed(unit.task, run.seconds, out["error"], retry=False)
        if run.stopped and not run.running:
            self.clips.pop(unit.task.key)
            self.recorder.stopped(unit.task, run.seconds, run.stopped, shown=False)
        if run.failed and not run.running:
            self.clips.pop(unit.task.key, None)

    def _finish_clip(self, run: ClipRun) -> None:
        task = run.task
        self.clips.pop(task.key, None)
        try:
            done = run.book.finish(run.clip, task.video, task.output, task.method.precision)
        except VidstyleError as error:
            return self.recorder.failed(task, run.seconds, error, retry=False)
        shots = [{"first": shot[0].index, "frames": len(shot), "worker": run.workers.get(i)}
                 for i, shot in enumerate(run.shots)]  # fmt: skip
        detail = {"report": str(done.report_path), "summary": done.summary, "shots": shots}
        self.recorder.done(task, run.seconds, detail, f"from {len(run.shots)} shot(s)")

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
            self.recorder.result.stopped_by = "error"

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
        keys = {s.unit.task.key for s in self.slots if s.unit is not None} | set(self.clips)
        for key in keys:
            self.ledger.heartbeat(key)


def _signature(task: Task) -> tuple:
    """What a worker has ready after a task: style targets and the graph for this size."""
    return (task.style_field, task.pixels, task.method)
