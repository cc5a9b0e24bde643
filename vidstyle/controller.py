"""The library side of the ``image``, ``folder``, ``video`` and ``demo`` commands: check the
paths, plan the work as :class:`vidstyle.jobs.plan.Task` s, build the engine only when there is
work, and run the plan in this process with :func:`vidstyle.jobs.runner.run_tasks`, the runner
batch jobs use (:mod:`vidstyle.batch`), reporting through the same reporter. The one-shot
commands keep their ledger in memory: no run folder is written beside the user's files. Nothing
here prints; the caller passes ``make_engine`` (which may say where the weights came from) and a
reporter.

What differs from a batch is said to the runner, not done beside it: how the run is shown
(:class:`vidstyle.jobs.runner.View`: images, or a clip's frames), a folder's grouped claims
(same-size images ``--batch`` at a time, in one engine call) and its manifest, recorded as each
output finishes, and the video command's refusal to discard an unfinished run without
``restart``. An item that fails fails alone; the one-shot image and video raise its error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidstyle.config import FolderConfig, MethodConfig, VideoConfig
from vidstyle.errors import InputError, UsageError
from vidstyle.jobs.backends.inprocess import InProcess
from vidstyle.jobs.executor import Executor, MakeEngine
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.plan import Task
from vidstyle.jobs.recorder import RunResult
from vidstyle.jobs.runner import View, run_tasks, same_work
from vidstyle.jobs.stop import StopFlag
from vidstyle.pipeline.styles import StyleSet, paths_of
from vidstyle.progress import NullReporter, Reporter

Styles = Path | list[Path]  # one style painting, or several blended (``style_blend``)


def style_stem(style: Styles) -> str:
    """The styles' names for a default output name: ``starry`` or ``starry+scream``."""
    return "+".join(path.stem for path in paths_of(style))


def stylize_image(
    content: Path,
    style: Styles,
    output: Path,
    method: MethodConfig,
    make_engine: MakeEngine,
    reporter: Reporter | None = None,
) -> np.ndarray:
    """Stylize one image file into ``output``; everything that can be checked is checked before
    the engine is built (the output's format and folder, the photo's header).

    Raises:
        UsageError: an output over an input, or in a format vidstyle does not write;
        InputError, DecodeError, EncodeError, TooLargeError: naming the file.
    """
    from vidstyle.media.formats import check_output
    from vidstyle.media.images import check_distinct, check_image

    check_distinct([content, *paths_of(style)], output)
    check_output(output)
    check_image(content)
    executor, styles = _executor(make_engine, style, method)
    task = Task(key="image", job="image", kind="image", source=content, style=styles.paths[0],
                output=output, blend=styles.blend, method=method, steps=method.steps,
                name=content.name)  # fmt: skip
    executor.engine(method)
    _raise_failure(_run([task], executor, reporter, View(unit="images", estimates=False))[0])
    return executor.results[task.key]


def stylize_folder(
    input_dir: Path,
    style: Styles,
    output: Path,
    method: MethodConfig,
    config: FolderConfig,
    make_engine: MakeEngine,
    reporter: Reporter | None = None,
):
    """Plan the folder, skip what its manifest vouches for, build the engine once if anything is
    left, and stylize the rest (same-size images ``config.batch_size()`` at a time).

    Returns:
        One :class:`vidstyle.pipeline.folder.ItemResult` per image.

    Raises:
        UsageError: the output folder is the input folder; InputError: no images there.
    """
    from vidstyle.fsutil import same_file
    from vidstyle.pipeline import folder as folder_pipeline

    if same_file(input_dir, output):
        raise UsageError(
            output, "output folder is the input folder", hint="choose another {output}"
        )
    items = folder_pipeline.plan(input_dir, output, config)
    executor, styles = _executor(make_engine, style, method)
    job = folder_pipeline.prepare(items, output, config, styles, method)
    batch = config.batch_size() if job.todo else 1
    tasks = [_folder_task(d, styles, method, batch, n) for n, d in enumerate(job.todo.values())]
    if tasks:
        executor.engine(method)
    shown = _Settled(reporter or NullReporter(), job.settled())
    view = View(unit="images", estimates=False, group_size=batch, group_key=same_work,
                finished=lambda task: job.finished(task.key))  # fmt: skip
    result, rows = _run(tasks, executor, shown, view)
    ran = {key: (row.status, row.seconds, row.error) for key, row in rows.items()}
    for key, (status, _, _) in ran.items():  # a GPU fault stops the run: the images left
        if result.stopped_by and status not in ("done", "failed"):
            why = f"{job.todo[key].item.source}: not run: stopped by {result.stopped_by}"
            ran[key] = ("failed", 0.0, why)
    return job.results(ran)


def _folder_task(decision, styles: StyleSet, method: MethodConfig, batch: int, position: int):
    """The runner's task for a folder's image, keyed by its name; its working size (from the
    header) when images are batched."""
    from vidstyle.media.images import fitted_size, probe_size

    item, size = decision.item, None
    if batch > 1 and (found := probe_size(item.source)) is not None:
        size = fitted_size(*found, method.max_size)
    return Task(key=item.name, job="folder", kind="image", source=item.source,
                style=styles.paths[0], output=item.output, blend=styles.blend, method=method,
                steps=method.steps, position=position, size=size, name=item.name)  # fmt: skip


