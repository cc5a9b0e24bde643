"""The feature extractor: same features as Keras's VGG19, cut after the deepest layer used."""

import numpy as np
import pytest
from tinyvgg import tiny_vgg

from vidstyle.config import STYLE_LAYERS
from vidstyle.engine.model import FeatureExtractor, keras_vgg19
from vidstyle.errors import UsageError, WeightsError
from vidstyle.weights import WeightsSource


def test_features_match_keras_vgg19_with_preprocess_input():
    import keras

    vgg = keras_vgg19(None)  # random weights: this checks the wiring, not the weights
    layers = ("block5_conv2", *STYLE_LAYERS)
    extractor = FeatureExtractor(vgg, layers)
    reference = keras.Model(vgg.input, [vgg.get_layer(n).output for n in layers])
    images = np.random.default_rng(0).uniform(0, 1, (1, 48, 40, 3)).astype(np.float32)
    expected = reference(keras.applications.vgg19.preprocess_input(images * 255.0))
    for ours, theirs in zip(extractor(images), expected):
        np.testing.assert_allclose(ours.numpy(), np.asarray(theirs), rtol=1e-4, atol=1e-3)


def test_extractor_stops_at_deepest_layer():
    vgg = tiny_vgg()
    shallow = FeatureExtractor(vgg, ("block2_conv1",))
    assert [op.name for op in shallow.ops][-1] == "block2_conv1"
    assert shallow.depth == 4  # conv, conv, pool, conv
    deep = FeatureExtractor(vgg, ("block5_conv2", "block1_conv1"))
    assert deep.ops[-1].name == "block5_conv2"


def test_unknown_layer_is_a_usage_error():
    with pytest.raises(UsageError, match="block9_conv1"):
        FeatureExtractor(tiny_vgg(), ("block9_conv1",))


def test_corrupt_h5_weights_give_weights_error(tmp_path):
    bad = tmp_path / "vgg19.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    with pytest.raises(WeightsError, match="vgg19.h5"):
        keras_vgg19(WeightsSource(bad, "h5", "test"))
