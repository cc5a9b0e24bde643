"""Print sizes with the real VGG19 at small sizes: the automatic ladder and tiling."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import textured

from vidstyle import load_engine
from vidstyle.config import MethodConfig
from vidstyle.engine import levels, tiling
from vidstyle.engine.inputs import to_tensor

pytestmark = pytest.mark.real_weights


@pytest.fixture(scope="module")
def engine(real_weights):
    return load_engine(MethodConfig(optimizer="lbfgs"), real_weights.path)


def test_the_automatic_ladder_runs_and_lowers_the_loss(engine, monkeypatch):
    monkeypatch.setattr(levels, "AUTO_ABOVE", 64)
    monkeypatch.setattr(levels, "AUTO_START", 48)
    content = textured(72, 96, seed=1)
    style = engine.style_targets(textured(96, 96, seed=2))
    out = engine.stylize(content, style, steps=12)
    assert out.shape == content.shape and engine.traces == 1  # 36x48, 51x68, 72x96: one trace
    assert engine.losses(out, content, style)["total"] < engine.losses(content, content,
                                                                       style)["total"]  # fmt: skip


def test_tiled_gradient_matches_the_untiled_one_with_vgg19(engine):
    shape = (224, 256)
    content, x = to_tensor(textured(*shape, seed=1)), to_tensor(textured(*shape, seed=2))
    grams = list(engine.style_targets(textured(128, 128, seed=3)).grams)
    warped, mask, params = tf.zeros_like(x), tf.ones(x.shape[:3]), engine._params(0.0)
    loss, grad, _ = engine._loss_and_grad(x, params, engine._content_targets(content), grams,
                                          warped, mask)  # fmt: skip
    tiled = tiling.Tiled(engine.extractor, 1, 96)
    assert tiled.margin == 112 and len(tiled.tiles(*shape)) == 9
    t_loss, t_grad, _ = tiled.value_and_grad(x, params, tiled.content_targets(content), grams,
                                             warped, mask)  # fmt: skip
    np.testing.assert_allclose(t_loss.numpy(), loss.numpy(), rtol=1e-5)
    assert np.abs(t_grad.numpy() - grad.numpy()).max() <= 1e-5 * np.abs(grad.numpy()).max()
