"""The loss functions against their formulas, on small hand-made tensors."""

import numpy as np
import tensorflow as tf

from vidstyle.engine import losses


def test_gram_is_normalised_outer_product():
    features = np.arange(2 * 3 * 4, dtype=np.float32).reshape(1, 2, 3, 4)
    flat = features.reshape(6, 4)
    expected = flat.T @ flat / 6
    np.testing.assert_allclose(losses.gram(tf.constant(features))[0], expected, rtol=1e-6)


def test_content_loss_is_mean_squared_error_per_image():
    a = tf.constant(np.ones((2, 2, 2, 3), np.float32))
    b = tf.constant(np.zeros((2, 2, 2, 3), np.float32))
    b2 = tf.constant(np.full((2, 1, 1, 5), 2.0, np.float32))
    out = losses.content_loss([a, b2], [b, tf.zeros_like(b2)])
    np.testing.assert_allclose(out.numpy(), [(1.0 + 4.0) / 2] * 2)


def test_style_loss_zero_for_own_gram_and_positive_otherwise():
    f = tf.random.stateless_uniform((1, 4, 4, 3), seed=(1, 2))
    assert float(losses.style_loss([f], [losses.gram(f)])[0]) == 0.0
    assert float(losses.style_loss([f * 2.0], [losses.gram(f)])[0]) > 0.0


def test_total_variation_sums_absolute_neighbour_differences():
    x = np.zeros((1, 3, 3, 1), np.float32)
    x[0, 1, 1, 0] = 1.0  # a single bright pixel: 4 edges of height 1
    assert float(losses.total_variation(tf.constant(x))[0]) == 4.0


def test_temporal_loss_averages_only_reliable_pixels_on_255_scale():
    x = np.zeros((1, 2, 2, 3), np.float32)
    warped = np.zeros_like(x)
    warped[0, 0, 0] = 1.0 / 255.0  # 1 grey level off at a reliable pixel
    warped[0, 1, 1] = 1.0  # far off, but masked out
    mask = np.array([[[1.0, 1.0], [0.0, 0.0]]], np.float32)
    out = losses.temporal_loss(tf.constant(x), tf.constant(warped), tf.constant(mask))
    np.testing.assert_allclose(out.numpy(), [0.5], rtol=1e-4)
