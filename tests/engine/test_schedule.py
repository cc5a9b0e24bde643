"""L-BFGS, coarse-to-fine levels and the early stop, with a tiny random-weight network."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import textured
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine import lbfgs, schedule
from vidstyle.engine import levels as levelmath
from vidstyle.engine.optimize import Temporal
from vidstyle.errors import UsageError


def _run(engine, content, style_seed=5, **kwargs):
    """Stylize, recording the progress reports; returns (result, reports)."""
    style = engine.style_targets(textured(*content.shape[-3:-1], seed=style_seed))
    reports = []
    out = engine.stylize(
        content, style, on_step=lambda s, loss: reports.append((s, loss)), **kwargs
    )
    return out, reports


def _total(engine, image, content, temporal=None, style_seed=5):
    style = engine.style_targets(textured(*content.shape[-3:-1], seed=style_seed))
    return engine.losses(image, content, style, temporal)["total"]


# ------------------------------------------------------------------------------- schedule


def test_steps_are_split_evenly_with_the_remainder_to_the_coarsest_levels():
    assert schedule.split_steps(1000, 2) == [500, 500]
    assert schedule.split_steps(1000, 3) == [334, 333, 333]
    assert schedule.split_steps(7, 1) == [7]
    assert schedule.split_steps(0, 3) == [0, 0, 0]


def test_levels_double_up_to_the_working_size():
    plan = schedule.levels(300, 200, 90, 3)
    assert [(lv.height, lv.width, lv.steps) for lv in plan] == [(75, 50, 30), (150, 100, 30),
                                                                 (300, 200, 30)]  # fmt: skip
    assert schedule.levels(300, 200, 0, 3) == [schedule.Level(300, 200, 0)]
    # a coarse level under MIN_SIDE is dropped and its share goes to the others
    assert [lv.steps for lv in schedule.levels(100, 40, 10, 2)] == [10]


def test_automatic_levels_start_near_512_and_grow_by_sqrt2_above_1024():
    assert schedule.levels(768, 1024, 1000, 0) == [schedule.Level(768, 1024, 1000)]
    plan = schedule.levels(1536, 2048, 1000, 0)
    assert [(lv.height, lv.width) for lv in plan] == [(384, 512), (543, 724), (768, 1024),
                                                      (1086, 1448), (1536, 2048)]  # fmt: skip
    steps = [lv.steps for lv in plan]
    assert sum(steps) == 1000 and steps == sorted(steps, reverse=True)
    assert all(abs(a / b - 2**0.5) < 0.02 for a, b in zip(steps, steps[1:]))
    cost = sum(lv.steps * lv.height * lv.width for lv in plan) / (1000 * 1536 * 2048)
    assert 0.2 < cost < 0.3  # the ladder costs about a quarter of single-scale's steps
    longest = [max(lv.height, lv.width) for lv in schedule.levels(3000, 4000, 250, 0)]
    assert longest[0] in range(450, 600) and longest[-1] == 4000 and len(longest) == 7
    assert schedule.levels(1100, 40, 10, 0) == [schedule.Level(1100, 40, 10)]  # too thin


def test_weighted_split_adds_up():
    assert schedule.split_weighted(10, [2.0, 1.0, 1.0]) in ([5, 3, 2], [5, 2, 3])
    assert sum(schedule.split_weighted(7, [1.4, 1.0])) == 7
    assert schedule.split_weighted(0, [2.0, 1.0]) == [0, 0]


def test_mask_is_resized_to_zeros_and_ones():
    mask = np.zeros((1, 8, 8), np.float32)
    mask[:, :, :4] = 1.0
    small = schedule.resize_mask(tf.constant(mask), 4, 4).numpy()
    np.testing.assert_array_equal(small[0], np.repeat([[1, 1, 0, 0]], 4, axis=0))


def test_plateau_compares_with_the_loss_a_window_earlier():
    plateau = schedule.Plateau(0.1, window=2)
    assert [plateau.update(v) for v in (100.0, 50.0, 48.0, 47.0)] == [False, False, False, True]
    off = schedule.Plateau(0.0, window=1)
    assert not any(off.update(5.0) for _ in range(5))


@pytest.mark.parametrize(
    "change", [{"optimizer": "sgd"}, {"scales": -1}, {"tol": -1e-3}, {"tol": float("nan")}]
)
def test_invalid_options_are_usage_errors(change):
    with pytest.raises(UsageError):
        MethodConfig(**change)


# --------------------------------------------------------------------------------- L-BFGS


def test_lbfgs_finds_the_bounded_minimum_of_a_quadratic():
    target = tf.constant(np.linspace(-1.0, 2.0, 50), tf.float32)
    scales = tf.constant(np.linspace(1.0, 20.0, 50), tf.float32)  # an ill-conditioned bowl

    def quadratic(x):  # one image of 50 pixels: per-image loss [1], gradient, finite flags [1, 1]
        loss = tf.reduce_sum(scales * (x - target) ** 2, axis=1)
        return loss, 2.0 * scales * (x - target), tf.ones([1, 1], tf.bool)

    x = tf.fill([1, 50], 0.5)
    state = lbfgs.iterate(quadratic, lbfgs.start(x, *quadratic(x)), tf.constant(40))
    assert float(tf.reduce_min(state.x)) >= 0.0 and float(tf.reduce_max(state.x)) <= 1.0
    np.testing.assert_allclose(state.x.numpy()[0], np.clip(target.numpy(), 0.0, 1.0), atol=1e-3)


def test_lbfgs_lowers_the_loss_and_reuses_its_compiled_function():
    engine = tiny_engine(MethodConfig(optimizer="lbfgs"))
    content = textured(32, 32, seed=1)
    out, reports = _run(engine, content, steps=30)
    assert out.shape == content.shape and out.dtype == np.uint8
    assert [s for s, _ in reports] == [10, 20, 30]  # every ten iterations
    assert reports[-1][1] < reports[0][1]
    assert _total(engine, out, content) < _total(engine, content, content)
    _run(engine, textured(32, 32, seed=2), steps=4)
    assert engine.traces == 1  # a second image of the same size: no new compilation
    _run(engine, textured(16, 24, seed=3), steps=2)
    assert engine.traces == 1  # nor for a new size (test_retrace.py)


def test_lbfgs_batch_optimizes_every_image():
    engine = tiny_engine(MethodConfig(optimizer="lbfgs"))
    batch = np.stack([textured(16, 16, seed=1), textured(16, 16, seed=2)])
    out, _ = _run(engine, batch, steps=10)
    assert out.shape == batch.shape
    for image, content in zip(out, batch):
        assert _total(engine, image, content) < _total(engine, content, content)


# ---------------------------------------------------------------------------- coarse to fine


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_two_scales_return_the_working_size_and_lower_the_loss(optimizer):
    engine = tiny_engine(MethodConfig(optimizer=optimizer, scales=2, learning_rate=0.05))
    content = textured(96, 64, seed=1)
    out, reports = _run(engine, content, steps=20)
    assert out.shape == content.shape
    assert [s for s, _ in reports] == [10, 20]  # one report per level, counted over both
    assert engine.traces == 1  # 48 x 32, then 96 x 64: one trace for both
    assert _total(engine, out, content) < _total(engine, content, content)


def test_automatic_levels_run_coarse_to_fine_in_the_engine(monkeypatch):
    monkeypatch.setattr(levelmath, "AUTO_ABOVE", 64)
    monkeypatch.setattr(levelmath, "AUTO_START", 48)
    engine = tiny_engine(MethodConfig(learning_rate=0.05))  # scales 0: automatic
    content = textured(72, 96, seed=1)
    out, reports = _run(engine, content, steps=30)
    assert out.shape == content.shape
    assert engine.traces == 1  # 36x48, 51x68, 72x96: one trace for all
    assert reports[-1][0] == 30
    assert _total(engine, out, content) < _total(engine, content, content)


def test_zero_steps_with_scales_return_the_start_image():
    engine = tiny_engine(MethodConfig(scales=3))
    content = textured(128, 128, seed=1)
    out, _ = _run(engine, content, steps=0)
    np.testing.assert_array_equal(out, content)


# ------------------------------------------------------------------------------ early stop


def test_tol_stops_adam_once_the_loss_stops_changing():
    slow = MethodConfig(learning_rate=1e-6)  # the loss barely moves: converged for any tol
    content = textured(32, 32, seed=1)
    _, stopped = _run(tiny_engine(slow.replace(tol=1e-3)), content, steps=100)
    _, full = _run(tiny_engine(slow), content, steps=100)
    assert [s for s, _ in stopped] == [10, 20, 30, 40, 50, 60]  # the first check, 50 steps in
    assert len(full) == 10


def test_tol_stops_lbfgs_on_a_converging_problem():
    # content against a temporal pull: a smooth problem with a positive floor
    method = MethodConfig(optimizer="lbfgs", style_weight=0.0, tv_weight=0.0)
    content = textured(32, 32, seed=1)
    warped = textured(32, 32, seed=7).astype(np.float32) / 255.0
    temporal = Temporal(warped, np.ones((32, 32), np.float32), 1.0)
    _, stopped = _run(tiny_engine(method.replace(tol=1e-2)), content, steps=150, temporal=temporal)
    _, full = _run(tiny_engine(method), content, steps=30, temporal=temporal)
    assert len(stopped) < 15
    assert [s for s, _ in full] == [10, 20, 30]


# ------------------------------------------------------------------------- temporal term


@pytest.mark.parametrize("change, side", [({"optimizer": "lbfgs"}, 32), ({"scales": 2}, 64)])
def test_temporal_term_works_with_lbfgs_and_scales(change, side):
    engine = tiny_engine(MethodConfig(**change))
    content = textured(side, side, seed=1)
    previous = textured(side, side, seed=7)  # the warm start, as the video pipeline gives it
    mask = np.ones((side, side), np.float32)
    mask[:, :8] = 0.0
    temporal = Temporal(previous.astype(np.float32) / 255.0, mask, 1e2)
    out, _ = _run(engine, content, init=previous, steps=20, temporal=temporal)
    assert out.shape == content.shape
    before = _total(engine, previous, content, temporal)
    assert _total(engine, out, content, temporal) < before


# ------------------------------------------------------------------- resizing on the device


SIZES = [((64, 48), (32, 24)), ((103, 77), (52, 39)), ((128, 96), (32, 24)), ((101, 50), (50, 25))]


@pytest.mark.parametrize("size, wanted", SIZES)
def test_resize_down_is_close_to_area_averaging_and_has_no_cpu_only_op(size, wanted):
    photos = [textured(*size, seed=seed) for seed in (1, 2)]  # smooth colour textures, as photos
    images = tf.constant(np.stack(photos) / 255.0, tf.float32)
    ours = schedule.resize(images, *wanted).numpy()
    area = tf.image.resize(images, wanted, method="area").numpy()
    assert ours.shape == area.shape
    if size[0] % wanted[0] == 0 and size[1] % wanted[1] == 0:
        np.testing.assert_allclose(ours, area, atol=1e-6)  # the same where the sizes divide
    else:
        assert np.abs(ours - area).mean() < 1e-3  # measured: about 1e-4 of the range
    graph = tf.function(lambda x: schedule.resize(x, *wanted)).get_concrete_function(images).graph
    ops = {op.type for op in graph.get_operations()}
    assert "ResizeArea" not in ops and "ScaleAndTranslate" not in ops  # both CPU-only kernels
