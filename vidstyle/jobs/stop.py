"""Stopping a run, and what a pipeline reports during one task.

SIGINT (Ctrl-C) and SIGTERM set a flag (:func:`stop_on_signals`) that the engine reads after
each chunk of steps (:meth:`StopFlag.checker`, passed to the pipeline as ``stop``, apart from the
progress reporter): the task goes back to ``pending`` and the run returns, for exit
codes 130 and 143; a second Ctrl-C interrupts at once. At the deadline a clip under way stops
between frames. The one-shot commands install no handlers (``StopFlag(watched=False)``).
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass

from vidstyle.jobs.plan import Task
from vidstyle.progress import NullReporter, Reporter


class Stopped(Exception):
    """Raised at a chunk or frame boundary when the run must stop (signal or deadline)."""


@dataclass
class StopFlag:
    """Why the run should stop: a signal number, or the deadline (epoch seconds) passing."""

    deadline: float | None = None
    signal: int | None = None
    watched: bool = True  # False: nothing sets ``signal`` (no handlers), no need to read it often

    def check_signal(self) -> None:
        if self.signal is not None:
            raise Stopped(f"signal {self.signal}")

    def check_deadline(self) -> None:
        if self.deadline is not None and time.time() >= self.deadline:
            raise Stopped("deadline")

    def checker(self):
        """What the engine calls after each chunk of steps (``stop`` of the pipeline): raises
        :class:`Stopped` once a signal came; None when nothing can set it (a one-shot run)."""
        return self.check_signal if self.watched else None


class TaskReporter(NullReporter):
    """What a pipeline reports during one task, passed on to the run's reporter: the steps of
    each image or frame; the signal and the deadline are read as each image or frame starts (the
    engine reads the signal between chunks itself, through :meth:`StopFlag.checker`).

    Args:
        outer: the run's reporter.
        task: the task (a group's first).
        stop: the stop flag.
        inline: the task's own items are the run's (one clip run alone: its frames are the run's
            bar), so its ``begin``, ``end_item`` and ``end`` are passed on too and its items keep
            their names.
        recorder: told a clip's finished frames as they end (``progress``), and the frames it
            resumes from (``resumed``, as its first frame to run starts); None: not told.
    """

    def __init__(self, outer: Reporter, task: Task, stop: StopFlag, inline: bool = False,
                 recorder=None):  # fmt: skip
        self.outer, self.task, self.stop, self.inline = outer, task, stop, inline
        self.recorder = recorder
        self.frames: int | None = None
        self.finished, self.running = 0, False  # a clip's frames ended; whether one ran yet

    @property
    def wants_steps(self) -> bool:
        """Whether the run's reporter shows steps (the loss is read back only for it)."""
        return getattr(self.outer, "wants_steps", True)

    def begin(self, total: int | None, unit: str) -> None:
        self.frames = total
        if self.inline:
            self.outer.begin(total, unit)

    def start_item(self, name: str, steps: int) -> None:
        self.stop.check_signal()
        if self.task.kind == "video":
            self.stop.check_deadline()  # a clip stops between frames at the deadline
            if not self.running and self.finished and self.recorder is not None:
                self.recorder.resumed(self.task, self.finished, self.frames)
            self.running = True
            if not self.inline:
                of = f"/{self.frames}" if self.frames else ""
                name = f"{self.task.label} {name}{of}"
        self.outer.start_item(name, steps)

    def step(self, done: int, loss: float) -> None:
        self.outer.step(done, loss)

    def level(self, index: int, works: list) -> None:
        self.outer.level(index, works)

    def end_item(self, name: str, status: str, seconds: float) -> None:
        if self.task.kind == "video" and status in ("done", "skipped"):
            self.finished += 1
            if self.recorder is not None and status == "done":
                self.recorder.progress(self.task, self.finished, self.frames)
        if self.inline:
            self.outer.end_item(name, status, seconds)

    def end(self) -> None:
        if self.inline:
            self.outer.end()


def stop_on_signals(stop: StopFlag):
    """Install SIGINT and SIGTERM handlers that set ``stop.signal`` (a second Ctrl-C interrupts
    at once); returns a function that puts the old handlers back. Only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        if stop.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.signal = signum

    for sig in old:
        signal.signal(sig, handler)
    return lambda: [signal.signal(sig, previous) for sig, previous in old.items()]
