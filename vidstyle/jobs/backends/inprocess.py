"""The in-process back end: one lane, this process. A claim takes one task, or (``group_size``)
images of one method, style and working size together, to be optimized in one engine call;
dispatching runs them at once with the :class:`~vidstyle.jobs.executor.Executor`, under the
ledger's heartbeat, and records each one's outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from vidstyle.errors import InternalError, VidstyleError, debugging
from vidstyle.jobs.executor import Executor
from vidstyle.jobs.plan import Task
from vidstyle.jobs.recorder import Recorder
from vidstyle.jobs.stop import StopFlag, Stopped, TaskReporter
from vidstyle.progress import Reporter

LANE = "here"


class InProcess:
    """Runs claimed tasks in this process (see the module's docstring).

    Args:
        tasks: the plan (already in the ledger).
        executor: runs one task, or a group of same-size images.
        recorder: records every outcome.
        reporter: where the tasks' own steps (and an inline clip's frames) go.
        stop: the stop flag the tasks read.
        inline: the task's own items are the run's (see :class:`TaskReporter`).
        group_size: tasks claimed together (up to this many with an equal ``group_key``).
        group_key: which tasks may run together (None: alone).
    """

    def __init__(self, tasks: list[Task], executor: Executor, recorder: Recorder,
                 reporter: Reporter, stop: StopFlag, inline: bool = False, group_size: int = 1,
                 group_key: Callable[[Task], Hashable | None] | None = None):  # fmt: skip
        self.by_key = {t.key: t for t in tasks}
        self.executor, self.recorder, self.reporter, self.stop = executor, recorder, reporter, stop
        self.inline, self.group_size = inline, group_size
        self.group = _cached(lambda key: group_key(self.by_key[key])) if group_key else None
        self.ran = False  # a dispatch ran since the last collect

    def idle(self) -> list:
        """The one lane, unless work waits to be collected."""
        return [] if self.ran else [LANE]

    def claim(self, lane) -> list[Task] | None:
        """A task, or a group of tasks, that fits the deadline (or a clip that does not, when
        nothing fits and time remains: see :meth:`Recorder.anyway`)."""
        keys = self.recorder.ledger.claim_group(
            self.recorder.fits, set(self.by_key), self.group_size, self.group, self.recorder.anyway
        )
        self.recorder.recovered({key: task.label for key, task in self.by_key.items()})
        return [self.by_key[key] for key in keys] or None

    def dispatch(self, lane, tasks: list[Task]) -> bool:
        """Run the tasks now and record what became of each."""
        self.ran = True
        began = time.monotonic()
        for task in tasks:
            self.recorder.started(task)
        inner = TaskReporter(self.reporter, tasks[0], self.stop, self.inline, self.recorder)
        stop = self.stop.checker()
        retry = False
        try:
            with self.recorder.ledger.beating(*(task.key for task in tasks)):
                if len(tasks) == 1:
                    outcomes = [(self.executor.run(tasks[0], inner, stop), None)]
                else:
                    outcomes = self.executor.run_group(tasks, inner, stop)
        except Stopped as why:
            seconds = (time.monotonic() - began) / len(tasks)
            for task in tasks:
                self.recorder.stopped(task, seconds, str(why))
            return True
        except VidstyleError as error:  # the input or output itself: another attempt cannot help
            outcomes = [(None, error)] * len(tasks)
        except Exception as error:
            if debugging():
                raise
            outcomes = [(None, InternalError(task.source, error)) for task in tasks]
            retry = True
        seconds = (time.monotonic() - began) / len(tasks)
        for task, (detail, error) in zip(tasks, outcomes, strict=True):
            if error is None:
                self.recorder.done(task, seconds, detail)
            else:
                self.recorder.failed(task, seconds, error, retry)
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


def _cached(function):
    memo: dict = {}

    def cached(key):
        if key not in memo:
            memo[key] = function(key)
        return memo[key]

    return cached
