"""One image: working size, style scale, initial image, the engine run, alpha, atomic save."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidstyle.config import MethodConfig
from vidstyle.media.images import fit_longest, load_image, resize_to, save_image
from vidstyle.progress import NullReporter, Reporter


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
    style: np.ndarray,
    output: Path,
    reporter: Reporter | None = None,
) -> np.ndarray:
    """Stylize one image file and save it atomically at the working size.

    Args:
        engine: an :class:`vidstyle.engine.optimize.Engine`.
        content_path: the photo.
        style: the style painting, HxWx3 uint8 at its own size.
        output: where to write; the format follows its extension; alpha is kept where possible.
        reporter: told of each chunk of steps.

    Returns:
        The stylized image, HxWx3 uint8.

    Raises:
        InputError, DecodeError: for an unusable input; EncodeError when it cannot be saved;
        TooLargeError: when the working size would not fit in memory.
    """
    reporter = reporter or NullReporter()
    method = engine.method
    picture = load_image(content_path)
    work = fit_longest(picture.rgb, method.max_size)
    engine.check_fits(content_path, *work.shape[:2])
    targets = engine.style_targets(style_for(style, work.shape, method.style_scale))
    result = engine.stylize(work, targets, init=initial_image(method, work), on_step=reporter.step)
    alpha = picture.alpha
    if alpha is not None and alpha.shape[:2] != work.shape[:2]:
        alpha = resize_to(alpha, work.shape[1], work.shape[0])
    save_image(output, result, alpha)
    return result
