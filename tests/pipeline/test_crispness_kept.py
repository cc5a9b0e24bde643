"""The summary's "crispness kept" (issue 29): the worst later frame against its shot's first, what
a user sees of a clip that softens, not the last quarter against the first."""

import pytest

from vidstyle.pipeline.clipout import crispness_kept


def _records(*crisp, cuts=()):
    return [{"index": i, "crispness": c, "cut": i in cuts} for i, c in enumerate(crisp)]


def test_the_worst_later_frame_against_the_first():
    # softened at once, then steady: the last quarter over the first quarter would read 1.0
    records = _records(4.0, 2.0, 2.2, 2.1, 2.0, 2.1, 2.2, 2.0)
    assert crispness_kept(records) == pytest.approx(0.5)


def test_each_shot_against_its_own_first_frame():
    records = _records(4.0, 3.8, 3.6, 2.0, 1.9, 1.0, cuts=(3,))
    assert crispness_kept(records) == pytest.approx(1.0 / 2.0)
    assert crispness_kept(_records(4.0, 3.8, 2.0, 2.0, cuts=(2,))) == pytest.approx(0.95)


def test_no_later_frame_no_figure():
    assert crispness_kept(_records(3.0)) is None
    assert crispness_kept(_records(3.0, 2.0, cuts=(1,))) is None
    assert crispness_kept([{"index": 0, "cut": False}]) is None
