"""Several styles blended (``style_blend``): the blended target's gradient (tiny model)."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import textured
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine import losses
from vidstyle.engine.inputs import to_tensor
from vidstyle.engine.styles import blend, run_targets
from vidstyle.errors import UsageError, flag


def _style_grad(engine, x, grams):
    with tf.GradientTape() as tape:
        tape.watch(x)
        features = engine.extractor(x)[len(engine.method.content_layers) :]
        loss = losses.style_loss(features, list(grams))
    return tape.gradient(loss, x).numpy()


def test_blended_loss_gradient_is_the_weighted_sum_of_the_single_style_gradients():
    engine = tiny_engine()
    styles = [textured(32, 32, seed=s) for s in (7, 8, 9)]
    weights = (0.5, 0.3, 0.2)
    x = to_tensor(textured(32, 40, seed=1))
    single = [_style_grad(engine, x, engine.style_targets(s).grams) for s in styles]
    blended = _style_grad(
        engine, x, blend([engine.style_targets(s) for s in styles], weights).grams
    )
    expected = sum(w * g for w, g in zip(weights, single))
    assert np.abs(blended - expected).max() <= 1e-5 * np.abs(expected).max()


def test_run_targets_blend_with_the_methods_weights_equal_by_default():
    styles = [textured(32, 32, seed=7), textured(24, 40, seed=8)]
    content = textured(32, 32, seed=1)
    equal = run_targets(tiny_engine(), styles, content)
    engine = tiny_engine(MethodConfig(style_blend=(0.7, 0.3)))
    weighted = run_targets(engine, styles, content)
    a, b = (engine.style_targets(s).grams for s in styles)
    for layer, (ga, gb) in enumerate(zip(a, b)):
        assert np.allclose(equal.grams[layer], 0.5 * ga + 0.5 * gb, rtol=1e-5)
        assert np.allclose(weighted.grams[layer], 0.7 * ga + 0.3 * gb, rtol=1e-5)
    single = run_targets(engine.__class__(MethodConfig(), engine.extractor), styles[:1], content)
    for layer, gram in enumerate(a):  # one style: its own Gram matrices, whatever the blend
        assert np.allclose(single.grams[layer], gram, rtol=1e-6)


@pytest.mark.parametrize(
    ("blend_text", "message"),
    [
        ("0.7,0.4", "style_blend weights must add up to 1, got 0.7,0.4 (sum 1.1)"),
        ("1.5,-0.5", "style_blend weights must be 0 or more, got 1.5,-0.5"),
        ("0.7;0.3", "cannot read style_blend '0.7;0.3'"),
    ],
)
def test_bad_blend_weights_are_one_line_naming_the_parameter(blend_text, message):
    with pytest.raises(UsageError) as caught:
        MethodConfig.from_options({"style_blend": blend_text})
    text = caught.value.message()
    assert message in text and "\n" not in text and "--" not in text
    assert "--style-blend" in caught.value.message(flag)


def test_blend_needs_one_weight_per_style():
    method = MethodConfig(style_blend=(0.25, 0.75))
    assert method.blend_weights(2) == (0.25, 0.75)
    assert MethodConfig().blend_weights(4) == (0.25,) * 4
    with pytest.raises(UsageError, match="style_blend gives 2 weights for 3 style images"):
        method.blend_weights(3)
