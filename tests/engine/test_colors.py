"""Original colours (``preserve_colors``): the colour transforms, and the engine keeping the
photo's chroma (tiny random-weight model)."""

import numpy as np
import pytest
from conftest import textured
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine import colors
from vidstyle.engine.inputs import Temporal
from vidstyle.engine.request import Request
from vidstyle.engine.styles import run_targets


def _chroma(rgb):
    return colors.to_yiq(rgb)[..., 1:]


def _muted(height, width, seed):
    """A texture kept away from 0 and 255, so recombining never clips."""
    return (64 + textured(height, width, seed) // 2).astype(np.uint8)


def _restyled(out, content):
    """Assert the photo's chroma was kept and its luminance changed (not handed back as is)."""
    assert np.abs(_chroma(out) - _chroma(content)).max() < 1.0  # uint8 rounding only
    luma = np.abs(colors.to_yiq(out)[..., 0] - colors.to_yiq(content)[..., 0])
    assert luma.mean() > 1.0, f"luminance moved by {luma.mean():.2f} grey levels on average"


def test_yiq_round_trip_and_luminance():
    rgb = textured(8, 8, seed=1).astype(np.float64)
    assert np.allclose(colors.from_yiq(colors.to_yiq(rgb)), rgb)
    gray = colors.luminance3(rgb)
    assert gray.shape == rgb.shape and np.allclose(gray[..., 0], gray[..., 2])
    assert np.allclose(gray[..., 0], rgb @ [0.299, 0.587, 0.114], atol=1e-3)


def test_histogram_matching_gives_the_style_the_contents_mean_and_covariance():
    style, content = _muted(40, 40, seed=2), _muted(30, 50, seed=3)
    matched = colors.match_histogram(style, content).reshape(-1, 3).astype(np.float64)
    want = content.reshape(-1, 3).astype(np.float64)
    assert np.abs(matched.mean(0) - want.mean(0)).max() < 1.0  # uint8 rounding
    assert np.abs(np.cov(matched.T) - np.cov(want.T)).max() < 0.02 * np.abs(np.cov(want.T)).max()


def test_luminance_matching_gives_the_style_the_contents_mean_and_spread():
    style, content = textured(40, 40, seed=2), _muted(30, 50, seed=3)
    matched = colors.match_luminance(style, content)[..., 0].astype(np.float64)
    luma = colors.to_yiq(content)[..., 0]
    assert abs(matched.mean() - luma.mean()) < 1.0 and abs(matched.std() - luma.std()) < 1.0


def test_a_flat_style_does_not_divide_by_zero():
    flat = np.full((16, 16, 3), 90, np.uint8)
    content = textured(16, 16, seed=4)
    for mode in ("luminance", "histogram"):
        assert np.isfinite(colors.prepare_style(flat, content, mode)).all()


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_luminance_mode_keeps_the_contents_chroma(optimizer):
    engine = tiny_engine(MethodConfig(preserve_colors="luminance", optimizer=optimizer,
                                      learning_rate=0.05))  # fmt: skip
    content = _muted(32, 40, seed=1)
    style = textured(32, 32, seed=7)
    out = engine.stylize(Request(content, run_targets(engine, [style], content), steps=20))
    assert out.shape == content.shape and out.dtype == np.uint8
    assert np.abs(_chroma(out) - _chroma(content)).max() < 1.0  # uint8 rounding only
    assert np.abs(out.astype(int) - content).max() > 2  # and it did change the picture


def test_luminance_mode_works_for_a_batch_a_video_frame_and_a_tiny_image():
    engine = tiny_engine(MethodConfig(preserve_colors="luminance"))
    batch = np.stack([_muted(32, 32, seed=1), _muted(32, 32, seed=2)])
    targets = run_targets(engine, [textured(32, 32, seed=7)], batch)
    out = engine.stylize(Request(batch, targets, steps=10))
    for image, content in zip(out, batch):
        _restyled(image, content)
    frame = batch[0]
    targets = run_targets(engine, [textured(32, 32, seed=7)], frame)
    temporal = Temporal(np.asarray(out[1], np.float32) / 255.0, np.ones((32, 32), np.float32), 1e3)
    moved = engine.stylize(Request(frame, targets, start=out[1], temporal=temporal, steps=10))
    _restyled(moved, frame)
    assert set(engine.losses(moved, frame, targets, temporal)) >= {"temporal", "total"}
    small = _muted(6, 9, seed=3)
    result = engine.stylize(Request(small, targets, steps=5))
    _restyled(result, small)


def test_colour_matched_targets_are_per_image_and_not_cached():
    engine = tiny_engine(MethodConfig(preserve_colors="histogram"))
    batch = np.stack([_muted(32, 32, seed=1), textured(32, 32, seed=2)])
    style = textured(32, 32, seed=7)
    targets = run_targets(engine, [style], batch)
    assert all(g.shape[0] == 2 for g in targets.grams)
    alone = run_targets(engine, [style], batch[1])
    assert all(np.allclose(a[0], b[1]) for a, b in zip(alone.grams, targets.grams))
    assert not engine._style_cache
