"""Which number type the network runs in: ``--precision auto`` resolved for this machine.

The choices are ``auto`` (the default), ``float32``, ``bfloat16`` and ``float16``; ``mixed``, the
earlier name for "a 16-bit network", is kept as an alias of ``auto`` that says what it resolves
to. Whatever the choice, only the network (VGG19's convolutions and their gradients) runs in 16
bits: the image variable, the optimizer's state, the Gram matrices' accumulation and every loss
term stay float32 (see :mod:`vidstyle.engine.model`).

``auto`` picks bfloat16 where the hardware multiplies it natively and float32 elsewhere:

- an NVIDIA GPU of compute capability 8.0 or more (Ampere, Ada, Hopper, Blackwell: bfloat16 on
  tensor cores): bfloat16;
- a GPU of compute capability 7.x (Volta, Turing: tensor cores without bfloat16): float16, with
  the gradient scaling of :mod:`vidstyle.engine.numerics`;
- an older GPU: float32;
- without a GPU, a CPU whose flags include ``amx_bf16`` (Intel Sapphire Rapids and later) or
  ``avx512_bf16`` (Cooper Lake, AMD Zen 4 and later): bfloat16, which TensorFlow's oneDNN runs
  natively there (about 3.5x float32's speed per step at 256 px on a 2-core AMX Xeon, 1.75x on
  an AMD EPYC Zen 4 with ``avx512_bf16`` and no AMX, at 0.991x float32's loss); any other CPU:
  float32 (bfloat16 is emulated there and about 8x slower than float32).

How the hardware is read, without TensorFlow (so that planning and ``--help`` stay fast): the CPU
flags from ``/proc/cpuinfo`` (Linux; elsewhere no flags are known and the CPU gets float32), the
GPU's compute capability from NVML (``nvidia-ml-py``) or else ``nvidia-smi``, for the GPU the
process will use (``CUDA_VISIBLE_DEVICES`` honoured as in :mod:`vidstyle.engine.gpumemory`). No
probe is run: flags are what the chip declares, and reading them takes microseconds.

``VIDSTYLE_AUTO_PRECISION`` (``float32``, ``bfloat16`` or ``float16``), when set, is what ``auto``
means, without reading the hardware: for a Ray cluster whose workers differ from the machine that
plans the run, or to compare precisions on one machine (the test suite pins it to float32, so
that its figures are the same on every CPU).

The resolved precision, never ``auto``, is what the engine runs, what the fingerprint of an
output records and what reports show. A batch run resolves it where the plan is made; a run over
Ray refuses ``auto`` unless ``VIDSTYLE_AUTO_PRECISION`` is set, since that plan cannot see the
workers' hardware (:func:`vidstyle.jobs.cluster.refuse_guessed_precision`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vidstyle.engine import gpumemory
from vidstyle.errors import UsageError

CHOICES = ("auto", "float32", "bfloat16", "float16")
ALIASES = {"mixed": "auto"}  # the earlier name of a 16-bit network
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")
# MIG devices exist only on GPUs of compute capability 8.0 and later (A100, A30, H100, ...), and
# NVML gives no capability for a MIG handle: a MIG device counts as 8.0.
MIG_CAPABILITY = (8, 0)


@dataclass(frozen=True)
class Hardware:
    """What decides ``auto``.

    Attributes:
        gpu_capability: the GPU's CUDA compute capability (major, minor); None without a GPU.
        cpu_flags: which of :data:`CPU_BF16_FLAGS` the CPU declares.
    """

    gpu_capability: tuple[int, int] | None = None
    cpu_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Choice:
    """A resolved precision and why it was chosen (one line, for the plan and the summary)."""

    precision: str
    reason: str


def choose(requested: str, hardware: Hardware) -> Choice:
    """The precision the network runs in.

    Args:
        requested: one of :data:`CHOICES`, or an alias (``mixed``).
        hardware: the GPU's compute capability and the CPU's bfloat16 flags.

    Returns:
        The resolved precision (``float32``, ``bfloat16`` or ``float16``) and the reason.
    """
    if requested not in ALIASES and requested != "auto":
        return Choice(requested, "asked for")
    said = f"{requested}: " if requested in ALIASES else ""
    capability = hardware.gpu_capability
    if capability is not None:
        shown = f"GPU of compute capability {capability[0]}.{capability[1]}"
        if capability >= (8, 0):
            return Choice("bfloat16", f"{said}{shown} has bfloat16 tensor cores")
        if capability >= (7, 0):
            return Choice("float16", f"{said}{shown} has float16 tensor cores, no bfloat16")
        return Choice("float32", f"{said}{shown} has no 16-bit tensor cores")
    if hardware.cpu_flags:
        return Choice("bfloat16", f"{said}this CPU multiplies bfloat16 ({hardware.cpu_flags[0]})")
    return Choice("float32", f"{said}this CPU has no native bfloat16 (no amx_bf16/avx512_bf16)")


def cpu_flags(cpuinfo: str | None = None) -> tuple[str, ...]:
    """Which of :data:`CPU_BF16_FLAGS` the CPU declares (``/proc/cpuinfo``'s first ``flags`` line
    when ``cpuinfo`` is None; none where that file does not exist)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(errors="replace")
        except OSError:
            return ()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            declared = set(line.partition(":")[2].split())
            return tuple(flag for flag in CPU_BF16_FLAGS if flag in declared)
    return ()


