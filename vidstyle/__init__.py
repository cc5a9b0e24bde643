"""vidstyle: repaint photos, image folders and video clips in the style of a painting.

The method is Gatys et al. (2015): VGG19 features, a Gram-matrix style loss, a content loss and a
total-variation loss minimized over the pixels with Adam, in TensorFlow. TensorFlow is imported
only when an engine is built, so ``vidstyle --help`` and the IO helpers stay fast.
"""

from __future__ import annotations

from pathlib import Path

from vidstyle.config import MethodConfig

__version__ = "0.1.0"
__all__ = ["MethodConfig", "load_engine", "stylize_image"]


def load_engine(method: MethodConfig | None = None, weights: str | Path | None = None):
    """Build the engine once: VGG19 with its ImageNet weights, cut after the deepest layer used.

    Args:
        method: the method's options (defaults when None).
        weights: a weights file; otherwise the usual sources (see :mod:`vidstyle.weights`).

    Returns:
        An :class:`vidstyle.engine.optimize.Engine`, reusable for many images.

    Raises:
        WeightsError: when no usable weights are found.
    """
    from vidstyle import weights as weights_module
    from vidstyle.engine.optimize import build_engine

    return build_engine(method or MethodConfig(), weights_module.resolve(weights))


def stylize_image(
    content: str | Path,
    style: str | Path,
    output: str | Path,
    method: MethodConfig | None = None,
    weights: str | Path | None = None,
    engine=None,
):
    """Stylize one image file and write the result (the ``vidstyle image`` command's path: a
    plan of one task through :func:`vidstyle.jobs.runner.run_tasks`). Batch jobs are
    :func:`vidstyle.batch.run` and :func:`vidstyle.jobs.status.status`.

    Args:
        content: the photo.
        style: the painting.
        output: the result's path (.png, .jpg or .webp).
        method: the method's options (defaults when None).
        weights: a weights file, when not using the usual sources.
        engine: an engine from :func:`load_engine` to reuse (its method options then apply).

    Returns:
        The result as an HxWx3 uint8 array.

    Raises:
        VidstyleError: for unusable inputs, weights or output.
    """
    from vidstyle import controller

    content, style, output = Path(content), Path(style), Path(output)
    method = engine.method if engine is not None else method or MethodConfig()

    def make_engine(chosen: MethodConfig):
        return engine if engine is not None else load_engine(chosen, weights)

    return controller.stylize_image(content, style, output, method, make_engine)
