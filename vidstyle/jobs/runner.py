"""The runner: claims tasks from the ledger one at a time and runs them until none is left, the
deadline says no more fit, or a signal asks it to stop.

Stopping is orderly. SIGINT (Ctrl-C) and SIGTERM set a flag that the next chunk of steps reads:
the task goes back to ``pending`` (the attempt not counted) and the runner returns, for exit
codes 130 and 143. A second Ctrl-C interrupts at once. At the deadline a clip under way stops
between frames (its finished frames are kept in its work folder) and no new task starts whose
estimate says it cannot end in time. A ``kill -9`` loses at most the image or frame under way:
outputs are written atomically, and the next run finds the task of the dead process.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vidstyle.errors import InternalError, ResumeError, VidstyleError, debugging, param, render
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

    def check_signal(self) -> None:
        if self.signal is not None:
            raise Stopped(f"signal {self.signal}")

    def check_deadline(self) -> None:
        if self.deadline is not None and time.time() >= self.deadline:
            raise Stopped("deadline")


EngineFactory = Callable[[object], object]  # MethodConfig -> Engine


class Executor:
    """Runs tasks in this process: one engine per method (the VGG19 weights loaded once per set
    of layers and precision), style images and their Gram targets cached.

    Args:
        engine_factory: builds an engine for a :class:`MethodConfig` (tests: the tiny model).
    """

    def __init__(self, engine_factory: EngineFactory):
        self.engine_factory = engine_factory
        self.engines: dict = {}
        self.styles: dict = {}

    def engine(self, method):
        if method not in self.engines:
            self.engines[method] = self.engine_factory(method)
        return self.engines[method]

    def style(self, path):
        from vidstyle.media.images import load_image

        if path not in self.styles:
            self.styles[path] = load_image(path).rgb
        return self.styles[path]

    def task_style(self, task: Task):
        """The task's style painting (HxWx3 uint8), or a blend's paintings as a list."""
        if task.blend:
            return [self.style(path) for path in task.blend]
        return self.style(task.style)

    def run(self, task: Task, reporter: Reporter) -> dict:
        """Make the task's output. Returns what the report shows of it (a clip's summary).

        Raises:
            VidstyleError: for an unusable input or output; Stopped: when asked to stop.
        """
        engine = self.engine(task.method)
        style = self.task_style(task)
        if task.kind == "image":
            from vidstyle.pipeline.image import stylize_file

            reporter.start_item(task.label, engine.method.steps)
            result = stylize_file(engine, task.source, style, task.output, reporter)
            return {"width": int(result.shape[1]), "height": int(result.shape[0])}
        from vidstyle.pipeline.video import stylize_clip

        try:
            done = stylize_clip(engine, task.source, style, task.output, task.video, reporter)
        except ResumeError:  # a work folder of an older task with other options: start over
            done = stylize_clip(engine, task.source, style, task.output, task.video, reporter,
                                restart=True)  # fmt: skip
        return {"report": str(done.report_path), "summary": done.summary}


class TaskReporter(NullReporter):
    """What a pipeline reports during one task, passed on to the run's reporter: the steps of
    each image or frame, with the stop flag read at every chunk and the deadline at every frame."""

    wants_steps = True  # the stop flag is read at every chunk

    def __init__(self, outer: Reporter, task: Task, stop: StopFlag):
        self.outer, self.task, self.stop = outer, task, stop
        self.frames: int | None = None

    def begin(self, total: int | None, unit: str) -> None:
        self.frames = total

    def start_item(self, name: str, steps: int) -> None:
        self.stop.check_signal()
        if self.task.kind == "video":
            self.stop.check_deadline()  # a clip stops between frames at the deadline
            of = f"/{self.frames}" if self.frames else ""
            name = f"{self.task.label} {name}{of}"
        self.outer.start_item(name, steps)

    def step(self, done: int, loss: float) -> None:
        self.outer.step(done, loss)
        self.stop.check_signal()

    def level(self, index: int, works: list) -> None:
        self.outer.level(index, works)


@dataclass
class RunResult:
    """How a run ended: tasks it finished and failed, and the signal that stopped it."""

    done: int = 0
    failed: int = 0
    stopped_by: str | None = None  # "deadline", or "signal N"
    signal: int | None = None
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def estimate(ledger: Ledger, steps: int, pixels: int) -> float:
    """Seconds a task of ``steps`` steps at ``pixels`` working pixels should take here."""
    rate = ledger.seconds_per_step_pixel() or PRIOR_SECONDS_PER_STEP_PIXEL
    return rate * steps * max(pixels, 1)


def work_left(ledger: Ledger) -> float:
    """Estimated seconds for the plan's tasks not yet done (pending or running)."""
    rows = [r for r in ledger.rows() if r.status in ("pending", "running")]
    return sum(estimate(ledger, r.steps, r.pixels) for r in rows)


