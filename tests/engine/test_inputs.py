"""A level's inputs on the device: images and masks resized between the coarse-to-fine levels."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import textured

from vidstyle.engine.inputs import resize, resize_mask


def test_mask_is_resized_to_zeros_and_ones():
    mask = np.zeros((1, 8, 8), np.float32)
    mask[:, :, :4] = 1.0
    small = resize_mask(tf.constant(mask), 4, 4).numpy()
    np.testing.assert_array_equal(small[0], np.repeat([[1, 1, 0, 0]], 4, axis=0))


SIZES = [((64, 48), (32, 24)), ((103, 77), (52, 39)), ((128, 96), (32, 24)), ((101, 50), (50, 25))]


@pytest.mark.parametrize("size, wanted", SIZES)
def test_resize_down_is_close_to_area_averaging_and_has_no_cpu_only_op(size, wanted):
    photos = [textured(*size, seed=seed) for seed in (1, 2)]  # smooth colour textures, as photos
    images = tf.constant(np.stack(photos) / 255.0, tf.float32)
    ours = resize(images, *wanted).numpy()
    area = tf.image.resize(images, wanted, method="area").numpy()
    assert ours.shape == area.shape
    if size[0] % wanted[0] == 0 and size[1] % wanted[1] == 0:
        np.testing.assert_allclose(ours, area, atol=1e-6)  # the same where the sizes divide
    else:
        assert np.abs(ours - area).mean() < 1e-3  # measured: about 1e-4 of the range
    graph = tf.function(lambda x: resize(x, *wanted)).get_concrete_function(images).graph
    ops = {op.type for op in graph.get_operations()}
    assert "ResizeArea" not in ops and "ScaleAndTranslate" not in ops  # both CPU-only kernels
