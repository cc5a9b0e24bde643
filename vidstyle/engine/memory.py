"""How much memory an optimization needs, how much there is, and refusing what would not fit.

The estimate is linear in the pixel count, from ``benchmarks/memory.py`` on the CPU (one Adam
step, peak resident memory above a 64x64 run): 2.5 GiB per megapixel at 512x512, 2.9 at
1024x1024 and at 1920x1080. Adam is budgeted at 3.0 GiB per megapixel; L-BFGS keeps its
correction pairs and line-search point on top (measured: 3.9 GiB per megapixel at 1920x1080),
budgeted at 1.0 GiB per megapixel more. The estimate covers the optimization only: on the CPU
the process's own baseline (TensorFlow and the weights, about 0.9 GiB) is already in use when the
budget is read.

``precision`` bfloat16 or float16: the network's activations (and their gradients) are 16-bit. Up to
block5_conv2 VGG19 keeps about 290 activation values per input pixel per kind (64 x 2 in block1,
128 x 2 / 4, 256 x 4 / 16, 512 x 4 / 64, 512 x 2 / 256), and conv outputs, ReLU outputs and their
gradients are each about that: roughly 2.3 GB per megapixel in float32, the bulk of the 3.0 GiB.
The float32 copies of the five style layers' features (about 120 values per pixel, and their
gradients: about 1 GB per megapixel), the image and Adam's state stay float32. Halving the first
part gives about 0.65 of the float32 figure: :data:`MIXED_FACTOR`, applied to Adam's part only
(L-BFGS's pairs are float32 images either way). Not measured on a GPU.

The budget (:func:`budget`) is the ``memory_limit`` option when given, otherwise what the machine
has available when the engine is built: on the CPU the smaller of ``MemAvailable`` and the
cgroup's free limit; on a GPU (:func:`gpu_budget`) the free memory of the GPU in use, read by
:mod:`vidstyle.engine.device` before TensorFlow reserved any, less what is not the optimization's:

- the CUDA context, created before TensorFlow measures what is free (0.3-0.6 GiB:
  :data:`CUDA_CONTEXT_GIB` takes the upper end);
- TensorFlow's own reserve: even with memory growth its allocator stops short of what it found
  free by ``MinSystemMemory`` (``gpu_device.cc``): 225 MiB when under 2 GiB is free, else
  500 MiB up to compute capability 6.x, 1050 MiB for 7.x, 1536 MiB for 8.x and 1800 MiB for
  9.x and later (an unknown capability, such as a MIG device's, counts as 9.x);
  ``TF_DEVICE_MIN_SYS_MEMORY_IN_MB`` replaces the figure (:func:`tf_reserve`);
- cuDNN and cuBLAS workspaces (allocated from TensorFlow's pool, beside the tensors) and the
  weights: :data:`WORKSPACE_GIB`.

When it cannot be read no size is refused, and the reason is returned as a note. A plan
(:func:`plan_budget`) shows the GPU's budget when NVML or ``nvidia-smi`` reads one.

The 32-bit limit (:data:`MAX_PIXELS`): cuDNN narrows tensor sizes and strides to ``int`` and
aborts the process (a C++ check, not an error) when one is above 2^31 - 1 elements. The widest
tensor per pixel is block1's, 64 channels at full size, so ``batch x H x W x 64`` must stay
below it; with a 10% margin at most :data:`MAX_PIXELS` (30.2 million) pixels per batch go
through the network at once. The planner tiles any level, crop or style image above it and
refuses a batch above it, on every device (a CPU is never that large untiled anyway).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from vidstyle.engine import gpumemory, precision
from vidstyle.errors import TooLargeError

GIB = 2**30
MPIXEL = 1e6
ADAM_GIB_PER_MPIXEL = 3.0
LBFGS_EXTRA_GIB_PER_MPIXEL = 1.0
MIXED_FACTOR = 0.65  # Adam's part with a 16-bit network (see above)
MIB = 2**20
CUDA_CONTEXT_GIB = 0.6  # the CUDA context on the GPU, outside TensorFlow's pool (0.3-0.6 GiB)
WORKSPACE_GIB = 0.5  # cuDNN/cuBLAS workspaces and the weights, inside TensorFlow's pool
INT32_LIMIT = 2**31 - 1  # cuDNN's largest tensor, in elements
WIDEST_CHANNELS = 64  # block1: the most values per input pixel of any tensor
MAX_PIXELS = int(0.9 * INT32_LIMIT / WIDEST_CHANNELS)  # batch x H x W through the network at once


def over_int32(height: int, width: int, batch: int = 1) -> bool:
    """Whether ``batch`` images of height x width are too many pixels for cuDNN's 32-bit
    sizes (:data:`MAX_PIXELS`, see the module docstring)."""
    return batch * height * width > MAX_PIXELS


def tf_reserve(free: int, capability: tuple[int, int] | None, environ=None) -> int:
    """Bytes TensorFlow keeps back on a GPU with ``free`` bytes free (``MinSystemMemory``).

    Args:
        free: the free memory TensorFlow finds (after the CUDA context).
        capability: the GPU's compute capability; None (unknown, a MIG device) counts as 9.x.
        environ: the environment (``os.environ`` when None), for
            ``TF_DEVICE_MIN_SYS_MEMORY_IN_MB``.
    """
    environ = os.environ if environ is None else environ
    override = environ.get("TF_DEVICE_MIN_SYS_MEMORY_IN_MB", "").strip()
    if override.isdigit():
        return int(override) * MIB
    if free < 2 * GIB:
        return 225 * MIB
    major = 9 if capability is None else capability[0]
    return (500 if major <= 6 else 1050 if major == 7 else 1536 if major == 8 else 1800) * MIB


def gpu_budget(free: int, capability: tuple[int, int] | None, environ=None) -> int:
    """What an optimization may use of a GPU with ``free`` bytes free before the process
    touched it: less the CUDA context, TensorFlow's reserve and the workspaces (module
    docstring)."""
    seen = free - int(CUDA_CONTEXT_GIB * GIB)  # what TensorFlow finds once its context exists
    return max(0, seen - tf_reserve(seen, capability, environ) - int(WORKSPACE_GIB * GIB))


def needed_bytes(
    height: int, width: int, optimizer: str, batch: int = 1, precision: str = "float32"
) -> int:
    """Bytes an optimization of ``batch`` images of height x width needs above the baseline."""
    per_mpixel = ADAM_GIB_PER_MPIXEL * (1.0 if precision == "float32" else MIXED_FACTOR)
    per_mpixel += LBFGS_EXTRA_GIB_PER_MPIXEL if optimizer == "lbfgs" else 0.0
    return int(per_mpixel * GIB * height * width * batch / MPIXEL)


def budget_bytes(limit_gib: float = 0.0) -> int | None:
    """The memory an optimization may use on the CPU: ``limit_gib`` when above 0, else what is
    available (None when that cannot be read)."""
    if limit_gib > 0:
        return int(limit_gib * GIB)
    return _cpu_available()


def budget(limit_gib: float, device, environ=None) -> tuple[int | None, str | None]:
    """The memory an optimization may use on ``device``, and why it is unknown when it is.

    Args:
        limit_gib: the ``memory_limit`` option; above 0 it is the budget.
        device: a :class:`vidstyle.engine.device.Device`.
        environ: the environment (``os.environ`` when None; see :func:`tf_reserve`).

    Returns:
        (bytes or None, None or a one-line note naming parameters as ``{name}``). On the CPU the
        device's own note (a GPU that TensorFlow could not use) is passed on.
    """
    if not device.gpu:
        free = int(limit_gib * GIB) if limit_gib > 0 else _cpu_available()
        note = None if free is not None else "cannot read the available memory from /proc/meminfo"
        notes = [n for n in (device.note, _unchecked(note)) if n]
        return free, "; ".join(notes) or None
    if limit_gib > 0:
        return int(limit_gib * GIB), None
    if device.free_bytes is None:
        return None, _unchecked(device.note)
    return gpu_budget(device.free_bytes, device.capability, environ), None


_plan_budgets: dict[tuple, int | None] = {}  # the GPU's budget per visible-devices setting


def plan_budget(limit_gib: float, environ=None, nvml=None) -> int | None:
    """The budget a plan shows before any engine exists (no TensorFlow): ``limit_gib`` when
    above 0, else the process's GPU 0's (:func:`gpu_budget`) when NVML or ``nvidia-smi`` reads
    its free memory, else the host's available memory. Read once per process.

    Args:
        limit_gib: the ``memory_limit`` option.
        environ: the environment (``os.environ`` when None).
        nvml: a ``pynvml`` stand-in (tests: read afresh, not kept).
    """
    if limit_gib > 0:
        return int(limit_gib * GIB)
    environ = os.environ if environ is None else environ
    key = (environ.get("CUDA_VISIBLE_DEVICES"), environ.get("NVIDIA_VISIBLE_DEVICES"))
    if nvml is not None or key not in _plan_budgets:
        entry = gpumemory.physical_entry(0, environ)
        free = gpumemory.read(entry, environ, nvml).free if entry is not None else None
        found = None
        if free is not None:
            mig = gpumemory.is_mig(entry)  # no capability of its own: counted as 9.x
            capability = None if mig else precision.gpu_capability(0, environ, nvml)
            found = gpu_budget(free, capability, environ)
        if nvml is not None:
            return found if found is not None else _cpu_available()
        _plan_budgets[key] = found
    found = _plan_budgets[key]
    return found if found is not None else _cpu_available()


def _unchecked(reason: str | None) -> str | None:
    if reason is None:
        return None
    return f"no size is refused up front: {reason}; set {{memory_limit}} to check sizes"


def largest_side(
    height: int, width: int, optimizer: str, budget: int, batch: int = 1, precision="float32"
) -> int:
    """The longest side an image of this aspect ratio may have to fit ``budget``."""
    per_pixel = needed_bytes(1000, 1000, optimizer, batch, precision) / MPIXEL
    pixels = budget / per_pixel
    long, short = max(height, width), min(height, width)
    return int(math.sqrt(pixels * long / short))


def smaller_side(height: int, width: int, optimizer: str, budget: int | None, batch: int) -> int:
    """A longest side to suggest after running out of memory at height x width: half the pixels,
    or less when the budget says so."""
    side = int(max(height, width) / math.sqrt(2))
    if budget is not None:
        side = min(side, largest_side(height, width, optimizer, budget, batch))
    return max(1, side)


def out_of_memory(height: int, width: int, batch: int, optimizer: str, budget: int | None,
                  precision: str, gpu: bool) -> TooLargeError:  # fmt: skip
    """The error for a device that ran out of memory: a smaller size to try, one line."""
    side = smaller_side(height, width, optimizer, budget, batch)
    images = f"{batch} images of " if batch > 1 else ""
    reason = f"the device ran out of memory stylizing {images}{width}x{height} with {optimizer}"
    hint = f"use {{max_size}} {side} or less"
    if precision == "float32" and gpu:
        hint += " or {precision} bfloat16"
    return TooLargeError(None, reason, hint=hint)


def check(
    path: Path | None,
    height: int,
    width: int,
    optimizer: str,
    budget: int | None,
    batch: int = 1,
    precision: str = "float32",
) -> None:
    """Refuse a size whose optimization would not fit in ``budget`` (None: never refuse).

    Raises:
        TooLargeError: naming the file, the memory needed and available, and the largest
            ``--max-size`` that fits.
    """
    if budget is None:
        return
    need = needed_bytes(height, width, optimizer, batch, precision)
    if need <= budget:
        return
    side = largest_side(height, width, optimizer, budget, batch, precision)
    images = f"{batch} images of " if batch > 1 else ""
    reason = (f"{images}{width}x{height} needs about {amount(need)} of memory to stylize "
              f"with {optimizer}, {amount(budget)} is available")  # fmt: skip
    raise TooLargeError(path, reason, hint=f"use {{max_size}} {side} or less")


def amount(size: int) -> str:
    """Bytes as ``5.5 GiB``, or ``40 MiB`` under 1 GiB (1 MiB at least)."""
    return f"{size / GIB:.1f} GiB" if size >= GIB else f"{max(1, round(size / MIB))} MiB"


def _cpu_available() -> int | None:
    """``MemAvailable``, lowered to the cgroup's limit minus its usage when there is one."""
    try:
        meminfo = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    values = dict(line.split(":", 1) for line in meminfo.splitlines() if ":" in line)
    if "MemAvailable" not in values:
        return None
    available = int(values["MemAvailable"].split()[0]) * 1024
    for limit_file, usage_file in (
        ("memory.max", "memory.current"),  # cgroup v2
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),  # cgroup v1
    ):
        limit = _read_int(f"/sys/fs/cgroup/{limit_file}")
        usage = _read_int(f"/sys/fs/cgroup/{usage_file}")
        if limit is not None and usage is not None:
            available = min(available, max(0, limit - usage))
            break
    return available


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):  # missing, or "max" for no limit
        return None
