"""Keyframe choice: the first frame, each shot's first frame, then the frames that differ most
(or every K-th), up to the budget."""

import numpy as np
from conftest import textured

from vidstyle.media.video import Frame
from vidstyle.pipeline.clip import working_frames
from vidstyle.pipeline.keyframes import Survey, choose

SCENE = textured(36, 64, seed=3)
OTHER = np.full((36, 64, 3), (20, 200, 40), np.uint8)  # another shot: other colours


def _survey(frames) -> Survey:
    survey = Survey()
    for frame, cut in working_frames((Frame(i, 0.0, f) for i, f in enumerate(frames)), 64, 0.5):
        survey.add(frame.rgb, cut)
    return survey


def _ramp(count: int) -> list[np.ndarray]:
    """One shot whose content drifts evenly from one scene to its mirror image."""
    mirror = SCENE[::-1, ::-1].astype(np.float32)
    steps = np.linspace(0.0, 1.0, count)
    return [np.rint(SCENE * (1 - t) + mirror * t).astype(np.uint8) for t in steps]


def test_the_first_frame_alone_with_a_budget_of_one():
    assert choose(_survey(_ramp(12)), budget=1) == [0]


def test_more_keyframes_go_where_the_content_differs_most():
    # the frame farthest from frame 0 is the last one; then the one halfway
    assert choose(_survey(_ramp(12)), budget=2) == [0, 11]
    assert choose(_survey(_ramp(13)), budget=3) == [0, 6, 12]


def test_every_shot_starts_with_a_keyframe_whatever_the_budget():
    frames = _ramp(6) + [OTHER] * 4
    survey = _survey(frames)
    assert survey.shots == [0, 6]
    assert choose(survey, budget=1) == [0, 6]


def test_every_kth_frame_of_each_shot_up_to_the_budget():
    frames = _ramp(10) + [OTHER] * 7
    survey = _survey(frames)
    assert choose(survey, budget=10, every=4) == [0, 4, 8, 10, 14]
    assert choose(survey, budget=3, every=4) == [0, 4, 10]


def test_a_still_clip_gets_no_second_keyframe():
    assert choose(_survey([SCENE] * 5), budget=4) == [0]


def test_an_empty_clip_has_none():
    assert choose(Survey(), budget=3) == []
