"""A worker of a batch spread over a Ray cluster: one Ray actor per GPU (or per share of a node's
CPUs), holding one :class:`~vidstyle.jobs.runner.Executor` for its whole life, so the VGG19
weights are loaded once, compiled graphs are kept and style targets are cached.

A worker never touches the ledger: it runs what the driver sends (an image task, or one shot of
a clip) and returns the outcome (status, seconds, detail or error). The driver polls it for
progress events (a second thread of the actor answers while the first one works) and may ask it
to stop at the next chunk of steps.

A sticky CUDA fault (an illegal address, a launch failure: :func:`vidstyle.engine.faults.sticky`)
leaves the process's GPU context broken for good: the outcome then says ``restart``, and the
driver has Ray restart this worker's process before it takes another unit
(:mod:`vidstyle.jobs.backends.ray`). A cuDNN that cannot start (``CUDNN_STATUS_INTERNAL_ERROR``)
is the machine's set-up: one clear error, not retried, and the run stops (``fatal``).

This module does not import Ray: :mod:`vidstyle.jobs.cluster` turns :class:`Worker` into an actor.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from vidstyle.engine.faults import library_error, sticky
from vidstyle.errors import DeviceError, InternalError, VidstyleError, WeightsError, param
from vidstyle.jobs.executor import Executor
from vidstyle.jobs.plan import Task
from vidstyle.jobs.stop import StopFlag, Stopped, TaskReporter
from vidstyle.progress import NullReporter


def _failure(task: Task, error: Exception) -> dict:
    """A failed unit's outcome. A VidstyleError is the input's, the output's or the machine's:
    another attempt cannot help; without weights, or with a cuDNN that cannot start (also when
    it reached here unmapped: :func:`vidstyle.engine.faults.library_error`), every unit of this
    worker would fail the same way (``fatal``). Anything else may be retried, after a restart of
    this process for a sticky CUDA fault."""
    error = library_error(error) or error
    if isinstance(error, VidstyleError):
        return {"status": "failed", "error": error.message(param), "retry": False,
                "fatal": isinstance(error, WeightsError | DeviceError)}  # fmt: skip
    message = InternalError(task.source, error).message(param)
    return {"status": "failed", "error": message, "retry": True, "restart": sticky(error)}


@dataclasses.dataclass(frozen=True)
class Unit:
    """One piece of work for a worker.

    Attributes:
        task: the ledger's task.
        shot: for a clip, the shot's place among the clip's shots (None for an image).
        frames: for a shot, its frames (:class:`vidstyle.media.video.Frame`) at the working size.
        deadline: epoch seconds after which a shot stops between frames, or None.
        carry: images travel through the object store (no shared filesystem): the input's bytes
            come with the unit and the output's bytes go back.
        of: for a shot, the clip's frames in all (for progress lines).
    """

    task: Task
    shot: int | None = None
    frames: tuple = ()
    deadline: float | None = None
    carry: bool = False
    of: int = 0


class Events(NullReporter):
    """A reporter that keeps what the pipelines tell, for the driver to collect."""

    wants_steps = True

    def __init__(self):
        self.lock = threading.Lock()
        self.items: list[tuple] = []

    def take(self) -> list[tuple]:
        with self.lock:
            items, self.items = self.items, []
        return items

    def start_item(self, name: str, steps: int, lane: str | None = None) -> None:
        with self.lock:
            self.items.append(("start", name, steps))

    def step(self, done: int, loss: float, lane: str | None = None) -> None:
        with self.lock:
            if self.items and self.items[-1][0] == "step":
                self.items.pop()  # only the latest step matters
            self.items.append(("step", done, float(loss)))

    def level(self, index: int, works: list, lane: str | None = None) -> None:
        with self.lock:
            self.items.append(("level", index, list(works)))


class Worker:
    """A worker: runs units with its engine cache (see the module's docstring).

    Args:
        engine_factory: builds an engine for a method; picklable (e.g.
            :class:`vidstyle.jobs.engines.EngineFactory`).
        cpus: the CPUs Ray gives the worker: TensorFlow's thread pools are sized to them, so
            workers sharing a node do not oversubscribe it (0: TensorFlow's own choice).
    """

    def __init__(self, engine_factory, cpus: int = 0):
        if cpus:
            os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(cpus))
            os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(min(cpus, 2)))
        self.executor = Executor(engine_factory)
        self.events = Events()
        self.stop = StopFlag()
        self.halted: int | None = None
        self.scratch = Path(tempfile.mkdtemp(prefix="vidstyle-worker-"))

    def info(self) -> dict:
        """The worker's process id and host (a test kills it by its pid)."""
        return {"pid": os.getpid(), "host": socket.gethostname()}

    def poll(self) -> list[tuple]:
        """Progress events since the last poll: ``("start", name, steps)``, ``("step", done,
        loss)``, ``("level", index, works)``."""
        return self.events.take()

    def halt(self, signum: int) -> None:
        """Stop the unit under way at its next chunk of steps (and any unit sent after)."""
        self.halted = signum
        self.stop.signal = signum

    def run(self, unit: Unit, style: list[bytes] | None = None, data: bytes | None = None) -> dict:
        """Run a unit. Never raises: the outcome says what happened.

        Args:
            unit: the work.
            style: the style images' bytes when nothing is shared (one per image of the task's
                styles), else None.
            data: the input image's bytes when nothing is shared, else None.

        Returns:
            ``status`` (``done``, ``failed`` or ``stopped``), ``seconds``, ``pid``, ``host``, and
            ``detail`` (done), ``output`` (the output's bytes, when carried), ``frames`` and
            ``records`` (a shot), ``error`` and ``retry`` (failed), ``why`` (stopped), and
            ``restart`` (failed on a sticky CUDA fault: this process must not run another unit).
        """
        began = time.monotonic()
        self.events.take()  # what is left of the unit before
        self.stop = StopFlag(deadline=unit.deadline, signal=self.halted)
        out = self.info()
        try:
            for path, data_ in zip(unit.task.styles, style or ()):
                self._prime_style(path, data_)
            out |= self._shot(unit) if unit.shot is not None else self._image(unit, data)
            out["status"] = "done"
        except Stopped as why:
            out |= {"status": "stopped", "why": str(why)}
        except Exception as error:  # noqa: BLE001 - reported to the driver, which may retry
            out |= _failure(unit.task, error)
        out["seconds"] = time.monotonic() - began
        return out

    def _image(self, unit: Unit, data: bytes | None) -> dict:
        task = unit.task
        if data is None:
            return {"detail": self.executor.run(task, self._reporter(task), self.stop.checker())}
        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        local = dataclasses.replace(task, source=folder / task.source.name,
                                    output=folder / ("out-" + task.output.name))  # fmt: skip
        local.source.write_bytes(data)
        try:
            detail = self.executor.run(local, self._reporter(task), self.stop.checker())
            return {"detail": detail, "output": local.output.read_bytes()}
        except VidstyleError as error:
            names = {local.source: task.source, local.output: task.output}
            raise _renamed(error, names) from None
        finally:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()

    def _shot(self, unit: Unit) -> dict:
        from vidstyle.pipeline.video import FrameLoop

        task = unit.task
        engine = self.executor.engine(task.method)
        first = unit.frames[0].rgb
        engine.check_fits(task.source, first.shape[0], first.shape[1])
        reporter = self._reporter(task)
        reporter.begin(unit.of or len(unit.frames), "frames")
        loop = FrameLoop(
            engine, self.executor.task_style(task), task.video, reporter, stop=self.stop.checker()
        )
        previous, frames, records = None, [], []
        for frame in unit.frames:
            previous, record = loop.run(frame, previous)
            frames.append(np.ascontiguousarray(previous.result))
            records.append(record)
        return {"frames": frames, "records": records, "detail": {}}

    def _reporter(self, task: Task) -> TaskReporter:
        return TaskReporter(self.events, task, self.stop)

    def _prime_style(self, path: Path, data: bytes) -> None:
        if path in self.executor.styles:
            return
        from vidstyle.media.images import load_image

        local = self.scratch / f"style-{len(self.executor.styles)}{path.suffix}"
        local.write_bytes(data)
        try:
            self.executor.styles[path] = load_image(local).rgb
        except VidstyleError as error:
            raise _renamed(error, {local: path}) from None
        finally:
            local.unlink()


def _renamed(error: VidstyleError, names: dict[Path, Path]) -> VidstyleError:
    """The same error with the worker's scratch copies named as the driver's files."""
    path, reason = error.path, error.reason
    for local, real in names.items():
        path = real if path == local else path
        reason = reason.replace(str(local), str(real))
    renamed = VidstyleError.__new__(type(error))
    VidstyleError.__init__(renamed, path, reason, error.hint)
    return renamed
