"""What the engine is asked: the :class:`Method` it runs (the settings every optimization of an
engine shares) and one optimization, a :class:`Request`, the one argument of
:meth:`vidstyle.engine.optimize.Engine.stylize`.

The engine reads its method through :class:`Method` only and never imports the options' module:
:class:`vidstyle.config.MethodConfig`, which declares the options users set, is one such method
(the import runs one way, from the options down to the engine).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:  # no TensorFlow here: the pipeline builds requests before the engine runs
    from vidstyle.engine.inputs import StyleTargets, Temporal

OnStep = Callable[[int, float], None]  # (steps done over all levels, loss)
OnLevel = Callable[[int, list], None]  # (level index, every level's planner.Work)
Stop = Callable[[], None]  # returns to go on, raises to stop


class Method(Protocol):
    """The settings every optimization of an engine shares (what the engine reads of a method).

    Attributes:
        content_layers, style_layers: VGG19 layer names of the losses; ``layers`` both, content
            first, without repeats.
        content_weight, style_weight, tv_weight: the loss weights.
        learning_rate, beta_1, beta_2, epsilon: Adam's settings.
        optimizer: ``adam`` or ``lbfgs``.
        steps: steps (or L-BFGS iterations) per image, over all levels.
        scales: coarse-to-fine levels (0: automatic; :func:`vidstyle.engine.planner.levels`).
        tol: the early stop's relative change (0: off; :mod:`vidstyle.engine.stepping`).
        precision: the network's number type, resolved (``float32``, ``bfloat16``, ``float16``).
        tf32: TF32 for float32 convolutions and matrix products, on for the process
            (:func:`vidstyle.engine.device.set_tf32`).
        memory_limit: GiB an optimization may use (0: what is free).
        preserve_colors: ``none``, ``luminance`` or ``histogram`` (:mod:`vidstyle.engine.colors`).
    """

    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    content_weight: float
    style_weight: float
    tv_weight: float
    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float
    optimizer: str
    steps: int
    scales: int
    tol: float
    precision: str
    tf32: bool
    memory_limit: float
    preserve_colors: str

    @property
    def layers(self) -> tuple[str, ...]:
        """Every layer the losses read, content layers first, without repeats."""

    def blend_weights(self, styles: int) -> tuple[float, ...]:
        """The weight of each of ``styles`` style images in a blend of their Gram targets."""


@dataclass(frozen=True, eq=False)
class Request:
    """One optimization of an image (or a batch of same-size images).

    Attributes:
        content: HxWx3 or BxHxWx3 uint8 at the working size.
        targets: the style's targets (:meth:`vidstyle.engine.optimize.Engine.style_targets`).
        start: the starting image(s), the shape of ``content``, uint8 or float 0..255; the
            content when None.
        steps: Adam steps or L-BFGS iterations over all levels; the method's when None.
        temporal: the temporal term of a video frame (single image only).
        learning_rate: Adam's learning rate; the method's when None (a few steps from a
            finished image want a smaller one, see :mod:`vidstyle.pipeline.passes`).
        on_step: called as ``on_step(steps_done, loss)`` after every chunk of 10 steps or
            iterations, counted over all levels. Only then is the loss read from the device
            for progress (the early stop, ``tol`` above 0, reads it too).
        on_level: called as ``on_level(index, works)`` as each level starts, with every
            level's :class:`vidstyle.engine.planner.Work` (size, tiles, memory), coarsest
            first; not called for a run of one untiled level.
        stop: called between chunks of steps; it raises (any exception) to end the run there.
    """

    content: np.ndarray
    targets: StyleTargets
    start: np.ndarray | None = None
    steps: int | None = None
    temporal: Temporal | None = None
    learning_rate: float | None = None
    on_step: OnStep | None = None
    on_level: OnLevel | None = None
    stop: Stop | None = None

    def replace(self, **changes) -> Request:
        """This request with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the content, and of the result."""
        return self.content.shape

    @property
    def batch(self) -> int:
        """How many images are optimized together."""
        return self.content.shape[0] if self.content.ndim == 4 else 1

    @property
    def size(self) -> tuple[int, int]:
        """The working (height, width)."""
        return tuple(self.content.shape[-3:-1])
