"""The runner: claims tasks from the ledger and runs them until none is left, the deadline says no
more fit, or a signal asks it to stop. Every command that stylizes runs its plan of
:class:`~vidstyle.jobs.plan.Task` here: ``batch`` with its ledger on disk, ``image``, ``folder``
and ``video`` with one in memory (see :mod:`vidstyle.controller`). Tasks are claimed one at a
time, or (:class:`View` ``group_size``) images of one method, style and working size together,
to be optimized in one engine call.

Stopping is orderly. SIGINT (Ctrl-C) and SIGTERM set a flag that the next chunk of steps reads:
the task goes back to ``pending`` (the attempt not counted) and the runner returns, for exit
codes 130 and 143. A second Ctrl-C interrupts at once. At the deadline a clip under way stops
between frames (its finished frames are kept in its work folder) and no new task starts whose
estimate says it cannot end in time. A ``kill -9`` loses at most the image or frame under way:
outputs are written atomically, and the next run finds the task of the dead process. The one-shot
commands install no handlers (``StopFlag(watched=False)``): Ctrl-C raises KeyboardInterrupt
through the run, finished outputs kept.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from vidstyle.errors import InternalError, VidstyleError, debugging, param, render
from vidstyle.jobs.executor import Executor
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.plan import Task
from vidstyle.progress import NullReporter, Reporter

# Seconds per optimization step per working pixel before a task has been measured: this
# project's 2-core CPU (benchmarks/step.py: 0.83 s per step at 256x256, 3.26 s at 512x512).
PRIOR_SECONDS_PER_STEP_PIXEL = 1.3e-5


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


class TaskReporter(NullReporter):
    """What a pipeline reports during one task, passed on to the run's reporter: the steps of
    each image or frame, with the stop flag read at every chunk and the deadline at every frame.

    Args:
        outer: the run's reporter.
        task: the task (a group's first).
        stop: the stop flag.
        inline: the task's own items are the run's (one clip run alone: its frames are the run's
            bar), so its ``begin``, ``end_item`` and ``end`` are passed on too and its items keep
            their names.
    """

    def __init__(self, outer: Reporter, task: Task, stop: StopFlag, inline: bool = False):
        self.outer, self.task, self.stop, self.inline = outer, task, stop, inline
        self.frames: int | None = None

    @property
    def wants_steps(self) -> bool:
        """The stop flag is read at every chunk, unless nothing can set it (a one-shot run)."""
        return self.stop.watched or getattr(self.outer, "wants_steps", True)

    def begin(self, total: int | None, unit: str) -> None:
        self.frames = total
        if self.inline:
            self.outer.begin(total, unit)

    def start_item(self, name: str, steps: int) -> None:
        self.stop.check_signal()
        if self.task.kind == "video":
            self.stop.check_deadline()  # a clip stops between frames at the deadline
            if not self.inline:
                of = f"/{self.frames}" if self.frames else ""
                name = f"{self.task.label} {name}{of}"
        self.outer.start_item(name, steps)

    def step(self, done: int, loss: float) -> None:
        self.outer.step(done, loss)
        self.stop.check_signal()

    def level(self, index: int, works: list) -> None:
        self.outer.level(index, works)

    def end_item(self, name: str, status: str, seconds: float) -> None:
        if self.inline:
            self.outer.end_item(name, status, seconds)

    def end(self) -> None:
        if self.inline:
            self.outer.end()


@dataclass(frozen=True)
class View:
    """How a run shows its tasks, and what its caller does as each one ends.

    Attributes:
        unit: what the run's bar counts (``tasks``, ``images``).
        estimates: tell the reporter the seconds of work left (from the ledger's speed).
        inline: a run of one clip whose frames are the run's items (see :class:`TaskReporter`):
            the run itself reports nothing.
        group_size: tasks claimed together: up to this many with equal ``group_key`` run in one
            engine call (GPU batching), each still done or failed on its own.
        group_key: which tasks may run together (None: alone), see :func:`same_work`.
        finished: called with each task whose output is written, before it counts as done (the
            folder's manifest records it there); a VidstyleError it raises fails the task. It
            returns the status to show (None: ``done``).
    """

    unit: str = "tasks"
    estimates: bool = True
    inline: bool = False
    group_size: int = 1
    group_key: Callable[[Task], Hashable | None] | None = None
    finished: Callable[[Task], str | None] | None = None


@dataclass
class RunResult:
    """How a run ended: tasks it finished and failed, and the signal that stopped it."""

    done: int = 0
    failed: int = 0
    stopped_by: str | None = None  # "deadline", or "signal N"
    signal: int | None = None
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    errors: dict[str, VidstyleError] = field(default_factory=dict)  # task key -> its error


def estimate(ledger: Ledger, steps: int, pixels: int) -> float:
    """Seconds a task of ``steps`` steps at ``pixels`` working pixels should take here."""
    rate = ledger.seconds_per_step_pixel() or PRIOR_SECONDS_PER_STEP_PIXEL
    return rate * steps * max(pixels, 1)


def work_left(ledger: Ledger) -> float:
    """Estimated seconds for the plan's tasks not yet done (pending or running)."""
    rows = [r for r in ledger.rows() if r.status in ("pending", "running")]
    return sum(estimate(ledger, r.steps, r.pixels) for r in rows)


def same_work(task: Task) -> Hashable | None:
    """What images must share to run in one engine call: the method, the style and the working
    size (from the header); None for a clip or an unreadable header."""
    if task.kind != "image" or not task.size:
        return None
    return (task.method, task.style, task.size)


def run_tasks(
    tasks: list[Task],
    ledger: Ledger,
    executor: Executor,
    reporter: Reporter | None = None,
    stop: StopFlag | None = None,
    after_task: Callable[[], None] | None = None,
    log: Callable[[str], None] | None = None,
    view: View | None = None,
) -> RunResult:
    """Claim and run the plan's pending tasks until none is left (or none fits the deadline).

    Args:
        tasks: the plan (already in the ledger, see :meth:`Ledger.sync`).
        ledger: the run's ledger.
        executor: runs one task (or a group of same-size images).
        reporter: progress: the run's tasks, and each image's or frame's steps.
        stop: the deadline and the signal flag (see :func:`stop_on_signals`).
        after_task: called after every task (the report is rewritten there).
        log: where a line about every task goes (``run.log``).
        view: how the run is shown, grouped claims, and the hook as a task finishes.

    Returns:
        What the run did and why it stopped.
    """
    reporter, stop, view = reporter or NullReporter(), stop or StopFlag(), view or View()
    log = log or (lambda line: None)
    by_key = {t.key: t for t in tasks}
    shown = NullReporter() if view.inline else reporter  # what the run itself reports
    pending = [r for r in ledger.rows() if r.status in ("pending", "running")]
    result, started = RunResult(), time.monotonic()
    shown.begin(len(pending), view.unit)
    if view.estimates:
        shown.remaining(work_left(ledger))
    group = _cached(lambda key: view.group_key(by_key[key])) if view.group_key else None
    run = _Run(ledger, executor, reporter, shown, stop, result, log, view)

    def fits(steps: int, pixels: int) -> bool:
        return (
            stop.deadline is None or time.time() + estimate(ledger, steps, pixels) <= stop.deadline
        )

    try:
        while stop.signal is None:
            keys = ledger.claim_group(fits, set(by_key), view.group_size, group)
            if not keys:
                if stop.deadline is not None and ledger.count("pending"):
                    result.stopped_by = "deadline"
                break
            run.claimed([by_key[key] for key in keys])
            if view.estimates:
                shown.remaining(work_left(ledger))
            if after_task is not None:
                after_task()
            if result.stopped_by:
                break
    finally:
        shown.end()
    result.seconds = time.monotonic() - started
    return result


def _cached(function):
    memo: dict = {}

    def cached(key):
        if key not in memo:
            memo[key] = function(key)
        return memo[key]

    return cached


@dataclass
class _Run:
    """Runs claimed tasks and records what became of each."""

    ledger: Ledger
    executor: Executor
    reporter: Reporter  # where the tasks' own steps (and an inline clip's frames) go
    shown: Reporter  # where the run reports its tasks
    stop: StopFlag
    result: RunResult
    log: Callable[[str], None]
    view: View

    def claimed(self, tasks: list[Task]) -> None:
        began = time.monotonic()
        for task in tasks:
            self.log(f"start {task.label}: {task.kind}, {task.steps} steps, to {task.output}")
        inner = TaskReporter(self.reporter, tasks[0], self.stop, self.view.inline)
        retry = False
        try:
            with self.ledger.beating(*(task.key for task in tasks)):
                if len(tasks) == 1:
                    outcomes = [(self.executor.run(tasks[0], inner), None)]
                else:
                    outcomes = self.executor.run_group(tasks, inner)
        except Stopped as why:
            return self._stopped(tasks, why, (time.monotonic() - began) / len(tasks))
        except VidstyleError as error:  # the input or output itself: another attempt cannot help
            outcomes = [(None, error)] * len(tasks)
        except Exception as error:
            if debugging():
                raise
            outcomes = [(None, InternalError(task.source, error)) for task in tasks]
            retry = True
        seconds = (time.monotonic() - began) / len(tasks)
        for task, (detail, error) in zip(tasks, outcomes, strict=True):
            self._ended(task, detail, error, seconds, retry)

    def _ended(self, task, detail, error, seconds: float, retry: bool) -> None:
        status = None
        if error is None and self.view.finished is not None:
            try:
                status = self.view.finished(task)
            except VidstyleError as failure:
                error = failure
        if error is not None:
            return self._failed(task, error, seconds, retry)
        self.ledger.finish(task.key, seconds, detail)
        self.result.done += 1
        self.shown.end_item(task.label, status or "done", seconds)

    def _stopped(self, tasks, why: Stopped, seconds: float) -> None:
        self.result.stopped_by, self.result.signal = str(why), self.stop.signal
        for task in tasks:
            self.ledger.release(task.key, seconds)
            self.log(f"stopped {task.label} ({why}); it is pending again")
            self.shown.end_item(task.label, "stopped", seconds)

    def _failed(self, task, error: VidstyleError, seconds: float, retry: bool) -> None:
        message = error.message(param)
        (self.ledger.fail if retry else self.ledger.give_up)(task.key, seconds, message)
        self.result.failed += 1
        self.result.failures.append(message)
        self.result.errors[task.key] = error
        self.log(f"failed {task.label}: {render(message)}")
        self.shown.end_item(task.label, "failed", seconds)


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
