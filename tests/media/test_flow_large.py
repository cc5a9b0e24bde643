"""Tests for vidstyle.media.flow under large motion: the flow follows a 40 px pan and a fast
object over a still background (and keeps the background beside it still), the photometric mask
rejects a wrong flow that the forward-backward test passes, a tight match vouches for the pixels
the boundary test frees beside a moving object (never for flat content or a wrong flow), and a
source within a pixel of the border stays trusted."""

from __future__ import annotations

import numpy as np
import pytest
from clipmaker import make_texture

from vidstyle.media.flow import (
    flow,
    photometric_mask,
    reliable_mask,
    shifts,
    trusted_mask,
    vouched_mask,
)

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


def test_flow_keeps_the_still_background_next_to_a_fast_object(fast_object):
    # DIS smears the block's 32 px motion into the background around it, and so did the fusion
    # over 9x9 without the zero shift as a candidate (6.6 px here)
    a, b = fast_object
    backward = flow(b, a)
    ring = np.zeros((HEIGHT, WIDTH), bool)
    ring[28:68, 36:84] = True
    ring[33:63, 41:79] = False  # within 1 to 5 px of the block's new place
    left_behind = np.zeros((HEIGHT, WIDTH), bool)
    left_behind[30:58, 10:46] = True  # the background the block uncovered: no source in a
    background = ring & ~left_behind
    assert end_point_error(backward, (0, 0), background) < 0.5


def test_a_warp_that_matches_tightly_vouches_for_the_edge_the_proxies_free(fast_object):
    a, b = fast_object
    forward, backward = flow(a, b), flow(b, a)
    edge = np.zeros((HEIGHT, WIDTH), bool)
    edge[37:54, 80:83] = True  # background 2 to 5 px right of the block's place in b
    assert reliable_mask(forward, backward)[edge].mean() < 0.5  # the motion-boundary proxy
    assert vouched_mask(a, b, backward)[edge].mean() > 0.8
    assert trusted_mask(forward, backward, a, b)[edge].mean() > 0.8
    uncovered = np.zeros((HEIGHT, WIDTH), bool)
    uncovered[36:54, 14:38] = True  # no source in a: nothing to vouch for it
    assert trusted_mask(forward, backward, a, b)[uncovered].mean() < 0.1


def test_no_vouching_for_a_wrong_flow_or_for_flat_content(fast_object):
    a, b = fast_object
    wrong = np.zeros((HEIGHT, WIDTH, 2), np.float32)  # "nothing moves"
    assert vouched_mask(a, b, wrong)[38:58, 46:74].max() == 0.0  # the block moved
    assert vouched_mask(a, b, wrong)[70:90, 90:120].mean() > 0.95  # the still background
    flat = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)  # any flow matches: none vouches
    shifted = np.full((HEIGHT, WIDTH, 2), 5.0, np.float32)
    assert vouched_mask(flat, flat, shifted).max() == 0.0


def test_a_source_within_a_pixel_of_the_border_stays_trusted():
    backward = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    backward[:, :4, 0] = -0.6  # a little noise of the flow at the left edge
    mask = reliable_mask(-backward, backward)
    assert mask[:, 0].min() == 1.0  # source at x = -0.6: the border pixel, kept
    backward[:, :4, 0] = -1.5
    assert reliable_mask(-backward, backward)[:, 0].max() == 0.0  # 1.5 px outside: not
