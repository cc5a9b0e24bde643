"""The device the engine runs on, set up before TensorFlow touches a GPU.

:func:`configure` runs once per process, before any TensorFlow op (``build_engine`` calls it
before VGG19 is built). In this order:

1. ``CUDA_DEVICE_ORDER`` is set to ``PCI_BUS_ID`` when unset, before CUDA starts, so GPU indices
   mean the same GPUs to CUDA, NVML and ``nvidia-smi`` (:mod:`vidstyle.engine.gpumemory`).
2. The chosen GPU's free memory and compute capability are read (NVML, else ``nvidia-smi``),
   honouring ``CUDA_VISIBLE_DEVICES`` (indices, UUIDs, MIG devices) and a container's MIG device
   in ``NVIDIA_VISIBLE_DEVICES`` (:func:`vidstyle.engine.gpumemory.physical_entry`), while
   TensorFlow has reserved nothing. :func:`vidstyle.engine.memory.budget` takes TensorFlow's
   reserve, the CUDA context and the workspaces off it.
3. TensorFlow is limited to that one GPU (``tf.config.set_visible_devices``) with memory growth
   (``tf.config.experimental.set_memory_growth``): it then allocates only what the work needs
   instead of nearly the whole card, so the budget read in 2 stays true, and it neither
   initializes nor reserves the other GPUs. One process per GPU: run each with its own ``gpu``
   (or its own ``CUDA_VISIBLE_DEVICES``).
4. TF32 (``tf.config.experimental.enable_tensor_float_32_execution``) is off, for the whole
   process and every precision, unless the method's ``tf32`` option turns it on
   (:func:`set_tf32`). The rule is one per process because the switch is: TensorFlow reads it
   when a kernel runs, and cuDNN's autotune cache has no TF32 field, so a float32 and a 16-bit
   engine switching it in one process would share whatever algorithm was tuned first, and
   style targets and loss scores would follow the last engine's setting. The first engine's
   ``tf32`` fixes it; an engine asking for the other one later is refused in one line. Off is
   the default since float32 must be float32 (on Ampere and later TF32 rounds convolution and
   matrix-product inputs to a 10-bit mantissa: emulated in ``benchmarks/tf32.py``, after 100
   L-BFGS iterations at 128 px the loss 1.4% higher and the image 13.6 levels of 255 away on
   average), while a bfloat16 or float16 network's convolutions are 16-bit whatever the switch
   says; only its float32 Gram matrices and losses are then exact, a small share of a step.
   The cost of off falls on ``precision`` float32 on those GPUs: their float32 runs on the
   CUDA cores, at NVIDIA's peak figures 19.5 TFLOPS on an A100 against 156 in TF32, 67 on an
   H100 SXM against about 495 (dense): several times slower per step (not measured here).
   ``auto`` picks bfloat16 there, which does not pay it.

When TensorFlow had already initialized the GPU (an op ran before), steps 3 cannot be applied;
the budget is then reported unknown, with that reason. When NVML or ``nvidia-smi`` sees a GPU but
TensorFlow lists none (its CUDA libraries did not load, which ``TF_CPP_MIN_LOG_LEVEL`` hides),
the engine runs on the CPU and the device's ``note`` says so in one line (the CLI prints it,
even when quiet).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vidstyle.engine import gpumemory, precision
from vidstyle.errors import UsageError


@dataclass(frozen=True)
class Device:
    """Where the engine runs.

    Attributes:
        gpu: True when a GPU is used.
        label: what it is ("CPU", or the GPU's UUID and PCI bus id).
        free_bytes: the GPU's free memory before TensorFlow reserved any (None: unknown or CPU).
        note: why ``free_bytes`` is unknown on a GPU, or why a GPU is not used, one line.
        index: the GPU's index among those TensorFlow sees (None on the CPU).
        capability: the GPU's compute capability (None: the CPU, a MIG device, unreadable).
    """

    gpu: bool
    label: str = "CPU"
    free_bytes: int | None = None
    note: str | None = None
    index: int | None = None
    capability: tuple[int, int] | None = None


_configured: dict[str, Device | bool] = {}  # the process's one setup and TF32 rule, as TF's


def configure(gpu: int | None = None, environ=None, nvml=None,
              tf32: bool | None = None) -> Device:  # fmt: skip
    """Set up the device once, before TensorFlow initializes it (see the module docstring).

    Args:
        gpu: the index of the GPU to use among those this process sees; None: the one already
            set up (an engine built without a device), else 0.
        environ: the environment (``os.environ`` when None).
        nvml: a ``pynvml`` module stand-in (tests); the real one when None.
        tf32: the method's ``tf32`` option, or None to apply the rule in force (see
            :func:`set_tf32`).

    Returns:
        The device; the first call's on every later call with the same ``gpu`` (or None).

    Raises:
        UsageError: for a GPU index this process does not see, or another index than the one
            already set up; for a ``tf32`` other than the one the process set.
    """
    environ = os.environ if environ is None else environ
    if "device" not in _configured:
        _configured["device"] = _set_up(0 if gpu is None else gpu, environ, nvml)
    device = _configured["device"]
    if device.gpu and gpu is not None and device.index != gpu:
        reason = f"{{gpu}} {gpu} asked for after GPU {device.index} was set up"
        raise UsageError(None, reason, hint="use one GPU per process")
    set_tf32(tf32)
    return device


def set_tf32(on: bool | None) -> None:
    """Apply the process's one TF32 rule (module docstring, step 4): off until an engine asks;
    the first ``on`` given (an engine's ``tf32`` option) fixes it.

    Args:
        on: the method's ``tf32`` option; None applies the rule in force without fixing it.

    Raises:
        UsageError: ``on`` is not the rule this process already follows.
    """
    import tensorflow as tf

    rule = _configured.get("tf32")
    if on is not None and rule is not None and on != rule:
        asked, held = ("on", "off") if on else ("off", "on")
        reason = f"{{tf32}} {asked} asked for after TF32 was turned {held} in this process"
        raise UsageError(None, reason, hint="one TF32 setting per process: run those apart")
    if on is not None:
        _configured["tf32"] = rule = on
    tf.config.experimental.enable_tensor_float_32_execution(bool(rule))


def _set_up(gpu: int, environ, nvml) -> Device:
    environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # before CUDA starts (step 1)
    entry = gpumemory.physical_entry(gpu, environ)
    reading = gpumemory.read(entry, environ, nvml) if entry is not None else None  # step 2
    capability = None  # read for the budget (TensorFlow's reserve); a MIG device has none
    if reading is not None and reading.free is not None and not gpumemory.is_mig(entry):
        capability = precision.gpu_capability(gpu, environ, nvml)
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")  # lists only: initializes nothing
    if not gpus:
        return Device(False, note=_unused_gpu(reading))
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
    return Device(True, reading.label, reading.free, reading.note, gpu, capability)


def _unused_gpu(reading: gpumemory.Reading | None) -> str | None:
    """The line for a GPU that NVML or ``nvidia-smi`` found but TensorFlow does not list."""
    if reading is None or not reading.seen:
        return None  # nothing found: a machine without a GPU
    return (
        f"running on the CPU: NVML sees GPU {reading.label.split(' ')[0]} but TensorFlow "
        "lists no GPU (its CUDA libraries did not load; TF_CPP_MIN_LOG_LEVEL=0 shows why)"
    )


def gpu_present() -> bool:
    """Whether TensorFlow sees a GPU (listing only: CUDA_DEVICE_ORDER is fixed first, as in
    :func:`configure`, since CUDA reads it once when it starts)."""
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))
