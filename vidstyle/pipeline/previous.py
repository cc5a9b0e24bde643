"""A finished frame as the next one is held to it: :class:`Previous`, shared by the frame loop
(:mod:`vidstyle.pipeline.video`) and the later passes (:mod:`vidstyle.pipeline.passes`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Previous:
    """A finished frame (working size) and, with long-term offsets, the ones before it in its
    shot, nearest first (each without its own ``earlier``)."""

    content: np.ndarray
    result: np.ndarray
    index: int = -1
    earlier: tuple = ()

    def back(self, offset: int) -> Previous | None:
        """The frame ``offset`` frames before the next one (1: this one), if known."""
        return self if offset == 1 else dict(enumerate(self.earlier, 2)).get(offset)
