"""Putting back the detail a warp lost (vidstyle.media.warped, issue 29)."""

import cv2
import numpy as np
import pytest

from vidstyle.media.flow import detail, warp
from vidstyle.media.warped import (
    DETAIL_GAIN,
    EDGE_BAND,
    ENTRY_PERIOD,
    restore_detail,
    steadied,
    warp_beyond,
)

WIDTH, HEIGHT = 64, 48


def make_texture(width: int, height: int, seed: int) -> np.ndarray:
    """A crisp texture, like a painting's brush marks at the working size: detail up to the
    finest the pixels hold."""
    noise = np.random.default_rng(seed).uniform(0, 255, (height, width, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 0.7), 0, 255).astype(np.uint8)


def _shift(dx: float, dy: float) -> np.ndarray:
    return np.full((HEIGHT, WIDTH, 2), (dx, dy), np.float32)


@pytest.mark.parametrize("interpolation", ["lanczos", "linear"])
def test_a_sub_pixel_warp_gets_its_detail_back(interpolation):
    texture = make_texture(WIDTH, HEIGHT, seed=5).astype(np.float32)
    flow = _shift(0.5, 0.5)
    warped = np.clip(warp(texture, flow, interpolation), 0, 255)
    inside = np.ones((HEIGHT, WIDTH), np.float32)
    restored, gain = restore_detail(warped, texture, flow, inside)
    assert detail(warped) < 0.95 * detail(texture)  # the warp lost detail ...
    assert 0.0 < gain <= DETAIL_GAIN
    assert detail(restored) == pytest.approx(detail(texture), rel=0.05)  # ... and got it back
    low = [np.mean(np.abs(x - texture)) for x in (warped, restored)]
    assert low[1] < low[0] * 1.5  # sharpened, not changed into something else


def test_a_whole_pixel_warp_lost_nothing_and_is_left_alone():
    texture = make_texture(WIDTH, HEIGHT, seed=6).astype(np.float32)
    flow = _shift(3.0, -2.0)
    warped = warp(texture, flow)
    restored, gain = restore_detail(warped, texture, flow, np.ones((HEIGHT, WIDTH)))
    assert gain == 0.0
    np.testing.assert_array_equal(restored, warped)


def test_the_detail_is_compared_where_the_mask_holds_and_the_source_is_inside():
    texture = make_texture(WIDTH, HEIGHT, seed=7).astype(np.float32)
    flow = _shift(0.5, 0.0)
    warped = np.clip(warp(texture, flow), 0, 255)
    restored, gain = restore_detail(warped, texture, flow, np.zeros((HEIGHT, WIDTH)))
    assert gain == 0.0 and restored is not None  # nothing to compare: left alone
    far = _shift(WIDTH + 5.0, 0.0)  # every source outside the picture
    assert restore_detail(warped, texture, far, np.ones((HEIGHT, WIDTH)))[1] == 0.0


def test_sources_past_the_border_take_the_texture_inside_carried_on():
    texture = make_texture(WIDTH, HEIGHT, seed=6).astype(np.float32)
    out = warp_beyond(texture, _shift(3, 0.5))  # 3 px a frame enter on the right, 0.5 below
    plain = warp(texture, _shift(3, 0.5))
    np.testing.assert_allclose(out[:-1, :-3], plain[:-1, :-3], atol=1e-3)  # sources inside
    # the border repeated: each new column the outer one; carried on: as varied as inside
    assert np.abs(np.diff(plain[:-1, -3:], axis=1)).mean() < 1e-3
    inside = np.abs(np.diff(texture, axis=1)).mean()
    assert np.abs(np.diff(out[:-1, -3:], axis=1)).mean() > 0.5 * inside
    bottom = np.abs(out[-1, :-3] - plain[-1, :-3]).mean()  # the new row: not the outer one
    assert bottom > 0.2 * inside
    # whole pixels: past the border, the outer ENTRY_PERIOD columns again (3 px < the period)
    out = warp_beyond(texture, _shift(3, 0))
    np.testing.assert_allclose(out[:, -3:], warp(texture, _shift(3 - ENTRY_PERIOD, 0))[:, -3:])
    # entering faster than ENTRY_PERIOD px a frame: the texture mirrored at the border
    fast = warp_beyond(texture, _shift(12, 0))
    mirrored = texture[:, 2 * (WIDTH - 1) - np.arange(WIDTH, WIDTH + 12)]
    np.testing.assert_allclose(fast[:, -12:], mirrored, atol=1e-3)


def test_the_flow_near_the_border_is_continued_from_inside():
    flow = _shift(6.0, 2.0)
    truth = flow.copy()
    depth = np.broadcast_to(WIDTH - 1 - (np.arange(WIDTH)[None, :] + 6.0), (HEIGHT, WIDTH))
    band = (depth >= 0) & (depth < EDGE_BAND)
    flow[..., 0] -= np.where(band, 0.25 * (EDGE_BAND - depth), 0.0)  # DIS's drift: its patch
    # reaches past the border, the more so the nearer
    flow[10:20, -4:] = (-40.0, 0.0)  # past the border: a flow gone wrong, pointing inside
    trusted = depth >= 0
    trusted[12, -2] = True  # a trusted speck amid it
    trusted[30:34, 10:14] = False  # untrusted, far from the border: left as it is
    flow[30:34, 10:14] = 0.0
    out = steadied(flow, trusted)
    np.testing.assert_allclose(out[:, -12:], truth[:, -12:], atol=1e-5)  # band and beyond
    np.testing.assert_array_equal(out[30:34, 10:14], 0.0)
    inside = (depth >= EDGE_BAND) & trusted
    np.testing.assert_array_equal(out[inside], flow[inside])  # the flow inside untouched
    assert np.abs(out[:6] - truth[:6]).max() < 1e-5  # the top rows (sources 2 px in) alike
