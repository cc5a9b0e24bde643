"""The executor: makes a task's output in this process, with the engines and style images it
has built and loaded kept for the next task (the runner claims, the executor runs)."""

from __future__ import annotations

from collections.abc import Callable

from vidstyle.engine.request import Stop
from vidstyle.errors import ResumeError, VidstyleError
from vidstyle.jobs.plan import Task
from vidstyle.progress import Reporter

EngineFactory = Callable[[object], object]  # MethodConfig -> Engine


class Executor:
    """Runs tasks in this process: one engine per method (the VGG19 weights loaded once per set
    of layers and precision), style images and their Gram targets cached.

    Args:
        engine_factory: builds an engine for a :class:`MethodConfig` (tests: the tiny model).
        resume: what a clip does with a work folder of another run in the way: ``auto`` starts
            over (a batch: the ledger already made it a new task), ``refuse`` raises
            :class:`ResumeError` (the ``video`` command without ``--restart``), ``restart``
            discards it.
        measure: give each still its style drop (for the batch report; the one-shot commands,
            which show none, skip its forward passes).
    """

    def __init__(self, engine_factory: EngineFactory, resume: str = "auto", measure: bool = True):
        self.engine_factory = engine_factory
        self.resume = resume
        self.measure = measure
        self.engines: dict = {}
        self.styles: dict = {}
        self.results: dict = {}  # task key -> what the pipeline returned (for the one-shots)

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

    def run(self, task: Task, reporter: Reporter, stop: Stop | None = None) -> dict:
        """Make the task's output. Returns what the report shows of it (a clip's summary).

        ``stop`` is called between chunks of steps and raises to stop (see
        :meth:`vidstyle.jobs.stop.StopFlag.checker`).

        Raises:
            VidstyleError: for an unusable input or output; Stopped: when asked to stop.
        """
        engine = self.engine(task.method)
        style = self.task_style(task)
        if task.kind == "image":
            from vidstyle.pipeline.image import stylize_file

            reporter.start_item(task.label, engine.method.steps)
            result = stylize_file(engine, task.source, style, task.output, reporter, stop=stop)
            self.results[task.key] = result
            return self._still(task, style, result)
        from vidstyle.pipeline.video import stylize_clip

        args = (engine, task.source, style, task.output, task.video, reporter)
        try:
            done = stylize_clip(*args, restart=self.resume == "restart", stop=stop)
        except ResumeError:  # a work folder of an older task with other options: start over
            if self.resume != "auto":
                raise
            done = stylize_clip(*args, restart=True, stop=stop)
        self.results[task.key] = done
        return {"report": str(done.report_path), "summary": done.summary}

    def run_group(self, tasks: list[Task], reporter: Reporter, stop: Stop | None = None
                  ) -> list[Outcome]:  # fmt: skip
        """Make the outputs of images of one method, style and working size in one engine call
        (a batch too large for memory, or refused by the device, goes one image at a time).

        Returns:
            Per task: (its detail, None), or (None, the error that failed it alone).
        """
        from vidstyle.pipeline.image import stylize_files

        first = tasks[0]
        engine = self.engine(first.method)
        style = self.task_style(first)
        reporter.start_item(f"{first.label} +{len(tasks) - 1}", engine.method.steps)
        jobs = [(task.source, task.output) for task in tasks]
        outcomes, results = [], stylize_files(engine, jobs, style, reporter, stop=stop)
        for task, (result, error) in zip(tasks, results, strict=True):
            if error is None:
                self.results[task.key] = result
                outcomes.append((self._still(task, style, result), None))
            else:
                outcomes.append((None, error))
        return outcomes

    def _still(self, task: Task, style, result) -> dict:
        """What the report shows of a still: its size and its style drop."""
        from vidstyle.pipeline.image import style_drop

        detail = {"width": int(result.shape[1]), "height": int(result.shape[0])}
        if self.measure:
            detail["style_drop"] = style_drop(self.engine(task.method), style, task.source, result)
        return detail


Outcome = tuple[dict | None, VidstyleError | None]
