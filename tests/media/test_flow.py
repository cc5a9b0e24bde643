"""Tests for vidstyle.media.flow: flow sign convention, warping, occlusion masks, cuts, error."""

from __future__ import annotations

import numpy as np
import pytest
from clipmaker import make_texture, pan_frames

from vidstyle.media.flow import (
    flow,
    is_shot_cut,
    reliable_mask,
    shot_distance,
    temporal_error,
    warp,
)

SEA = [(20, 60, 140), (90, 140, 200), (200, 220, 240), (40, 90, 160)]
FOREST = [(30, 90, 30), (120, 90, 40), (160, 200, 80), (60, 120, 50)]
CITY = [(90, 90, 100), (170, 160, 150), (60, 50, 50), (200, 190, 170)]


@pytest.fixture(scope="module")
def shifted():
    """Frames a, b of a texture whose content moves by (+3, +2) from a to b, and both flows."""
    a, b = pan_frames((160, 90), frames=2, shift=(3, 2), seed=1)
    return a, b, flow(a, b), flow(b, a)


def interior(image: np.ndarray, margin: int = 10) -> np.ndarray:
    return image[margin:-margin, margin:-margin]


def test_flow_sign_convention(shifted):
    a, b, flow_ab, flow_ba = shifted
    assert flow_ab.shape == (90, 160, 2) and flow_ab.dtype == np.float32
    assert np.median(interior(flow_ab).reshape(-1, 2), axis=0) == pytest.approx([3, 2], abs=0.1)
    assert np.median(interior(flow_ba).reshape(-1, 2), axis=0) == pytest.approx([-3, -2], abs=0.1)
    as_float = flow(a.astype(np.float32), b.astype(np.float32))
    assert np.median(interior(as_float)[..., 0]) == pytest.approx(3, abs=0.1)


def test_flow_rejects_frames_of_different_sizes(shifted):
    a, b, _, _ = shifted
    with pytest.raises(ValueError):
        flow(a, b[:-1])


def test_warp_follows_the_documented_formula():
    image = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    constant = np.zeros((20, 30, 2), np.float32)
    constant[...] = (3, 2)
    out = warp(image, constant)
    assert np.array_equal(out[:18, :27], image[2:, 3:])  # out[y, x] = image[y + 2, x + 3]
    assert np.array_equal(out[:, 27:], np.repeat(out[:, 26:27], 3, axis=1))  # border repeated


def test_warp_aligns_frame_a_to_frame_b(shifted):
    a, b, _, flow_ba = shifted
    aligned = warp(a, flow_ba)
    assert aligned.dtype == np.uint8 and aligned.shape == a.shape
    error = np.abs(interior(aligned).astype(np.float32) - interior(b)).mean()
    unaligned = np.abs(interior(a).astype(np.float32) - interior(b)).mean()
    assert error < 1.0 and unaligned > 10


@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4, 6])
def test_warp_keeps_dtype_and_any_channel_count(shifted, channels):
    a, _, _, flow_ba = shifted
    grey = a[..., 0].astype(np.float32)
    image = grey if channels is None else np.stack([grey + i for i in range(channels)], axis=2)
    out = warp(image, flow_ba)
    assert out.shape == image.shape and out.dtype == np.float32
    if channels:
        assert np.allclose(out[..., -1] - out[..., 0], channels - 1, atol=1e-3)


def test_mask_trusts_the_interior_and_rejects_entering_content(shifted):
    _, _, flow_ab, flow_ba = shifted
    mask = reliable_mask(flow_ab, flow_ba)
    assert mask.shape == (90, 160) and mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert interior(mask).mean() > 0.95
    assert mask[:, :3].mean() < 0.1 and mask[:2, :].mean() < 0.1  # uncovered on the left, top


def test_mask_marks_the_region_a_moving_object_uncovers():
    background = make_texture(160, 90, seed=4)
    square = make_texture(30, 30, seed=5, colors=[(250, 50, 50), (120, 0, 0)])
    a, b = background.copy(), background.copy()
    a[30:60, 40:70] = square
    b[30:60, 48:78] = square  # the square moves 8 px right
    mask = reliable_mask(flow(a, b), flow(b, a))
    assert mask[32:58, 40:48].mean() < 0.2  # background revealed behind the square
    assert mask[:, 100:].mean() > 0.95 and mask[35:55, 55:72].mean() > 0.9


def test_mask_formula_on_constructed_flows():
    size = (40, 60, 2)
    forward, backward = np.zeros(size, np.float32), np.zeros(size, np.float32)
    forward[...], backward[...] = (2, 0), (-2, 0)
    assert reliable_mask(forward, backward)[:, 4:-4].min() == 1.0  # consistent
    backward[...] = (-1.2, 0)  # |w̃ + ŵ|² = 0.64 > 0.01 * (4 + 1.44) + 0.5
    assert reliable_mask(forward, backward)[:, 4:-4].max() == 0.0
    backward[...] = (-1.4, 0)  # 0.36 < 0.5544: still consistent
    assert reliable_mask(forward, backward)[:, 4:-4].min() == 1.0
    forward[...], backward[...] = 0, 0
    backward[:, 30:, 0] = 0.5  # a motion edge: |∇u|² = 0.0625 > 0.01 * 0.25 + 0.002
    forward[:, 30:, 0] = -0.5
    mask = reliable_mask(forward, backward)
    assert mask[:, 29:31].max() == 0.0 and mask[:, :28].min() == 1.0 and mask[:, 32:-2].min() == 1


