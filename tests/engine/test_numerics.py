"""Gradient scaling of a float16 network and the finite checks, with a float16 tiny network run
on the CPU (the same ops as on a GPU, slower)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from alike import assert_alike, assert_partner_free, kernels_agree
from conftest import textured
from tinyvgg import tiny_vgg

from vidstyle.config import MethodConfig
from vidstyle.engine import numerics
from vidstyle.engine.model import FeatureExtractor
from vidstyle.engine.optimize import Engine
from vidstyle.engine.request import Request
from vidstyle.errors import NumericError


def float16_engine(method: MethodConfig, gain: float = 1.0) -> Engine:
    """The tiny network in float16 (``precision`` float16, auto's choice on 7.x GPUs); ``gain``
    scales every kernel, so activations can be pushed past float16's range."""
    vgg = tiny_vgg()
    for layer in vgg.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel * gain, bias])
    return Engine(method, FeatureExtractor(vgg, method.layers, "float16"))


def test_scale_is_a_power_of_two_per_image_and_one_for_zero_or_non_finite_gradients():
    grads = [tf.constant([[[[3.0]]], [[[0.0]]], [[[np.inf]]], [[[1e-3]]]])]
    scale = numerics.gradient_scale(grads).numpy().ravel()
    assert scale[0] == 16.0  # 3 * 16 = 48 <= 64 < 96
    assert scale[1] == 1.0 and scale[2] == 1.0  # not 64 / 0 = inf (0 * inf was NaN)
    assert scale[3] == 2.0**15 and 1e-3 * scale[3] <= numerics.FP16_GRAD_MAX


def test_float16_with_zero_style_weight_from_the_content_stays_finite():
    """``--precision float16 --style-weight 0`` from the content: every feature gradient is 0."""
    method = MethodConfig(style_weight=0.0)
    content, style = textured(32, 32, seed=1), textured(32, 32, seed=2)
    results = []
    for engine in (
        float16_engine(method),
        Engine(method, FeatureExtractor(tiny_vgg(), method.layers)),
    ):
        results.append(
            engine.stylize(Request(content, engine.style_targets(style), steps=10)).astype(int)
        )
    assert results[0].mean() > 50  # not the black image of a NaN gradient
    assert np.abs(results[0] - results[1]).mean() < 1  # what float32 gives (the TV term's pull)


def test_float16_overflow_is_an_error_naming_the_term_and_suggesting_float32():
    engine = float16_engine(MethodConfig(precision="float16"), gain=40.0)  # activations > 65504
    style = engine.style_targets(textured(32, 32, seed=2))
    with pytest.raises(NumericError) as caught:
        engine.stylize(Request(textured(32, 32, seed=1), style, steps=10))
    message = caught.value.message()
    assert message == (
        "the content loss became infinite or NaN during the optimization (use precision float32)"
    )  # the first term to overflow, named; one line


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_float16_batch_gives_each_image_its_result_alone(optimizer):
    """Each image its own gradient scale: a batch of a zero-gradient start and a noisy one."""
    engine = float16_engine(MethodConfig(optimizer=optimizer, learning_rate=0.05))
    style = engine.style_targets(textured(32, 32, seed=5))
    contents = np.stack([textured(32, 32, seed=1), textured(32, 32, seed=2)])
    starts = np.stack([contents[0], np.random.default_rng(3).uniform(0, 255, (32, 32, 3))])
    batch = engine.stylize(Request(contents, style, start=starts, steps=20))
    exact = kernels_agree(engine.extractor, starts)
    for i in range(2):
        alone = engine.stylize(Request(contents[i], style, start=starts[i], steps=20))
        assert_alike(batch[i], alone, exact)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_float16_image_comes_out_the_same_to_the_bit_whatever_its_batch_partner(optimizer):
    """The per-image gradient scale, exactly: beside a noisy start (large gradients), itself
    (zero gradients at first) or a black start, the same image gets the same result. One scale
    for the batch (the largest gradient's) sinks the smaller image's gradients into float16's
    subnormals (16 grey levels off after 20 Adam steps)."""
    engine = float16_engine(MethodConfig(optimizer=optimizer, learning_rate=0.05))
    style = engine.style_targets(textured(32, 32, seed=5))
    content, other = textured(32, 32, seed=1), textured(32, 32, seed=2)
    noise = np.random.default_rng(3).uniform(0, 255, (32, 32, 3))
    partners = [(other, noise), (content, content), (other, np.zeros_like(noise))]

    def stylize(contents, starts):
        return engine.stylize(Request(contents, style, start=starts, steps=20))

    assert_partner_free(stylize, content, content, partners)
