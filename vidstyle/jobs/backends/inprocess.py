"""The in-process back end: one lane, this process. A claim takes one task, or (``group_size``)
images of one setup together, to be optimized in one engine call; dispatching runs them at once
with the :class:`~vidstyle.jobs.executor.Executor`, under the tasks' heartbeat, and hands what
they came to to the recorder. A sticky CUDA fault ends the run there (the recorder's
``stopped_by``): this process's GPU context is broken for good, and nothing restarts it.
"""

from __future__ import annotations

import contextlib
import time

from vidstyle.jobs.executor import Executor, attempt
from vidstyle.jobs.plan import Task
from vidstyle.jobs.recorder import Recorder
from vidstyle.jobs.relay import Relay
from vidstyle.jobs.runner import View
from vidstyle.jobs.stop import StopFlag
from vidstyle.progress import Reporter

LANE = "here"


class InProcess:
    """Runs claimed tasks in this process (see the module's docstring).

    Args:
        executor: runs one task, or a group of same-size images.
    """

    def __init__(self, executor: Executor):
        self.executor = executor
        self.ran = False  # a dispatch ran since the last collect

    @contextlib.contextmanager
    def open(self, recorder: Recorder, reporter: Reporter, stop: StopFlag, view: View):
        """This back end, for one run: ``reporter`` gets the tasks' own steps (and an inline
        clip's frames), ``stop`` is what they read."""
        self.recorder, self.reporter, self.stop, self.view = recorder, reporter, stop, view
        self.ran = False
        yield self

    def idle(self) -> list:
        """The one lane, unless work waits to be collected."""
        return [] if self.ran else [LANE]

    def claim(self, lane) -> list[Task] | None:
        """A task, or a group of tasks, that fits the deadline (see :meth:`Recorder.claim`)."""
        return self.recorder.claim(self.view.group_size, self.view.group_key) or None

    def dispatch(self, lane, tasks: list[Task]) -> bool:
        """Run the tasks now and record what became of each."""
        self.ran = True
        began = time.monotonic()
        for task in tasks:
            self.recorder.started(task)
        relay = Relay(self.reporter, tasks[0], self.view.inline, self.recorder)
        with self.recorder.beating(tasks):
            ran = attempt(tasks, lambda: self.executor.run_all(tasks, relay, self.stop))
        self.recorder.attempted(tasks, ran, time.monotonic() - began)
        return True

    def busy(self) -> bool:
        """Whether a dispatch ran since the last collect (its outcomes are recorded)."""
        return self.ran

    def collect(self) -> None:
        """Nothing to wait for: a dispatch records its outcomes as it ends."""
        self.ran = False

    def halt(self, signum: int) -> None:
        """Nothing under way between dispatches: the stop flag stops a running task."""

    def close(self) -> None:
        """Nothing is left claimed between dispatches."""
