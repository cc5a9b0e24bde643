"""A finished frame as the next one is held to it: :class:`Previous`, shared by the frame loop
(:mod:`vidstyle.pipeline.video`) and the later passes (:mod:`vidstyle.pipeline.passes`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Previous:
    """A finished frame (working size) and, with long-term offsets, the ones before it in its
    shot, nearest first (each without its own ``earlier``); ``detail``: its shot's first
    frame's result's (:func:`vidstyle.media.flow.detail`), which the later frames keep up to
    (:func:`vidstyle.media.warped.catch_up`; None: not known)."""

    content: np.ndarray
    result: np.ndarray
    index: int = -1
    earlier: tuple = ()
    detail: float | None = None

    def back(self, offset: int) -> Previous | None:
        """The frame ``offset`` frames before the next one (1: this one), if known."""
        return self if offset == 1 else dict(enumerate(self.earlier, 2)).get(offset)


def shot_start(records: list[dict], index: int) -> int:
    """The index of the first frame of the shot that frame ``index`` belongs to, from the
    frames' records (the first pass's, in order: a resumed run holds its later frames to that
    frame's result, as the run that began the shot did)."""
    first = index
    while first > 0 and not records[first]["cut"]:
        first -= 1
    return first
