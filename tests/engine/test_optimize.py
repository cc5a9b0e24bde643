"""The optimization loop, with a tiny random-weight network (mechanics, not quality)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import textured
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine.inputs import Temporal
from vidstyle.engine.request import Request


def test_same_size_items_reuse_the_compiled_step():
    engine = tiny_engine()
    style = engine.style_targets(textured(32, 32, seed=9))
    engine.stylize(Request(textured(24, 32, seed=1), style, steps=3))
    engine.stylize(Request(textured(24, 32, seed=2), style, steps=5))
    assert engine.traces == 1
    engine.stylize(Request(textured(16, 16, seed=3), style, steps=3))
    assert engine.traces == 1  # nor for a new size (test_retrace.py)


def test_style_targets_are_computed_once_per_style():
    engine = tiny_engine()
    style = textured(32, 32, seed=9)
    first = engine.style_targets(style)
    assert engine.style_targets(style.copy()) is first
    assert engine.style_targets(textured(32, 32, seed=8)) is not first


def test_loss_goes_down_and_progress_is_reported():
    engine = tiny_engine(MethodConfig(learning_rate=0.05))
    content = textured(32, 32, seed=1)
    style = engine.style_targets(textured(32, 32, seed=5))
    reports = []
    out = engine.stylize(
        Request(content, style, steps=40, on_step=lambda s, loss: reports.append((s, loss)))
    )
    assert out.shape == content.shape and out.dtype == np.uint8
    assert [s for s, _ in reports] == [10, 20, 30, 40]
    assert reports[-1][1] < reports[0][1]
    before = engine.losses(content, content, style)["total"]
    assert engine.losses(out, content, style)["total"] < before


def test_zero_steps_returns_the_start_image():
    engine = tiny_engine()
    content = textured(16, 16)
    out = engine.stylize(Request(content, engine.style_targets(textured(16, 16, 3)), steps=0))
    np.testing.assert_array_equal(out, content)


@pytest.mark.parametrize("rate", [None, 0.005])
def test_adam_update_matches_keras_adam(rate):
    """Our in-graph Adam equals keras.optimizers.Adam with the method's settings (and with the
    learning rate of the run, when one is given)."""
    method = MethodConfig(content_weight=1.0, style_weight=0.0, tv_weight=0.0)
    engine = tiny_engine(method)
    content = textured(16, 16, seed=1)
    start = textured(16, 16, seed=2).astype(np.float32)
    style = engine.style_targets(content)
    ours = engine.stylize(Request(content, style, start=start, steps=5, learning_rate=rate))

    image = tf.Variable(start[None] / 255.0)
    adam = keras.optimizers.Adam(learning_rate=rate or 0.02, beta_1=0.99, epsilon=0.1)
    targets = engine._content_targets(tf.constant(content[None] / 255.0, tf.float32))
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = engine._loss_terms(
                image, targets, list(style.grams), image, tf.zeros((1, 16, 16))
            )
        adam.apply_gradients([(tape.gradient(loss["content"], image), image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
    theirs = np.clip(np.rint(image.numpy()[0] * 255.0), 0, 255)
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_temporal_term_pulls_towards_the_warped_frame():
    method = MethodConfig(learning_rate=0.05)
    engine = tiny_engine(method)
    content = textured(24, 24, seed=1)
    style = engine.style_targets(textured(24, 24, seed=5))
    previous = textured(24, 24, seed=7).astype(np.float32) / 255.0
    mask = np.ones((24, 24), np.float32)
    free = engine.stylize(Request(content, style, steps=30))
    tied = engine.stylize(Request(content, style, steps=30, temporal=Temporal(previous, mask, 1e4)))
    distance = lambda img: np.abs(img / 255.0 - previous).mean()  # noqa: E731
    assert distance(tied) < 0.5 * distance(free)


def test_batch_of_images_is_optimized_independently():
    engine = tiny_engine()
    style = engine.style_targets(textured(16, 16, seed=5))
    a, b = textured(16, 16, seed=1), textured(16, 16, seed=2)
    batch = engine.stylize(Request(np.stack([a, b]), style, steps=10))
    assert batch.shape == (2, 16, 16, 3)
    for image, content in zip(batch, (a, b)):
        alone = engine.stylize(Request(content, style, steps=10))
        assert np.abs(image.astype(int) - alone.astype(int)).max() <= 1
        assert np.abs(image.astype(int) - content).mean() > 1  # and it was stylized


@pytest.mark.real_weights
def test_float16_network_gradient_stays_finite_and_matches_float32(real_weights):
    from vidstyle.engine.model import FeatureExtractor, keras_vgg19
    from vidstyle.engine.optimize import Engine, to_tensor

    vgg, method = keras_vgg19(real_weights), MethodConfig(max_size=64)
    content, style = textured(64, 64, seed=1), textured(64, 64, seed=2)
    x = to_tensor(textured(64, 64, seed=3))
    grads = {}
    for dtype in ("float32", "float16"):
        engine = Engine(method, FeatureExtractor(vgg, method.layers, dtype))
        grams = list(engine.style_targets(style).grams)
        targets = engine._content_targets(to_tensor(content))
        params = engine._params(0.0)
        _, grads[dtype], _ = engine._loss_and_grad(
            x, params, targets, grams, tf.zeros_like(x), tf.zeros([1, 64, 64])
        )
    assert np.abs(grads["float32"].numpy()).max() > 65504 / 255  # too large for float16 unscaled
    g16, g32 = grads["float16"].numpy(), grads["float32"].numpy()
    assert np.isfinite(g16).all()
    assert (g16 * g32).sum() / (np.linalg.norm(g16) * np.linalg.norm(g32)) > 0.99


def test_running_out_of_device_memory_is_a_one_line_too_large_error():
    from vidstyle.errors import TooLargeError

    engine = tiny_engine()
    style = engine.style_targets(textured(16, 16, seed=5))

    def exhausted(*args):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    engine._run = exhausted
    with pytest.raises(TooLargeError) as caught:
        engine.stylize(Request(np.stack([textured(40, 60, seed=1)] * 2), style, steps=10))
    message = caught.value.message()
    assert message.startswith("the device ran out of memory stylizing 2 images of 60x40")
    assert "(use max_size 42 or less)" in message and "\n" not in message
    assert isinstance(caught.value.__cause__, tf.errors.ResourceExhaustedError)


def test_quiet_runs_read_no_loss_back():
    """With no on_step and no early stop, no chunk's loss is converted on the host."""
    engine = tiny_engine()
    style = engine.style_targets(textured(16, 16, seed=5))
    reads = []
    run = engine._run

    class Watched:  # a loss that records being read back
        def __init__(self, value):
            self.value = value

        def __float__(self):
            reads.append(1)
            return float(self.value)

    engine._run = lambda *args: (*run(*args)[:-1], Watched(1.0))
    engine.stylize(Request(textured(16, 16, seed=1), style, steps=30))
    assert reads == []