def run_tasks(
    tasks: list[Task],
    ledger: Ledger,
    executor: Executor,
    reporter: Reporter | None = None,
    stop: StopFlag | None = None,
    after_task: Callable[[], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Claim and run the plan's pending tasks until none is left (or none fits the deadline).

    Args:
        tasks: the plan (already in the ledger, see :meth:`Ledger.sync`).
        ledger: the run's ledger.
        executor: runs one task.
        reporter: progress: the run's tasks, and each image's or frame's steps.
        stop: the deadline and the signal flag (see :func:`stop_on_signals`).
        after_task: called after every task (the report is rewritten there).
        log: where a line about every task goes (``run.log``).

    Returns:
        What the run did and why it stopped.
    """
    reporter, stop = reporter or NullReporter(), stop or StopFlag()
    log = log or (lambda line: None)
    by_key = {t.key: t for t in tasks}
    pending = [r for r in ledger.rows() if r.status in ("pending", "running")]
    result, started = RunResult(), time.monotonic()
    reporter.begin(len(pending), "tasks")
    reporter.remaining(work_left(ledger))

    def fits(steps: int, pixels: int) -> bool:
        return (
            stop.deadline is None or time.time() + estimate(ledger, steps, pixels) <= stop.deadline
        )

    try:
        while stop.signal is None:
            key = ledger.claim(fits, keys=set(by_key))
            if key is None:
                if stop.deadline is not None and ledger.count("pending"):
                    result.stopped_by = "deadline"
                break
            _run_one(by_key[key], ledger, executor, reporter, stop, result, log)
            reporter.remaining(work_left(ledger))
            if after_task is not None:
                after_task()
            if result.stopped_by:
                break
    finally:
        reporter.end()
    result.seconds = time.monotonic() - started
    return result


def _run_one(task, ledger, executor, reporter, stop, result: RunResult, log) -> None:
    began = time.monotonic()
    log(f"start {task.label}: {task.kind}, {task.steps} steps, to {task.output}")
    inner = TaskReporter(reporter, task, stop)
    try:
        with ledger.beating(task.key):
            detail = executor.run(task, inner)
    except Stopped as why:
        seconds = time.monotonic() - began
        ledger.release(task.key, seconds)
        result.stopped_by, result.signal = str(why), stop.signal
        log(f"stopped {task.label} ({why}); it is pending again")
        reporter.end_item(task.label, "stopped", seconds)
        return
    except VidstyleError as error:  # the input or output itself: another attempt cannot help
        _failed(task, ledger, reporter, result, log, began, error.message(param), retry=False)
        return
    except Exception as error:
        if debugging():
            raise
        message = InternalError(task.source, error).message(param)
        _failed(task, ledger, reporter, result, log, began, message, retry=True)
        return
    seconds = time.monotonic() - began
    ledger.finish(task.key, seconds, detail)
    result.done += 1
    reporter.end_item(task.label, "done", seconds)


def _failed(task, ledger, reporter, result, log, began, message: str, retry: bool) -> None:
    seconds = time.monotonic() - began
    (ledger.fail if retry else ledger.give_up)(task.key, seconds, message)
    result.failed += 1
    result.failures.append(message)
    log(f"failed {task.label}: {render(message)}")
    reporter.end_item(task.label, "failed", seconds)


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
