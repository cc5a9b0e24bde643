"""Print sizes with the real VGG19 at small sizes: the automatic ladder and tiling."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import textured

from vidstyle.config import MethodConfig
from vidstyle.engine import planner, tiling
from vidstyle.engine.inputs import to_tensor
from vidstyle.engine.request import Request

pytestmark = pytest.mark.real_weights


@pytest.fixture(scope="module")
def engine(real_engine):
    return real_engine(MethodConfig(optimizer="lbfgs"))


def test_the_automatic_ladder_runs_and_lowers_the_loss(engine, monkeypatch):
    monkeypatch.setattr(planner, "AUTO_ABOVE", 64)
    monkeypatch.setattr(planner, "AUTO_START", 48)
    content = textured(72, 96, seed=1)
    style = engine.style_targets(textured(96, 96, seed=2))
    traced = engine.traces  # the session's engines share their traces: count this run's only
    out = engine.stylize(Request(content, style, steps=12))
    assert out.shape == content.shape
    assert engine.traces - traced <= 1  # 36x48, 51x68, 72x96: at most one new trace, not three
    assert engine.losses(out, content, style)["total"] < engine.losses(content, content,
                                                                       style)["total"]  # fmt: skip


def test_tiled_gradient_matches_the_untiled_one_with_vgg19(engine):
    shape = (180, 192)  # 3x3 tiles of 64: the corner tiles' crops end at their halo, not at the
    # image's edge (grad within 2.4e-7 of the untiled one; 3.4e-7 at 224x256 in tiles of 96)
    content, x = to_tensor(textured(*shape, seed=1)), to_tensor(textured(*shape, seed=2))
    grams = list(engine.style_targets(textured(128, 128, seed=3)).grams)
    warped, mask, params = tf.zeros_like(x), tf.ones(x.shape[:3]), engine._params(0.0)
    loss, grad, _ = engine._loss_and_grad(x, params, engine._content_targets(content), grams,
                                          warped, mask)  # fmt: skip
    tiled = tiling.Tiled(engine.extractor, 1, 64)
    tiles = tiled.tiles(*shape)
    assert tiled.margin == 112 and len(tiles) == 9
    assert (tiles[0].cy1, tiles[0].cx1) == (176, 176) and (tiles[-1].cy0, tiles[-1].cx0) == (16, 16)
    t_loss, t_grad, _ = tiled.value_and_grad(x, params, tiled.content_targets(content), grams,
                                             warped, mask)  # fmt: skip
    np.testing.assert_allclose(t_loss.numpy(), loss.numpy(), rtol=1e-5)
    assert np.abs(t_grad.numpy() - grad.numpy()).max() <= 1e-5 * np.abs(grad.numpy()).max()
