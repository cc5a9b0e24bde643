"""The engine over coarse-to-fine levels, with L-BFGS and the early stop (tiny random-weight
network); the levels' sizes and steps themselves: test_planner.py."""

import numpy as np
import pytest
from conftest import textured
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine import planner
from vidstyle.engine.inputs import Temporal
from vidstyle.engine.request import Request


def _run(engine, content, style_seed=5, **kwargs):
    """Stylize, recording the progress reports; returns (result, reports)."""
    style = engine.style_targets(textured(*content.shape[-3:-1], seed=style_seed))
    reports = []
    out = engine.stylize(
        Request(content, style, on_step=lambda s, loss: reports.append((s, loss)), **kwargs)
    )
    return out, reports


def _total(engine, image, content, temporal=None, style_seed=5):
    style = engine.style_targets(textured(*content.shape[-3:-1], seed=style_seed))
    return engine.losses(image, content, style, temporal)["total"]


# --------------------------------------------------------------------------------- L-BFGS


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
    monkeypatch.setattr(planner, "AUTO_ABOVE", 64)
    monkeypatch.setattr(planner, "AUTO_START", 48)
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
    out, _ = _run(engine, content, start=previous, steps=20, temporal=temporal)
    assert out.shape == content.shape
    before = _total(engine, previous, content, temporal)
    assert _total(engine, out, content, temporal) < before
