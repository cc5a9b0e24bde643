"""Which frames of a clip become keyframes, the teachers of its painter
(:mod:`vidstyle.pipeline.network`).

Always the first frame and the first frame of each shot (a cut as the frame loop finds it,
:func:`vidstyle.pipeline.clip.working_frames`). Then, up to the budget, either every K-th frame, or
the frames where the content differs most from every keyframe chosen so far (farthest-point
sampling over small grey thumbnails: each new keyframe is the frame whose nearest keyframe is
farthest, so a bird that walks up to the camera gets one when it fills the picture).
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

THUMB = (32, 18)  # the thumbnails' size (width, height): the layout of a frame, not its detail


class Survey:
    """What keyframe choice needs of a clip's frames, gathered in one pass over them.

    The shot cuts come with the frames (:func:`vidstyle.pipeline.clip.working_frames`, the one
    place they are found).
    """

    def __init__(self):
        self.thumbs: list[np.ndarray] = []
        self.shots: list[int] = []  # the first frame of each shot, by position

    def add(self, frame: np.ndarray, cut: bool = False) -> None:
        """The next frame (HxWx3 uint8 at the working size), and whether a shot cut lies
        before it."""
        if not self.thumbs or cut:
            self.shots.append(len(self.thumbs))
        grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        thumb = cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
        self.thumbs.append(thumb)

    def __len__(self) -> int:
        return len(self.thumbs)


def choose(survey: Survey, budget: int, every: int = 0) -> list[int]:
    """The keyframes' positions in the clip, in order.

    Args:
        survey: the clip's frames (:class:`Survey`).
        budget: how many keyframes at most, beyond the first frame of each shot (which are
            always keyframes, whatever the budget).
        every: when above 0, every ``every``-th frame of each shot instead of the frames that
            differ most (the budget still caps their number).

    Returns:
        Frame positions (0 is the first frame of the clip), sorted; none for an empty clip.
    """
    if not len(survey):
        return []
    chosen = list(survey.shots)
    if every > 0:
        extra = [i for i in _every(survey.shots, len(survey), every) if i not in chosen]
        chosen += extra[: max(0, budget - len(chosen))]
    else:
        chosen = _farthest(survey.thumbs, chosen, budget)
    return sorted(chosen)


def _every(shots: list[int], count: int, every: int) -> Iterable[int]:
    """Every ``every``-th frame from each shot's first."""
    for start, end in zip(shots, [*shots[1:], count]):
        yield from range(start, end, every)


def _farthest(thumbs: list[np.ndarray], chosen: list[int], budget: int) -> list[int]:
    """``chosen`` and, while under ``budget``, the frame farthest from its nearest keyframe
    (mean absolute grey difference of the thumbnails); frames identical to a keyframe are never
    added."""
    stack = np.stack(thumbs).reshape(len(thumbs), -1)
    nearest = np.full(len(thumbs), np.inf)
    for index in chosen:
        nearest = np.minimum(nearest, np.mean(np.abs(stack - stack[index]), axis=1))
    while len(chosen) < budget and nearest.max() > 0:
        index = int(np.argmax(nearest))
        chosen.append(index)
        nearest = np.minimum(nearest, np.mean(np.abs(stack - stack[index]), axis=1))
    return chosen
