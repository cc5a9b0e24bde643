"""A worker of a batch spread over a Ray cluster: one Ray actor per GPU (or per share of a node's
CPUs), holding one :class:`~vidstyle.jobs.executor.Executor` for its whole life, so the VGG19
weights are loaded once, compiled graphs are kept and style targets are cached.

A worker never touches the ledger: it runs what the driver sends (a :class:`Unit`: images, or a
range of a clip's frames) through the executor, as the in-process back end does, and returns what
it came to (a :class:`~vidstyle.jobs.executor.Ran`, with the seconds). The driver polls it for
progress events (a second thread of the actor answers while the first one works) and may ask it
to stop at the next chunk of steps.

A sticky CUDA fault (an illegal address, a launch failure: :func:`vidstyle.engine.faults.sticky`)
leaves the process's GPU context broken for good: the outcome then says ``restart``, and the
driver has Ray restart this worker's process before it takes another unit
(:mod:`vidstyle.jobs.backends.ray`).

This module does not import Ray: :mod:`vidstyle.jobs.cluster` turns :class:`Worker` into an actor.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from vidstyle.errors import VidstyleError
from vidstyle.jobs.executor import Executor, Outcome, attempt
from vidstyle.jobs.plan import Task
from vidstyle.jobs.relay import Relay
from vidstyle.jobs.stop import StopFlag
from vidstyle.progress import NullReporter


@dataclasses.dataclass(frozen=True)
class Unit:
    """One piece of work for a worker: images, or a range of a clip's frames.

    Attributes:
        tasks: the ledger's tasks: one, or images of one setup to run together (a clip's range:
            its clip).
        part: for a range of a clip's frames, its place among the clip's ranges (its shots);
            None for images.
        frames: for a range, its frames (:class:`vidstyle.media.video.Frame`, working size).
        deadline: epoch seconds after which a range stops between frames, or None.
        carry: images travel through the object store (no shared filesystem): the inputs'
            bytes come with the unit and the outputs' bytes go back.
        of: for a range, the clip's frames in all (for progress lines).
    """

    tasks: tuple[Task, ...]
    part: int | None = None
    frames: tuple = ()
    deadline: float | None = None
    carry: bool = False
    of: int = 0

    @property
    def task(self) -> Task:
        """The unit's first task (a range's clip)."""
        return self.tasks[0]


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

    def run(self, unit: Unit, style: list[bytes] | None = None,
            data: list[bytes] | None = None) -> dict:  # fmt: skip
        """Run a unit. Never raises: what it came to says what happened.

        Args:
            unit: the work.
            style: the style images' bytes when nothing is shared (one per image of the task's
                styles), else None.
            data: the input images' bytes when nothing is shared (one per task), else None.

        Returns:
            ``pid``, ``host``, ``seconds`` and ``ran``: a :class:`~vidstyle.jobs.executor.Ran`
            whose errors are messages; a done image's detail has its output's bytes as
            ``output`` when carried, a done range's its ``frames`` and ``records``.
        """
        began = time.monotonic()
        self.events.take()  # what is left of the unit before
        self.stop = StopFlag(deadline=unit.deadline, signal=self.halted)
        relay = Relay(self.events, unit.task)

        def work() -> list[Outcome]:
            for path, one in zip(unit.task.styles, style or ()):
                self._prime_style(path, one)
            if unit.part is not None:
                relay.begin(unit.of * unit.task.video.passes, "frames")
                frames = list(unit.frames)
                range_ = self.executor.run_range(unit.task, frames, relay, self.stop, self.scratch)
                return [(range_, None)]
            if data is None:
                return self.executor.run_all(list(unit.tasks), relay, self.stop)
            return self._carried(unit.tasks, data, relay)

        ran = attempt(list(unit.tasks), work).portable()
        return self.info() | {"ran": ran, "seconds": time.monotonic() - began}

    def _carried(self, tasks: tuple[Task, ...], data: list[bytes], relay: Relay) -> list[Outcome]:
        """Run images whose bytes came with the unit, from scratch copies; each done one's detail
        carries its output's bytes back. Errors name the driver's files."""
        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        local, names = [], {}
        for i, (task, one) in enumerate(zip(tasks, data)):
            here = folder / str(i)
            here.mkdir()
            copy = dataclasses.replace(task, source=here / task.source.name,
                                       output=here / ("out-" + task.output.name))  # fmt: skip
            copy.source.write_bytes(one)
            local.append(copy)
            names |= {copy.source: task.source, copy.output: task.output}
        try:
            outcomes = self.executor.run_all(local, relay, self.stop)
            return [(detail | {"output": copy.output.read_bytes()}, None) if error is None
                    else (None, _renamed(error, names))
                    for copy, (detail, error) in zip(local, outcomes)]  # fmt: skip
        except VidstyleError as error:
            raise _renamed(error, names) from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)

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