class _Settled:
    """The reporter of a folder's run, which tells the items settled before it (skipped, or
    failed at once) first, counted in the run's bar."""

    def __init__(self, outer: Reporter, settled: list):
        self.outer, self.settled = outer, settled

    def __getattr__(self, name: str):
        return getattr(self.outer, name)

    def begin(self, total: int | None, unit: str) -> None:
        self.outer.begin(None if total is None else total + len(self.settled), unit)
        for result in self.settled:
            self.outer.end_item(result.item.name, result.status, 0.0)


def stylize_video(
    source: Path,
    style: Styles,
    output: Path | None,
    method: MethodConfig,
    config: VideoConfig,
    make_engine: MakeEngine,
    reporter: Reporter | None = None,
    restart: bool = False,
):
    """Check the paths, build the engine and stylize the clip (resuming an unfinished run).

    ``output`` defaults to ``<source>_<style>.mp4`` (a folder for a frame folder) here.

    Returns:
        The :class:`vidstyle.pipeline.video.VideoResult`.
    """
    from vidstyle.media.images import check_distinct
    from vidstyle.pipeline.clip import check_outputs

    if not source.exists():
        raise InputError(source, "no such file or folder")
    default = f"{source.stem}_{style_stem(style)}" + ("" if source.is_dir() else ".mp4")
    output = output or Path(default)
    check_distinct([source, *paths_of(style)], output)
    check_outputs(source, output, config)
    executor, styles = _executor(make_engine, style, method, "restart" if restart else "refuse")
    task = Task(key="video", job="video", kind="video", source=source, style=styles.paths[0],
                output=output, blend=styles.blend, method=method, video=config,
                name=source.name)  # fmt: skip
    executor.engine(method)
    view = View(unit="frames", estimates=False, inline=True)
    _raise_failure(_run([task], executor, reporter, view)[0])
    return executor.results[task.key]


def _executor(make_engine: MakeEngine, style: Styles, method: MethodConfig, resume="auto"):
    """An executor building engines with ``make_engine``, and the :class:`StyleSet` (read, and
    its number checked against ``style_blend``), whose pixels the executor starts with."""
    executor = Executor(make_engine, resume, measure=False, keep=True)  # no style drop shown
    styles = StyleSet.load(style, method)
    executor.styles.update(zip(styles.paths, styles.pixels, strict=True))
    return executor, styles


def _run(tasks: list[Task], executor: Executor, reporter: Reporter | None, view: View):
    """Run a one-shot plan through the runner, its ledger in memory (an unexpected error is not
    tried again; no signal handlers: Ctrl-C interrupts as KeyboardInterrupt).

    Returns:
        The :class:`RunResult` and the ledger's row of each task, by key.
    """
    ledger = Ledger(None, max_attempts=1)
    try:
        ledger.sync(tasks)
        stop = StopFlag(watched=False)
        result = run_tasks(tasks, ledger, InProcess(executor), reporter, stop, view=view)
        return result, {row.key: row for row in ledger.rows()}
    finally:
        ledger.close()


def _raise_failure(result: RunResult) -> None:
    """The error of a one-task run's failed task, raised."""
    for error in result.errors.values():
        raise error


DEMO_METHOD = MethodConfig(max_size=192, steps=100, optimizer="lbfgs")
"""The demo: photos at 192 px (the clip at 128 px), 100 L-BFGS iterations per image and first
frame, 20 for each later frame: a few minutes on a 2-core CPU."""


def demo_photos(output: Path, samples: Path, make_engine: MakeEngine, reporter=None):
    """The bundled photos in the style of the bundled painting, into ``output``."""
    config = FolderConfig(overwrite=True, suffix=".png", batch=1)
    return stylize_folder(samples / "photos", samples / "swirls.jpg", output, DEMO_METHOD,
                          config, make_engine, reporter)  # fmt: skip


def demo_clip(output: Path, samples: Path, make_engine: MakeEngine, reporter=None):
    """The first 12 frames of the bundled clip, with its sound, into ``output/pan.mp4``."""
    clip = VideoConfig(steps_first=100, steps_next=20, max_frames=12)
    return stylize_video(samples / "pan.mp4", samples / "swirls.jpg", output / "pan.mp4",
                         DEMO_METHOD.replace(max_size=128), clip, make_engine, reporter,
                         restart=True)  # fmt: skip


def find_samples() -> Path:
    """The bundled ``samples/`` folder: beside the package in a checkout, or in this folder.

    Raises:
        UsageError: when neither has them.
    """
    for candidate in (Path(__file__).resolve().parent.parent / "samples", Path("samples")):
        if (candidate / "swirls.jpg").is_file() and (candidate / "pan.mp4").is_file():
            return candidate
    raise UsageError(Path("samples"), "bundled samples not found", hint="pass {samples} DIR")
