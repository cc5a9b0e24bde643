"""The library side of the ``image``, ``folder``, ``video`` and ``demo`` commands: check the
paths, plan the work as :class:`vidstyle.jobs.plan.Task` s, build the engine only when there is
work, and run the plan with :func:`vidstyle.jobs.runner.run_tasks`, the runner batch jobs use
(:mod:`vidstyle.batch`), reporting through the same reporter. The one-shot commands keep their
ledger in memory: no run folder is written beside the user's files. Nothing here prints; the
caller passes ``make_engine`` (which may say where the weights came from) and a reporter.

What differs from a batch is said to the runner, not done beside it: how the run is shown
(:class:`vidstyle.jobs.runner.View`: images, or a clip's frames), a folder's grouped claims
(same-size images ``--batch`` at a time, in one engine call) and its manifest, recorded as each
output finishes, and the video command's refusal to discard an unfinished run without
``restart``. An item that fails fails alone; the one-shot image and video raise its error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from vidstyle.config import FolderConfig, MethodConfig, VideoConfig
from vidstyle.errors import InputError, UsageError
from vidstyle.jobs.executor import Executor
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.plan import Task
from vidstyle.jobs.runner import RunResult, StopFlag, View, run_tasks, same_work
from vidstyle.progress import NullReporter, Reporter

MakeEngine = Callable[[MethodConfig], object]  # a method -> an Engine


Styles = Path | list[Path]  # one style painting, or several blended (``style_blend``)


def style_paths(style: Styles) -> list[Path]:
    """The style paintings as a list."""
    return list(style) if isinstance(style, (list, tuple)) else [style]


def load_style(style: Styles, method: MethodConfig | None = None):
    """The style painting as HxWx3 uint8, or a list of them for several; their number is checked
    against ``method.style_blend`` first.

    Raises:
        UsageError: no style, or ``style_blend`` gives another number of weights.
    """
    from vidstyle.media.images import load_image

    paths = style_paths(style)
    if not paths:
        raise UsageError(None, "no style image", hint="give one with {style}")
    if method is not None:
        method.blend_weights(len(paths))
    if isinstance(style, Path):
        return load_image(style).rgb
    return [load_image(path).rgb for path in paths]


def style_stem(style: Styles) -> str:
    """The styles' names for a default output name: ``starry`` or ``starry+scream``."""
    return "+".join(path.stem for path in style_paths(style))


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

    check_distinct([content, *style_paths(style)], output)
    check_output(output)
    check_image(content)
    executor, styles = _executor(make_engine, style, method)
    task = Task("image", "image", "image", content, styles[0], output, blend=_blend(styles),
                method=method, steps=method.steps, name=content.name)  # fmt: skip
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
    left, and stylize the rest (same-size images ``config.batch`` at a time).

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
    style_rgb = executor.style(_blend(styles) or styles[0])
    job = folder_pipeline.prepare(items, output, config, style_rgb, method)
    todo = {str(n): t for n, t in enumerate(job.todo)}
    tasks = [_folder_task(key, t, styles, method, config.batch) for key, t in todo.items()]

    def finished(task: Task) -> str | None:
        redo = todo[task.key].redo
        job.manifest.record(task.output, todo[task.key].fingerprint)
        reason = folder_pipeline.REDO_REASONS.get(redo)
        return None if reason is None else f"redone ({reason})"

    if tasks:
        executor.engine(method)
    settled = [folder_pipeline.settled(t) for t in job.tasks if t.action != "run"]
    shown = _Settled(reporter or NullReporter(), settled)
    view = View(unit="images", estimates=False, group_size=config.batch, group_key=same_work,
                finished=finished)  # fmt: skip
    _, rows = _run(tasks, executor, shown, view)
    ran = [folder_pipeline.outcome(todo[key], row.status, row.seconds, row.error)
           for key, row in rows.items()]  # fmt: skip
    by_source = {result.item.source: result for result in [*ran, *settled]}
    return [by_source[t.item.source] for t in job.tasks]


def _folder_task(key: str, todo, styles, method: MethodConfig, batch: int) -> Task:
    """The runner's task for a folder's image; its working size (from the header) when images
    are batched."""
    from vidstyle.media.images import fitted_size, probe_size

    size = None
    if batch > 1 and (found := probe_size(todo.item.source)) is not None:
        size = fitted_size(*found, method.max_size)
    return Task(key, "folder", "image", todo.item.source, styles[0], todo.item.output,
                blend=_blend(styles), method=method, steps=method.steps, size=size,
                name=todo.item.name)  # fmt: skip


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
    from vidstyle.pipeline.video import check_outputs

    if not source.exists():
        raise InputError(source, "no such file or folder")
    default = f"{source.stem}_{style_stem(style)}" + ("" if source.is_dir() else ".mp4")
    output = output or Path(default)
    check_distinct([source, *style_paths(style)], output)
    check_outputs(source, output, config)
    executor, styles = _executor(make_engine, style, method, "restart" if restart else "refuse")
    task = Task("video", "video", "video", source, styles[0], output, blend=_blend(styles),
                method=method, video=config, name=source.name)  # fmt: skip
    executor.engine(method)
    view = View(unit="frames", estimates=False, inline=True)
    _raise_failure(_run([task], executor, reporter, view)[0])
    return executor.results[task.key]


def _executor(make_engine: MakeEngine, style: Styles, method: MethodConfig, resume="auto"):
    """An executor building engines with ``make_engine``, the style painting(s) already loaded
    (and their number checked against ``style_blend``), and the style paths as a tuple."""
    executor = Executor(make_engine, resume)
    pixels = load_style(style, method)
    if isinstance(style, Path):
        executor.styles[style] = pixels
        return executor, (style,)
    executor.styles.update(zip(style, pixels, strict=True))
    return executor, tuple(style)


def _blend(styles: tuple[Path, ...]) -> tuple[Path, ...]:
    """A task's ``blend``: the styles when there are several, else none."""
    return styles if len(styles) > 1 else ()


def _run(tasks: list[Task], executor: Executor, reporter: Reporter | None, view: View):
    """Run a one-shot plan through the runner, its ledger in memory (an unexpected error is not
    tried again; no signal handlers: Ctrl-C interrupts as KeyboardInterrupt).

    Returns:
        The :class:`RunResult` and the ledger's row of each task, by key.
    """
    ledger = Ledger(None, max_attempts=1)
    try:
        ledger.sync(tasks)
        result = run_tasks(tasks, ledger, executor, reporter, StopFlag(watched=False), view=view)
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
    config = FolderConfig(overwrite=True, suffix=".png")
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
