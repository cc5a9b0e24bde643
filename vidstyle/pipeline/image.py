"""Image files: working size, style scale, initial image, the engine run (same-size images as
one batch), alpha, atomic save."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidstyle.config import MethodConfig
from vidstyle.engine.request import Request, Stop
from vidstyle.errors import VidstyleError
from vidstyle.media.formats import check_output
from vidstyle.media.images import Picture, fit_longest, load_image, resize_to, save_image
from vidstyle.pipeline.styles import pixels_of
from vidstyle.progress import NullReporter, Reporter, level_callback, step_callback


def style_for(style: np.ndarray, work_shape: tuple[int, ...], scale: float) -> np.ndarray:
    """The style image resized so its longest side is ``scale`` times the working image's.

    Args:
        style: HxWx3 uint8.
        work_shape: the working content image's shape.
        scale: ``--style-scale``.
    """
    longest = max(1, round(scale * max(work_shape[:2])))
    factor = longest / max(style.shape[:2])
    width = max(1, round(style.shape[1] * factor))
    height = max(1, round(style.shape[0] * factor))
    return style if (height, width) == style.shape[:2] else resize_to(style, width, height)


Styles = np.ndarray | list[np.ndarray]  # one style painting, or several to blend


def style_list(style: Styles) -> list[np.ndarray]:
    """The style paintings as a list (one painting is a list of one; a
    :class:`~vidstyle.pipeline.styles.StyleSet` gives its pixels)."""
    return pixels_of(style)


def targets_for(engine, style: Styles, content: np.ndarray):
    """The style targets for a working image (HxWx3) or batch (BxHxWx3): each style painting at
    ``style_scale``, matched to the content's colours under ``preserve_colors``, blended with
    ``style_blend`` (see :func:`vidstyle.engine.styles.run_targets`).

    Raises:
        UsageError: ``style_blend`` does not give one weight per style.
    """
    from vidstyle.engine.styles import run_targets

    scale = engine.method.style_scale
    sized = [style_for(one, content.shape[-3:], scale) for one in style_list(style)]
    return run_targets(engine, sized, content)


def initial_image(method: MethodConfig, content: np.ndarray) -> np.ndarray | None:
    """The image the optimization starts from: None for the content, seeded noise, or a file."""
    if method.init == "content":
        return None
    if method.init == "noise":
        rng = np.random.default_rng(method.seed)
        return rng.uniform(0, 255, content.shape).astype(np.float32)
    start = load_image(method.init).rgb
    return resize_to(start, content.shape[1], content.shape[0])


def stylize_file(
    engine,
    content_path: Path,
    style: Styles,
    output: Path,
    reporter: Reporter | None = None,
    stop: Stop | None = None,
) -> np.ndarray:
    """Stylize one image file and save it atomically at the working size.

    Args:
        engine: an :class:`vidstyle.engine.optimize.Engine`.
        content_path: the photo.
        style: the style painting, HxWx3 uint8 at its own size (or a list of them, blended).
        output: where to write; the format follows its extension; alpha is kept where possible.
        reporter: told of each chunk of steps.
        stop: called between chunks of steps; raises to stop.

    Returns:
        The stylized image, HxWx3 uint8.

    Raises:
        InputError, DecodeError: for an unusable input; EncodeError when it cannot be saved;
        TooLargeError: when the working size would not fit in memory.
    """
    [(result, error)] = stylize_files(engine, [(content_path, output)], style, reporter, stop)
    if error is not None:
        raise error
    return result


Outcome = tuple[np.ndarray | None, VidstyleError | None]


def stylize_files(
    engine,
    jobs: list[tuple[Path, Path]],
    style: Styles,
    reporter: Reporter | None = None,
    stop: Stop | None = None,
) -> list[Outcome]:
    """Stylize several image files, those of one working size together as one batch.

    A batch is optimized together, every image its own problem (with Adam and L-BFGS, in float32
    or float16, each image gets the result it would get alone), while a GPU runs them in
    parallel. Images of one size go in the largest batches that fit the memory budget and
    cuDNN's 32-bit limit (:meth:`vidstyle.engine.planner.Planner.batch_size`); a batch the
    engine refused while running (the device ran out of memory, a loss went non-finite) is
    split in halves, down to single images, each of which succeeds or fails on its own.

    Args:
        engine: an :class:`vidstyle.engine.optimize.Engine`.
        jobs: (content path, output path) pairs.
        style: the style painting, HxWx3 uint8 at its own size (or a list of them, blended).
        reporter: told of each chunk of steps.
        stop: called between chunks of steps; raises (through this call) to stop.

    Returns:
        Per job, in order: (the result, None), or (None, the error that stopped that job alone).
        An output that could not be written (see :func:`vidstyle.media.formats.check_output`)
        stops its job before its input is even read.
    """
    reporter = reporter or NullReporter()
    method = engine.method
    outcomes: list[Outcome] = [(None, None)] * len(jobs)
    shapes: dict[tuple, list[tuple[int, Picture, np.ndarray]]] = {}
    for index, (source, output) in enumerate(jobs):
        try:
            check_output(output)
            picture = load_image(source)
            work = fit_longest(picture.rgb, method.max_size)
            check_output(output, work.shape[1], work.shape[0])
            engine.check_fits(source, *work.shape[:2])
        except VidstyleError as error:
            outcomes[index] = (None, error)
            continue
        shapes.setdefault(work.shape, []).append((index, picture, work))
    for shape, members in shapes.items():
        size = engine.planner.batch_size(shape[0], shape[1], len(members))
        for batch in (members[i : i + size] for i in range(0, len(members), size)):
            _stylize_or_split(engine, batch, jobs, style, (reporter, stop), outcomes)
    return outcomes


def _stylize_or_split(engine, batch, jobs, style, watch, outcomes: list[Outcome]) -> None:
    """Stylize a batch; when the engine refuses it, each half on its own (down to single
    images); an image the engine refuses alone fails with the error named after its file.
    ``watch``: (reporter, stop)."""
    try:
        _stylize_batch(engine, batch, jobs, style, watch, outcomes)
    except VidstyleError as error:
        if len(batch) > 1:
            half = (len(batch) + 1) // 2
            for part in (batch[:half], batch[half:]):
                _stylize_or_split(engine, part, jobs, style, watch, outcomes)
            return
        index = batch[0][0]
        named = type(error)(jobs[index][0], error.reason, hint=error.hint)
        outcomes[index] = (None, error if error.path is not None else named)


def _stylize_batch(engine, batch, jobs, style, watch, outcomes: list[Outcome]) -> None:
    """Optimize same-size images together and save each; a failed save fails only its job."""
    method, (reporter, stop) = engine.method, watch
    works = np.stack([work for _, _, work in batch])
    targets = targets_for(engine, style, works)
    starts = [initial_image(method, work) for _, _, work in batch]
    init = None if starts[0] is None else np.stack(starts)
    results = engine.stylize(Request(works, targets, start=init, on_step=step_callback(reporter),
                                     on_level=level_callback(reporter), stop=stop))  # fmt: skip
    for (index, picture, work), result in zip(batch, results, strict=True):
        alpha = picture.alpha
        if alpha is not None and alpha.shape[:2] != work.shape[:2]:
            alpha = resize_to(alpha, work.shape[1], work.shape[0])
        try:
            save_image(jobs[index][1], result, alpha)
            outcomes[index] = (result, None)
        except VidstyleError as error:
            outcomes[index] = (None, error)


def style_drop(engine, style: Styles, content_path: Path, result: np.ndarray) -> float:
    """How far a still moved toward the style: the content's style loss over the result's, as a
    clip's report gives per frame (:meth:`vidstyle.pipeline.video.FrameLoop.measure`). Costs
    two forward passes (three when the targets are not cached), no optimization.

    Args:
        engine: the engine that made ``result``.
        style: the style painting(s) it was made with.
        content_path: the photo (read again and brought to the working size).
        result: the stylized image, HxWx3 uint8 at the working size.

    Returns:
        The ratio (above 1 when the result is closer to the style than the photo was).

    Raises:
        InputError, DecodeError: when the photo can no longer be read.
    """
    work = fit_longest(load_image(content_path).rgb, engine.method.max_size)
    targets = targets_for(engine, style, work)
    before = engine.losses(work, work, targets)["style"]
    return before / max(engine.losses(result, work, targets)["style"], 1e-12)