def gpu_capability(gpu: int = 0, environ=None, nvml=None) -> tuple[int, int] | None:
    """The compute capability of the process's GPU ``gpu``; None without one (or unreadable).

    Args:
        gpu: the index among the GPUs this process sees.
        environ: the environment (``os.environ`` when None).
        nvml: a ``pynvml`` stand-in (tests); the real module, else ``nvidia-smi``, when None.
    """
    environ = os.environ if environ is None else environ
    entry = gpumemory.physical_entry(gpu, environ)
    if entry is None:
        return None
    if gpumemory.is_mig(entry):
        return MIG_CAPABILITY
    if nvml is None:
        try:
            import pynvml as nvml
        except ImportError:
            return _smi_capability(entry)
    try:
        nvml.nvmlInit()
    except Exception:  # NVMLError: no driver library, so no usable GPU either
        return _smi_capability(entry)
    try:
        handle = _nvml_handle(nvml, entry)
        return tuple(nvml.nvmlDeviceGetCudaComputeCapability(handle)) if handle else None
    except Exception:  # NVMLError: not supported, GPU lost
        return None
    finally:
        nvml.nvmlShutdown()


def _nvml_handle(nvml, entry: str):
    handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
    if entry.startswith("GPU-"):
        found = [h for h in handles if _text(nvml.nvmlDeviceGetUUID(h)).startswith(entry)]
        return found[0] if len(found) == 1 else None
    handles.sort(key=lambda h: _text(nvml.nvmlDeviceGetPciInfo(h).busId).upper())
    return handles[int(entry)] if int(entry) < len(handles) else None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _smi_capability(entry: str) -> tuple[int, int] | None:
    if shutil.which("nvidia-smi") is None:
        return None
    query = ["nvidia-smi", "--query-gpu=uuid,pci.bus_id,compute_cap", "--format=csv,noheader"]
    try:
        done = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    rows = [[f.strip() for f in line.split(",")] for line in done.stdout.splitlines()]
    rows = sorted((row for row in rows if len(row) == 3), key=lambda row: row[1].upper())
    if entry.startswith("GPU-"):
        rows = [row for row in rows if row[0].startswith(entry)]
        row = rows[0] if len(rows) == 1 else None
    else:
        row = rows[int(entry)] if int(entry) < len(rows) else None
    try:
        major, minor = row[2].split(".") if row else ("", "")
        return int(major), int(minor)
    except ValueError:
        return None


_resolved: dict[tuple[str, int], Choice] = {}  # the hardware does not change within a process


def resolve(requested: str, gpu: int = 0) -> Choice:
    """:func:`choose` on this machine's hardware (read once per process).

    Args:
        requested: one of :data:`CHOICES` or an alias.
        gpu: the index of the GPU the process uses.
    """
    if requested not in ALIASES and requested != "auto":
        return Choice(requested, "asked for")
    pinned = os.environ.get("VIDSTYLE_AUTO_PRECISION")
    if pinned:
        if pinned not in CHOICES[1:]:
            reason = f"VIDSTYLE_AUTO_PRECISION is {pinned!r}"
            raise UsageError(None, reason, hint="set it to float32, bfloat16 or float16")
        return Choice(pinned, "VIDSTYLE_AUTO_PRECISION")
    key = (requested, gpu)
    if key not in _resolved:
        hardware = Hardware(gpu_capability(gpu), cpu_flags())
        _resolved[key] = choose(requested, hardware)
    return _resolved[key]


def explain(resolved: str, gpu: int = 0) -> str:
    """Why a method runs in ``resolved``: ``auto``'s reason on this machine when that is what
    ``auto`` picks here, else "asked for" (for the line the CLI prints)."""
    auto = resolve("auto", gpu)
    return f"auto: {auto.reason}" if auto.precision == resolved else "asked for"
