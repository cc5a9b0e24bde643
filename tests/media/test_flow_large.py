"""Tests for vidstyle.media.flow under large motion: the flow follows a 40 px pan and a fast
object over a still background, and the photometric mask rejects a wrong flow that the
forward-backward test passes."""

from __future__ import annotations

import numpy as np
import pytest
from clipmaker import make_texture

from vidstyle.media.flow import flow, photometric_mask, reliable_mask, shifts, trusted_mask

WIDTH, HEIGHT = 128, 96


def end_point_error(field: np.ndarray, truth, where: np.ndarray | None = None) -> float:
    error = np.linalg.norm(field - np.asarray(truth, np.float32), axis=-1)
    return float(np.mean(error if where is None else error[where]))


@pytest.fixture(scope="module")
def pan40():
    """Two frames of a camera pan: the content moves by (-40, 0) from a to b."""
    scene = make_texture(WIDTH + 60, HEIGHT, seed=3)
    return scene[:, 10 : 10 + WIDTH], scene[:, 50 : 50 + WIDTH]


@pytest.fixture(scope="module")
def fast_object():
    """A bright 36x28 textured block moving by (+32, +4) over a still background; its box in b."""
    background = make_texture(WIDTH, HEIGHT, seed=4)
    block = make_texture(36, 28, seed=5) // 2 + 128  # brighter than the background
    a, b = background.copy(), background.copy()
    a[30:58, 10:46] = block
    b[34:62, 42:78] = block
    return a, b


def test_shifts_finds_the_pan(pan40):
    a, b = (np.mean(frame, axis=2).astype(np.uint8) for frame in pan40)
    assert shifts(a, b, 3)[0] == (-40, 0)


def test_flow_follows_a_40_px_pan(pan40):
    a, b = pan40
    forward = flow(a, b)
    # the pixels of a that stay in the picture: x >= 40
    assert end_point_error(forward[8:-8, 48:-8], (-40, 0)) < 1.0
    assert end_point_error(flow(b, a)[8:-8, 8:-48], (40, 0)) < 1.0
    plain = flow(a, b, large=False)  # DIS alone is lost at this size
    assert end_point_error(plain[8:-8, 48:-8], (-40, 0)) > 10.0


def test_flow_follows_a_fast_object_and_keeps_the_still_background(fast_object):
    a, b = fast_object
    backward = flow(b, a)
    inner = np.zeros((HEIGHT, WIDTH), bool)
    inner[38:58, 46:74] = True  # the block in b, away from its edges
    assert end_point_error(backward, (-32, -4), inner) < 1.5
    still = np.zeros((HEIGHT, WIDTH), bool)
    still[70:90, 90:120] = True  # background far from the block
    assert end_point_error(backward, (0, 0), still) < 0.5


def test_photometric_mask_rejects_a_wrong_flow_the_consistency_test_passes(fast_object):
    a, b = fast_object
    wrong = np.zeros((HEIGHT, WIDTH, 2), np.float32)  # "nothing moves": smooth, consistent
    assert reliable_mask(wrong, wrong).min() == 1.0
    photometric = photometric_mask(a, b, wrong)
    assert photometric[38:58, 46:74].mean() < 0.1  # the block's new place does not match
    assert photometric[70:90, 90:120].min() == 1.0  # the background does
    right = flow(a, b), flow(b, a)
    assert trusted_mask(*right, a, b)[38:58, 46:74].mean() > 0.9