def test_temporal_error(shifted):
    a, b, flow_ab, flow_ba = shifted
    mask = reliable_mask(flow_ab, flow_ba)
    zero = np.zeros_like(flow_ba)
    assert temporal_error(a, a, zero, np.ones(a.shape[:2])) == 0.0
    assert temporal_error(b, a, flow_ba, mask) < 2.0
    assert temporal_error(b, a, zero, np.ones(a.shape[:2])) > 100.0
    assert temporal_error(b.astype(np.float32), a, flow_ba, mask) == pytest.approx(
        temporal_error(b, a, flow_ba, mask)
    )
    assert temporal_error(b, a, zero, np.zeros(a.shape[:2])) == 0.0


def dark(colors, factor=0.35):
    return [tuple(int(v * factor) for v in c) for c in colors]


def bright(colors):
    return [tuple(int(0.5 * v + 127.5) for v in c) for c in colors]


@pytest.mark.parametrize("tone", [list, dark, bright], ids=["normal", "dark", "bright"])
def test_a_pan_is_not_a_cut_but_a_new_scene_is(tone):
    scenes = [pan_frames((96, 64), 12, (3, 2), seed=i, colors=tone(c)) for i, c in
              enumerate([SEA, FOREST, CITY])]  # fmt: skip
    for frames in scenes:
        assert not any(is_shot_cut(frames[i], frames[i + 1]) for i in range(11))
        assert not is_shot_cut(frames[0], frames[-1])  # 33 x 22 px apart
        assert shot_distance(frames[0], frames[-1]) < 0.3
    for one, other in [(0, 1), (0, 2), (1, 2)]:
        assert is_shot_cut(scenes[one][-1], scenes[other][0])
        assert shot_distance(scenes[one][-1], scenes[other][0]) > 0.7


def test_cut_from_a_dark_to_a_bright_scene_and_threshold():
    night = pan_frames((96, 64), 2, (3, 2), seed=0, colors=dark(CITY))
    day = pan_frames((96, 64), 2, (3, 2), seed=1, colors=bright(FOREST))
    assert is_shot_cut(night[1], day[0]) and is_shot_cut(day[1], night[0])
    assert not is_shot_cut(night[1], day[0], threshold=1.0)
    assert is_shot_cut(night[0], night[1], threshold=-1.0)


@pytest.mark.parametrize(("height", "width"), [(1, 1), (1, 9), (15, 15), (11, 40)])
def test_flow_and_mask_of_frames_smaller_than_dis_takes(height, width):
    a = make_texture(width, height, seed=3)
    field = flow(a, a)
    assert field.shape == (height, width, 2) and field.dtype == np.float32
    assert np.abs(field).max() < 0.5  # no motion between equal frames
    mask = reliable_mask(field, field)
    assert mask.shape == (height, width)


def test_detail_and_crispness_on_a_known_pattern_and_its_blur():
    from vidstyle.media.flow import crispness, detail

    checker = (np.indices((24, 24)).sum(axis=0) % 2 * 255).astype(np.uint8)
    checker = np.repeat(checker[..., None], 3, axis=2)
    assert detail(checker) == pytest.approx(4 * 255)  # |Laplacian| of a 1-pixel checkerboard
    assert detail(np.full_like(checker, 90)) == 0.0
    assert crispness(checker, checker) == pytest.approx(1.0)
    texture = make_texture(64, 48, seed=2)
    import cv2

    softer = [cv2.GaussianBlur(texture, (0, 0), sigma) for sigma in (0.5, 1.0, 2.0)]
    kept = [crispness(s, texture) for s in softer]
    assert 1.0 > kept[0] > kept[1] > kept[2] > 0.0  # more blur, less crispness


def test_warping_by_half_a_pixel_keeps_the_detail():
    """A bilinear warp at a fractional shift averages neighbours: a blur that adds up frame after
    frame in a clip. The default (Lanczos) keeps most of the detail."""
    from vidstyle.media.flow import crispness

    texture = make_texture(64, 48, seed=5).astype(np.float32)
    half = np.full((48, 64, 2), 0.5, np.float32)
    lanczos, linear = warp(texture, half), warp(texture, half, "linear")
    assert crispness(linear, texture) < 0.9 < 0.97 < crispness(lanczos, texture)


def test_frames_of_different_sizes_are_a_cut_whatever_their_colours():
    frame = make_texture(32, 48, seed=3)
    assert is_shot_cut(frame, frame[:, :24]) and not is_shot_cut(frame, frame.copy())
