"""The executor: makes the outputs of a unit of work in this process (a task, images of one
setup together, or a range of a clip's frames), with the engines and style images it has built
and loaded kept for the next one. Both back ends run their work through it: in-process, and each
Ray worker (:mod:`vidstyle.jobs.worker`). :func:`attempt` turns what a unit came to, errors
included, into one :class:`Ran` the run's recorder writes down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vidstyle.engine.faults import library_error, sticky
from vidstyle.errors import (
    DeviceError,
    InternalError,
    ResumeError,
    VidstyleError,
    WeightsError,
    debugging,
    param,
)
from vidstyle.jobs.plan import Task
from vidstyle.jobs.stop import StopFlag, Stopped
from vidstyle.progress import Reporter

MakeEngine = Callable[[object], object]  # a MethodConfig -> an Engine
Outcome = tuple[dict | None, VidstyleError | str | None]  # a task's (detail, None) or (None, error)


@dataclass
class Ran:
    """What one run of a unit of work came to.

    Attributes:
        outcomes: per task of the unit, in order: (its detail, None), or (None, its error).
        stopped: why it stopped (a signal, the deadline), or None; then ``outcomes`` is empty.
        retry: the errors were unexpected: another attempt may succeed.
        fatal: no weights, or a cuDNN that cannot start: every task would fail the same way (the
            run stops).
        restart: a sticky CUDA fault: this process must not run another unit.
    """

    outcomes: list[Outcome] = field(default_factory=list)
    stopped: str | None = None
    retry: bool = False
    fatal: bool = False
    restart: bool = False

    def portable(self) -> Ran:
        """The same, its errors as their messages (naming parameters as ``{name}``): what a
        worker sends back to the driver."""
        outcomes = [(detail, error.message(param) if isinstance(error, VidstyleError) else error)
                    for detail, error in self.outcomes]  # fmt: skip
        return Ran(outcomes, self.stopped, self.retry, self.fatal, self.restart)


def attempt(tasks: list[Task], work: Callable[[], list[Outcome]]) -> Ran:
    """Run ``work`` (the unit's outcomes, one per task) and say what it came to: a stop, an error
    of the input or output (another attempt cannot help), or an unexpected one (it may).
    Without weights, or with a cuDNN that cannot start (also when it reached here unmapped:
    :func:`vidstyle.engine.faults.library_error`), every unit of this process would fail the same
    way (``fatal``); a sticky CUDA fault asks for a restart of the process.
    ``VIDSTYLE_DEBUG=1`` lets an unexpected error through, with its traceback."""
    try:
        return Ran(work())
    except Stopped as why:
        return Ran(stopped=str(why))
    except Exception as error:
        error = library_error(error) or error
        if isinstance(error, VidstyleError):
            fatal = isinstance(error, WeightsError | DeviceError)
            return Ran([(None, error)] * len(tasks), fatal=fatal)
        if debugging():
            raise
        outcomes = [(None, InternalError(task.source, error)) for task in tasks]
        return Ran(outcomes, retry=True, restart=sticky(error))


class Executor:
    """Runs units in this process: one engine per method (the VGG19 weights loaded once per set
    of layers and precision), style images and their Gram targets cached.

    Args:
        engine_factory: builds an engine for a :class:`MethodConfig` (tests: the tiny model).
        resume: what a clip does with a work folder of another run in the way: ``auto`` starts
            over (a batch: the ledger already made it a new task), ``refuse`` raises
            :class:`ResumeError` (the ``video`` command without ``--restart``), ``restart``
            discards it.
        measure: give each still its style drop (for the batch report; the one-shot commands,
            which show none, skip its forward passes).
        keep: keep what the pipeline returned for each task in ``results`` (the one-shot
            commands return it; a night of thousands of tasks would only hold on to them).
    """

    def __init__(self, engine_factory: MakeEngine, resume: str = "auto", measure: bool = True,
                 keep: bool = False):  # fmt: skip
        self.engine_factory = engine_factory
        self.resume, self.measure, self.keep = resume, measure, keep
        self.engines: dict = {}
        self.styles: dict = {}
        self.results: dict = {}  # task key -> what the pipeline returned (with ``keep``)

    def engine(self, method):
        if method not in self.engines:
            self.engines[method] = self.engine_factory(method)
        return self.engines[method]

    def style(self, path):
        """The style painting's pixels; a tuple of paths (a blend) gives a list of them."""
        from vidstyle.media.images import load_image

        if isinstance(path, tuple):
            return [self.style(one) for one in path]
        if path not in self.styles:
            self.styles[path] = load_image(path).rgb
        return self.styles[path]

    def task_style(self, task: Task):
        """The task's style painting (HxWx3 uint8), or a blend's paintings as a list."""
        return self.style(task.blend) if task.blend else self.style(task.style)

    def run_all(self, tasks: list[Task], reporter: Reporter,
                stop: StopFlag | None = None) -> list[Outcome]:  # fmt: skip
        """Make the outputs of one task, or of images of one setup together (see
        :meth:`run_group`). Returns each one's outcome (an error of one image alone is its own;
        any other error raises)."""
        if len(tasks) == 1:
            return [(self.run(tasks[0], reporter, stop), None)]
        return self.run_group(tasks, reporter, stop)

    def run(self, task: Task, reporter: Reporter, stop: StopFlag | None = None) -> dict:
        """Make the task's output. Returns what the report shows of it (a clip's summary).

        The engine reads ``stop`` between chunks of steps, and a clip as each frame starts (see
        :class:`vidstyle.jobs.stop.StopFlag`).

        Raises:
            VidstyleError: for an unusable input or output; Stopped: when asked to stop.
        """
        engine = self.engine(task.method)
        style = self.task_style(task)
        if task.kind == "image":
            from vidstyle.pipeline.image import stylize_file

            reporter.start_item(task.label, engine.method.steps)
            result = stylize_file(engine, task.source, style, task.output, reporter,
                                  stop=_chunks(stop))  # fmt: skip
            self._keep(task, result)
            return self._still(task, style, result)
        from vidstyle.pipeline.video import stylize_clip

        args = (engine, task.source, style, task.output, task.video, reporter)
        stops = {"stop": _chunks(stop), "frame_stop": _frames(stop)}
        try:
            done = stylize_clip(*args, restart=self.resume == "restart", **stops)
        except ResumeError:  # a work folder of an older task with other options: start over
            if self.resume != "auto":
                raise
            done = stylize_clip(*args, restart=True, **stops)
        self._keep(task, done)
        return {"report": str(done.report_path), "summary": done.summary}

    def run_group(self, tasks: list[Task], reporter: Reporter,
                  stop: StopFlag | None = None) -> list[Outcome]:  # fmt: skip
        """Make the outputs of images of one setup in one engine call (a batch too large for
        memory, or refused by the device, goes one image at a time).

        Returns:
            Per task: (its detail, None), or (None, the error that failed it alone).
        """
        from vidstyle.pipeline.image import stylize_files

        first = tasks[0]
        engine = self.engine(first.method)
        style = self.task_style(first)
        reporter.start_item(f"{first.label} +{len(tasks) - 1}", engine.method.steps)
        jobs = [(task.source, task.output) for task in tasks]
        outcomes, results = [], stylize_files(engine, jobs, style, reporter, stop=_chunks(stop))
        for task, (result, error) in zip(tasks, results, strict=True):
            if error is None:
                self._keep(task, result)
                outcomes.append((self._still(task, style, result), None))
            else:
                outcomes.append((None, error))
        return outcomes

    def run_range(self, task: Task, frames: list, reporter: Reporter, stop: StopFlag | None,
                  scratch: Path) -> dict:  # fmt: skip
        """Stylize a range of a clip's frames on its own (a shot), every pass, in a work folder
        under ``scratch`` (see :func:`vidstyle.pipeline.video.stylize_range`); a clip rendered by
        a trained network: each frame alone (:func:`vidstyle.pipeline.network.render_frames`).

        Returns:
            ``frames`` (the final results, working size) and ``records`` (each frame's).

        Raises:
            TooLargeError: when the frames' working size would not fit in memory; Stopped.
        """
        from vidstyle.pipeline.video import stylize_range

        engine = self.engine(task.method)
        height, width = frames[0].rgb.shape[:2]
        engine.check_fits(task.source, height, width)
        style = self.task_style(task)
        if task.video.render == "network":  # any frame alone, through the trained network
            from vidstyle.pipeline.network import render_frames

            done = render_frames(engine, style, task.video, frames, reporter, _frames(stop))
            return {"frames": [result for result, _ in done], "records": [r for _, r in done]}
        results, records = stylize_range(engine, frames, style, task.video, scratch, reporter,
                                         _chunks(stop), _frames(stop))  # fmt: skip
        return {"frames": results, "records": records}

    def _keep(self, task: Task, result) -> None:
        if self.keep:
            self.results[task.key] = result

    def _still(self, task: Task, style, result) -> dict:
        """What the report shows of a still: its size and its style drop."""
        from vidstyle.pipeline.image import style_drop

        detail = {"width": int(result.shape[1]), "height": int(result.shape[0])}
        if self.measure:
            detail["style_drop"] = style_drop(self.engine(task.method), style, task.source, result)
        return detail


def _chunks(stop: StopFlag | None):
    return None if stop is None else stop.checker()


def _frames(stop: StopFlag | None):
    return None if stop is None else stop.frame_checker()
