"""The device the engine runs on, set up before TensorFlow touches a GPU.

:func:`configure` runs once per process, before any TensorFlow op (``build_engine`` calls it
before VGG19 is built). In this order:

1. ``CUDA_DEVICE_ORDER`` is set to ``PCI_BUS_ID`` when unset, before CUDA starts, so GPU indices
   mean the same GPUs to CUDA, NVML and ``nvidia-smi`` (:mod:`vidstyle.engine.gpumemory`).
2. The chosen GPU's free memory is read (NVML, else ``nvidia-smi``), honouring
   ``CUDA_VISIBLE_DEVICES`` (indices, UUIDs, MIG devices), while TensorFlow has reserved nothing.
3. TensorFlow is limited to that one GPU (``tf.config.set_visible_devices``) with memory growth
   (``tf.config.experimental.set_memory_growth``): it then allocates only what the work needs
   instead of nearly the whole card, so the budget read in 2 stays true, and it neither
   initializes nor reserves the other GPUs. One process per GPU: run each with its own ``gpu``
   (or its own ``CUDA_VISIBLE_DEVICES``).
4. TF32 (``tf.config.experimental.enable_tensor_float_32_execution``) is turned off for
   ``precision`` float32: on Ampere and later GPUs TensorFlow otherwise rounds the inputs of
   convolutions and matrix products (the Gram matrices) to a 10-bit mantissa, so "float32"
   would not be float32. It stays on for bfloat16 and float16, whose network is 16-bit anyway.
   This is the only step applied again on every call, and before every optimization
   (:func:`apply_tf32`).

When TensorFlow had already initialized the GPU (an op ran before), steps 3 cannot be applied;
the budget is then reported unknown, with that reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vidstyle.engine import gpumemory
from vidstyle.errors import UsageError


@dataclass(frozen=True)
class Device:
    """Where the engine runs.

    Attributes:
        gpu: True when a GPU is used.
        label: what it is ("CPU", or the GPU's UUID and PCI bus id).
        free_bytes: the GPU's free memory before TensorFlow reserved any (None: unknown or CPU).
        note: why ``free_bytes`` is unknown on a GPU, one line.
        index: the GPU's index among those TensorFlow sees (None on the CPU).
    """

    gpu: bool
    label: str = "CPU"
    free_bytes: int | None = None
    note: str | None = None
    index: int | None = None


_configured: dict[str, Device] = {}  # the process's one setup: TensorFlow's state is global too


def configure(gpu: int = 0, precision: str = "float32", environ=None, nvml=None) -> Device:
    """Set up the device once, before TensorFlow initializes it (see the module docstring).

    Args:
        gpu: the index of the GPU to use among those this process sees.
        precision: the method's precision (TF32 is off for float32).
        environ: the environment (``os.environ`` when None).
        nvml: a ``pynvml`` module stand-in (tests); the real one when None.

    Returns:
        The device; the first call's on every later call with the same ``gpu``.

    Raises:
        UsageError: for a GPU index this process does not see, or another index than the one
            already set up.
    """
    environ = os.environ if environ is None else environ
    if "device" not in _configured:
        _configured["device"] = _set_up(gpu, environ, nvml)
    device = _configured["device"]
    if device.gpu and device.index != gpu:
        reason = f"{{gpu}} {gpu} asked for after GPU {device.index} was set up"
        raise UsageError(None, reason, hint="use one GPU per process")
    apply_tf32(precision)
    return device


def apply_tf32(precision: str) -> None:
    """TF32 off for ``float32``, on for a 16-bit network (a process-wide switch, read when a kernel
    runs: the engine applies it again before each optimization, so two engines of different
    precisions in one process each get theirs)."""
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(precision != "float32")


def _set_up(gpu: int, environ, nvml) -> Device:
    environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # before CUDA starts (step 1)
    entry = gpumemory.physical_entry(gpu, environ)
    reading = gpumemory.read(entry, environ, nvml) if entry is not None else None  # step 2
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")  # lists only: initializes nothing
    if not gpus:
        return Device(False)
    if gpu >= len(gpus):
        raise UsageError(None, f"{{gpu}} {gpu}: this process sees {len(gpus)} GPU(s)",
                         hint="count from 0 over CUDA_VISIBLE_DEVICES")  # fmt: skip
    if reading is None:  # TensorFlow sees a GPU that CUDA_VISIBLE_DEVICES did not seem to list
        reading = gpumemory.Reading(None, f"GPU {gpu}", "cannot tell which GPU is in use")
    try:  # step 3
        tf.config.set_visible_devices([gpus[gpu]], "GPU")
        tf.config.experimental.set_memory_growth(gpus[gpu], True)
    except RuntimeError:  # "cannot be modified after being initialized"
        note = "TensorFlow had initialized the GPU before vidstyle could set it up"
        return Device(True, reading.label, None, note, gpu)
    return Device(True, reading.label, reading.free, reading.note, gpu)


def gpu_present() -> bool:
    """Whether TensorFlow sees a GPU (listing only: CUDA_DEVICE_ORDER is fixed first, as in
    :func:`configure`, since CUDA reads it once when it starts)."""
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))
