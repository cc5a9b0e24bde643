"""How much memory an optimization needs, how much there is, and refusing what would not fit.

The estimate is linear in the pixel count, from ``benchmarks/memory.py`` on the CPU (one Adam
step, peak resident memory above a 64x64 run): 2.5 GiB per megapixel at 512x512, 2.9 at
1024x1024 and at 1920x1080. Adam is budgeted at 3.0 GiB per megapixel; L-BFGS keeps its
correction pairs and line-search point on top (measured: 3.9 GiB per megapixel at 1920x1080),
budgeted at 1.0 GiB per megapixel more. The estimate covers the optimization only: the
process's own baseline (TensorFlow and the weights, about 0.9 GiB) is already in use when the
budget is read.

The budget is ``--memory-limit`` when given, otherwise what the machine has available when the
engine is built: on the CPU the smaller of ``MemAvailable`` and the cgroup's free limit, on a GPU
the first GPU's free memory from ``nvidia-smi``. When neither can be read no size is refused.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

from vidstyle.errors import TooLargeError

GIB = 2**30
MPIXEL = 1e6
ADAM_GIB_PER_MPIXEL = 3.0
LBFGS_EXTRA_GIB_PER_MPIXEL = 1.0


def needed_bytes(height: int, width: int, optimizer: str, batch: int = 1) -> int:
    """Bytes an optimization of ``batch`` images of height x width needs above the baseline."""
    per_mpixel = ADAM_GIB_PER_MPIXEL + (LBFGS_EXTRA_GIB_PER_MPIXEL if optimizer == "lbfgs" else 0)
    return int(per_mpixel * GIB * height * width * batch / MPIXEL)


def budget_bytes(limit_gib: float = 0.0, gpu: bool = False) -> int | None:
    """The memory an optimization may use: ``limit_gib`` when above 0, else what is free."""
    if limit_gib > 0:
        return int(limit_gib * GIB)
    return _gpu_free() if gpu else _cpu_available()


def largest_side(height: int, width: int, optimizer: str, budget: int, batch: int = 1) -> int:
    """The longest side an image of this aspect ratio may have to fit ``budget``."""
    per_pixel = needed_bytes(1000, 1000, optimizer, batch) / MPIXEL
    pixels = budget / per_pixel
    long, short = max(height, width), min(height, width)
    return int(math.sqrt(pixels * long / short))


def check(
    path: Path | None,
    height: int,
    width: int,
    optimizer: str,
    budget: int | None,
    batch: int = 1,
) -> None:
    """Refuse a size whose optimization would not fit in ``budget`` (None: never refuse).

    Raises:
        TooLargeError: naming the file, the memory needed and available, and the largest
            ``--max-size`` that fits.
    """
    if budget is None:
        return
    need = needed_bytes(height, width, optimizer, batch)
    if need <= budget:
        return
    side = largest_side(height, width, optimizer, budget, batch)
    images = f"{batch} images of " if batch > 1 else ""
    reason = (f"{images}{width}x{height} needs about {_amount(need)} of memory to stylize "
              f"with {optimizer}, {_amount(budget)} is available")  # fmt: skip
    raise TooLargeError(path, reason, hint=f"use {{max_size}} {side} or less")


def _amount(size: int) -> str:
    return f"{size / GIB:.1f} GiB" if size >= GIB else f"{size / 2**20:.0f} MiB"


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


def _gpu_free() -> int | None:
    """The first GPU's free memory from ``nvidia-smi`` (TensorFlow does not report the total)."""
    if shutil.which("nvidia-smi") is None:
        return None
    query = ["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits", "-i", "0"]
    try:
        done = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True)
        return int(float(done.stdout.strip().splitlines()[0]) * 2**20)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
