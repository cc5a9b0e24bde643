"""A style as it travels: one painting, or several blended (:class:`StyleSet`).

A command is given style paths (one, or several with ``style_blend`` weights); a plan keys its
tasks by the styles' pixels (:attr:`StyleSet.digest`); a pipeline takes the pixels. This module
is the one place that turns any of these forms into another (:func:`paths_of`,
:func:`pixels_of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidstyle.errors import UsageError
from vidstyle.pipeline.fingerprint import pixels_digest


def paths_of(style: Path | Sequence[Path]) -> tuple[Path, ...]:
    """The style paths as a tuple (one path is a tuple of one)."""
    return tuple(style) if isinstance(style, (list, tuple)) else (style,)


def pixels_of(style) -> list[np.ndarray]:
    """The style paintings (HxWx3 uint8) as a list: of a :class:`StyleSet`, a list of paintings,
    or one painting (a list of one)."""
    if isinstance(style, StyleSet):
        return list(style.pixels)
    return list(style) if isinstance(style, (list, tuple)) else [style]


@dataclass(frozen=True, eq=False)
class StyleSet:
    """One style painting, or several to blend.

    Attributes:
        paths: the style images, in order.
        pixels: their pixels (HxWx3 uint8), in the same order.
        weights: each style's weight in the blend (one style: ``(1.0,)``).
    """

    paths: tuple[Path, ...]
    pixels: tuple[np.ndarray, ...]
    weights: tuple[float, ...] = (1.0,)

    @classmethod
    def load(cls, style: Path | Sequence[Path], method=None) -> StyleSet:
        """Read the style images; their number is checked against ``method.style_blend``.

        Args:
            style: one path, or several.
            method: the :class:`vidstyle.config.MethodConfig` whose ``style_blend`` weighs them
                (None: equal weights).

        Raises:
            UsageError: no style, or ``style_blend`` gives another number of weights;
            InputError, DecodeError, TooLargeError: naming the style image.
        """
        from vidstyle.media.images import load_image

        paths = paths_of(style)
        if not paths:
            raise UsageError(None, "no style image", hint="give one with {style}")
        count = len(paths)
        weights = method.blend_weights(count) if method is not None else (1.0 / count,) * count
        return cls(paths, tuple(load_image(path).rgb for path in paths), tuple(weights))

    @property
    def digest(self) -> str:
        """The SHA-256 of the pixels (of a blend: of their digests in order), which keys tasks
        and manifests (:func:`vidstyle.pipeline.fingerprint.pixels_digest`)."""
        return pixels_digest(list(self.pixels))

    @property
    def blended(self) -> bool:
        """Whether several styles are blended."""
        return len(self.paths) > 1

    @property
    def stem(self) -> str:
        """The styles' names for a default output name: ``starry`` or ``starry+scream``."""
        return "+".join(path.stem for path in self.paths)

    @property
    def blend(self) -> tuple[Path, ...]:
        """A task's ``blend``: the paths when there are several, else none."""
        return self.paths if self.blended else ()

    @property
    def painting(self) -> np.ndarray | list[np.ndarray]:
        """The pixels as the pipelines take them: one painting, or a blend's as a list."""
        return list(self.pixels) if self.blended else self.pixels[0]
