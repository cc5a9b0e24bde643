"""The restricted reader of the quantized .bin: it runs no code, refuses what is not such a file,
and gives the network the weights the Keras .h5 holds (to the quantization)."""

import os
import pickle
import shutil

import numpy as np
import pytest

from vidstyle import quantized, weights
from vidstyle.errors import WeightsError


class _RunsCode:
    """A pickle payload that would create a file if unpickled by a plain unpickler."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _torch_like_stream(state) -> bytes:
    parts = [quantized.TORCH_MAGIC, 1001, {"protocol_version": 1001}, state, []]
    return b"".join(pickle.dumps(part, protocol=2) for part in parts)


def test_malicious_pickle_runs_nothing_and_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.bin"
    bad.write_bytes(_torch_like_stream({"block1_conv1_W_q": _RunsCode(marker)}))
    with pytest.raises(WeightsError, match=r"evil\.bin.*refused global posix\.system"):
        quantized.read_quantized_bin(bad)
    assert not marker.exists()
    pickle.loads(pickle.dumps(_RunsCode(marker)))  # the same payload does run when unrestricted
    assert marker.exists()


def test_not_a_torch_stream_is_refused(tmp_path):
    bad = tmp_path / "random.bin"
    bad.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(WeightsError, match="random.bin"):
        quantized.read_quantized_bin(bad)


@pytest.mark.real_weights
def test_real_bin_has_all_vgg19_layers(quantized_bin):
    layers = quantized.read_quantized_bin(quantized_bin)
    assert [name for name, _, _ in weights.VGG19_CONVS] == list(layers)
    kernel, bias = layers["block3_conv2"]
    assert kernel.shape == (3, 3, 256, 256) and bias.shape == (256,)
    assert len(np.unique(kernel)) <= 256  # k-means quantized
    assert 0.001 < np.abs(kernel).mean() < 1.0


@pytest.mark.real_weights
def test_truncated_bin_is_refused(quantized_bin, tmp_path):
    cut = tmp_path / "cut.bin"
    with open(quantized_bin, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(quantized_bin.stat().st_size // 2))
    with pytest.raises(WeightsError, match="cut.bin.*truncated"):
        quantized.read_quantized_bin(cut)


@pytest.mark.real_weights
def test_an_h5_of_the_bins_tensors_gives_the_bins_network(quantized_bin, tmp_path):
    """The .bin loads into the network as read (every layer), and an .h5 saved from it (an h5
    is not downloadable offline) loads back into the same network; a cut .h5 is refused."""
    from vidstyle.engine.model import keras_vgg19

    vgg = keras_vgg19(weights.WeightsSource(quantized_bin, "bin", "test"))
    for name, (kernel, bias) in quantized.read_quantized_bin(quantized_bin).items():
        loaded = vgg.get_layer(name).get_weights()
        assert np.array_equal(loaded[0], kernel) and np.array_equal(loaded[1], bias), name
    saved = tmp_path / "vgg19.weights.h5"
    vgg.save_weights(str(saved))
    again = keras_vgg19(weights.resolve(saved))
    image = np.random.default_rng(0).uniform(-100, 100, (1, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(vgg(image)), np.asarray(again(image)), rtol=1e-5)
    shutil.copy(saved, tmp_path / "broken.h5")
    with open(tmp_path / "broken.h5", "r+b") as f:
        f.truncate(saved.stat().st_size // 3)
    with pytest.raises(WeightsError, match="broken.h5"):
        keras_vgg19(weights.resolve(tmp_path / "broken.h5"))


@pytest.mark.real_weights
def test_keras_h5_and_quantized_bin_hold_the_same_kernels(quantized_bin):
    """Where the Keras .h5 is cached: the .bin is its k-means quantization, layer by layer."""
    if not weights.keras_cache_file().is_file():
        pytest.skip("no Keras .h5 cached on this machine (it is not fetched offline)")
    from vidstyle.engine.model import keras_vgg19

    vgg = keras_vgg19(weights.resolve(weights.keras_cache_file()))
    for name, (kernel, bias) in quantized.read_quantized_bin(quantized_bin).items():
        exact, exact_bias = vgg.get_layer(name).get_weights()
        assert kernel.shape == exact.shape and bias.shape == exact_bias.shape, name
        assert np.corrcoef(kernel.ravel(), exact.ravel())[0, 1] > 0.99, name
