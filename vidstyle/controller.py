"""The library side of the ``image``, ``folder``, ``video`` and ``demo`` commands: check the
paths, plan the work, build the engine only when there is work, and run it. Nothing here prints;
the caller passes ``make_engine`` (which may say where the weights came from) and a reporter.

Batch jobs have their own controller, :mod:`vidstyle.batch`; both run each image through
:func:`vidstyle.pipeline.image.stylize_files` and each clip through
:func:`vidstyle.pipeline.video.stylize_clip`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from vidstyle.config import FolderConfig, MethodConfig, VideoConfig
from vidstyle.errors import InputError, UsageError
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
    from vidstyle.pipeline.image import stylize_file

    reporter = reporter or NullReporter()
    check_distinct([content, *style_paths(style)], output)
    check_output(output)
    check_image(content)
    style_rgb = load_style(style, method)
    engine = make_engine(method)
    reporter.begin(1, "images")
    reporter.start_item(content.name, method.steps)
    try:
        result = stylize_file(engine, content, style_rgb, output, reporter)
        reporter.end_item(content.name, "done", 0.0)
    finally:
        reporter.end()
    return result


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
    from vidstyle.media.images import fitted_size, probe_size
    from vidstyle.pipeline import folder as folder_pipeline
    from vidstyle.pipeline.image import stylize_files

    reporter = reporter or NullReporter()
    if same_file(input_dir, output):
        raise UsageError(
            output, "output folder is the input folder", hint="choose another {output}"
        )
    items = folder_pipeline.plan(input_dir, output, config)
    style_rgb = load_style(style, method)
    job = folder_pipeline.prepare(items, output, config, style_rgb, method)
    engine = make_engine(method) if job.todo else None

    def stylize_group(jobs: list[tuple[Path, Path]]):
        return stylize_files(engine, jobs, style_rgb, reporter)

    def working_size(item) -> tuple[int, int] | None:
        size = probe_size(item.source)
        return None if size is None else fitted_size(*size, method.max_size)

    key = working_size if config.batch > 1 else None
    return folder_pipeline.run(job, stylize_group, method.steps, reporter, key)


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
    from vidstyle.pipeline.video import check_outputs, stylize_clip

    if not source.exists():
        raise InputError(source, "no such file or folder")
    default = f"{source.stem}_{style_stem(style)}" + ("" if source.is_dir() else ".mp4")
    output = output or Path(default)
    check_distinct([source, *style_paths(style)], output)
    check_outputs(source, output, config)
    style_rgb = load_style(style, method)
    engine = make_engine(method)
    return stylize_clip(engine, source, style_rgb, output, config, reporter, restart)


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
