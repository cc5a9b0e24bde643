"""The GPU's figures and its smoke test, in one script (each under ten minutes on one GPU).

Figures (the default): seconds per Adam step at single-level sizes (``scales`` 1, so every step
is at the size named: default 512x512, 1024x1024 and 1920x1080), in float32, bfloat16 and
float16, and images per second of a batch of 1 against ``--batch`` at the first size. TF32 is off
in the whole process (vidstyle's rule, :mod:`vidstyle.engine.device`): float32 is exact float32,
and no engine's setting leaks into another's timing or scoring. What TF32 would change is
emulated on the CPU by ``python -m benchmarks.tf32``. Seconds per step are
``stylize(steps=N)`` minus ``stylize(steps=0)`` over N, medians of interleaved repeats after a
compiling warm-up.

Smoke (``--smoke``): what a GPU owner runs first. Checks, in this order, and prints one table
(check, measured, expected, verdict):

1. first, in a subprocess (a cuDNN abort must not take the table with it), before this process
   has loaded the weights or touched the GPU: the 32-bit guard at 6144x6144 (37.7 MP, above
   cuDNN's limit): the planner tiles it and one tiled step runs. Run later, it would share the
   card with the memory pool this process's checks grew (TensorFlow keeps it), and plan other
   tiles (9 of 2592 px instead of 4 of 3456 on a 40 GB card);
2. one visible GPU, memory growth on, no note from the device setup;
3. peak memory per megapixel of float32 Adam, bfloat16 Adam and float32 L-BFGS at 1024x1024 and
   2048x2048 (TensorFlow's allocator peak above what was in use before), against the estimate
   of :mod:`vidstyle.engine.memory`;
4. bfloat16's loss against float32's after the same steps at 512 and 2048 px (both scored by
   the float32 engine);
5. a forced-tiling run's style drop (1 - style loss of the result / of the start) against the
   untiled run's, at 1024x1024.

Every check (the guard's subprocess too) runs with soft device placement off and, on a GPU,
every op asked of ``/GPU:0`` (:func:`strict_placement`): an op without a GPU kernel then fails
its check (``FAIL``, with TensorFlow's one line) instead of running on the CPU unseen.

``--cpu-check`` runs the smoke at tiny sizes on the CPU with random weights and shallow layers
(so that tiles are smaller than the image), with the 32-bit limit lowered for check 5: it shows
the script works, not what a GPU does. The weights come from ``--weights`` or from where the CLI
finds them (the Keras or vidstyle cache, else a download); without any, one line says so.

Usage::

    python -m benchmarks.gpu --smoke                # first, on the GPU
    python -m benchmarks.gpu                        # the figures
    python -m benchmarks.gpu --smoke --cpu-check    # the script itself, on a CPU
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from benchmarks import harness, timing
from benchmarks.table import Table
from vidstyle.config import MethodConfig
from vidstyle.engine import memory
from vidstyle.engine.request import Request
from vidstyle.errors import VidstyleError, WeightsError
from vidstyle.weights import resolve

GIB = 2**30
SHALLOW = {
    "content_layers": ("block2_conv1",),
    "style_layers": ("block1_conv1", "block2_conv1"),
}  # the CPU check's: a halo of 6 px
GPU_SMOKE = {"peak": (1024, 2048), "loss": (512, 2048), "tiling": 1024, "guard": 6144,
             "steps": 20}  # fmt: skip
CPU_SMOKE = {"peak": (48, 64), "loss": (48, 64), "tiling": 96, "guard": 128, "steps": 3}
LOSS_TOLERANCE = 0.05  # bfloat16's loss within 5% of float32's
DROP_TOLERANCE = 0.05  # tiled style drop within 5% of the untiled one's


def size(text: str) -> tuple[int, int]:
    """``WxH`` (or ``N`` for a square) as (height, width)."""
    width, _, height = text.partition("x")
    return int(height or width), int(width)


def picture(name: str, height: int, width: int) -> np.ndarray:
    """A sample image resized to height x width (uint8 RGB)."""
    return harness.resized(harness.SAMPLES / name, height, width)


class Engines:
    """Engines made on demand, one per (precision, optimizer), over one network."""

    def __init__(self, make_engine, base: MethodConfig):
        self.make_engine, self.base, self.built = make_engine, base, {}

    def get(self, precision: str = "float32", optimizer: str = "adam"):
        key = (precision, optimizer)
        if key not in self.built:
            method = self.base.replace(precision=precision, optimizer=optimizer)
            self.built[key] = self.make_engine(method)
        return self.built[key]


def timed(engines: dict, content: np.ndarray, style_rgb: np.ndarray, args) -> dict[str, float]:
    """Median seconds per step of each engine on ``content``, interleaved repeat by repeat."""
    requests = {name: Request(content, e.style_targets(style_rgb)) for name, e in engines.items()}
    for name, engine in engines.items():  # warm up: compile the 0-step and the N-step path
        timing.per_step(engine, requests[name], min(10, args.steps))
    tasks = {name: lambda e=e, r=requests[name]: timing.per_step(e, r, args.steps)[0]
             for name, e in engines.items()}  # fmt: skip
    return timing.medians(timing.interleaved(tasks, args.repeats))


def figures(engines: Engines, args) -> list[Table]:
    """Seconds per step per precision at each single-level size; batch throughput."""
    style_rgb = picture("swirls.jpg", 256, 256)
    names = ("float32", "bfloat16", "float16")
    steps = Table("size", *((n, "{:.4f}") for n in names),
                  title=f"Adam, seconds per step, one level (median of {args.repeats} x "
                        f"{args.steps} steps)")  # fmt: skip
    for height, width in args.sizes:
        content = picture("photos/astronaut.jpg", height, width)
        try:
            found = timed({n: engines.get(n) for n in names}, content, style_rgb, args)
        except VidstyleError as error:  # refused by the budget, or out of memory
            print(steps.add(f"{width}x{height}", error.message(), "", ""), flush=True)
            continue
        print(steps.add(f"{width}x{height}", *(found[n] for n in names)), flush=True)
    height, width = args.sizes[0]
    content = picture("photos/astronaut.jpg", height, width)
    exact = engines.get()
    batch = Table("images", ("images/s", "{:.2f}"), ("x one", "{:.2f}"),
                  title=f"batch at {width}x{height}, float32")  # fmt: skip
    one = timed({"1": exact}, content, style_rgb, args)["1"]
    batch.add(1, 1 / one, 1.0)
    try:
        many = timed({"n": exact}, np.stack([content] * args.batch), style_rgb, args)["n"]
    except VidstyleError as error:
        batch.add(args.batch, error.message(), "")
        return [steps, batch]
    batch.add(args.batch, args.batch / many, one * args.batch / many)
    return [steps, batch]


# ------------------------------------------------------------------------------------- smoke


@contextlib.contextmanager
def strict_placement(gpu: bool):
    """Soft device placement off and, on a GPU, every op asked of ``/GPU:0``: an op without a
    GPU kernel fails instead of running on the CPU unseen (the setting restored after)."""
    before = tf.config.get_soft_device_placement()
    tf.config.set_soft_device_placement(False)
    try:
        with tf.device("/GPU:0") if gpu else contextlib.nullcontext():
            yield
    finally:
        tf.config.set_soft_device_placement(before)


def checked(gpu: bool, name: str, check, *args) -> list[tuple]:
    """A check's rows under :func:`strict_placement`, or one ``FAIL`` row with the error's first
    line (an op placed on the CPU, an out-of-memory error) instead of a traceback."""
    try:
        with strict_placement(gpu):
            found = check(*args)
    except (tf.errors.OpError, VidstyleError) as error:
        line = (str(error).strip().splitlines() or [""])[0][:160]
        return [(name, f"{type(error).__name__}: {line}", "runs", "FAIL")]
    return found if isinstance(found, list) else [found]


def check_device(engines: Engines) -> tuple:
    """Row 2: one visible GPU, growth on, no note."""
    dev = engines.get().device
    gpus = tf.config.get_visible_devices("GPU")
    growth = [tf.config.experimental.get_memory_growth(g) for g in gpus]
    seen = f"{len(gpus)} GPU, growth {growth}, note {dev.note or 'none'} ({dev.label})"
    if not gpus:
        return ("device", seen, "1 GPU, growth [True], note none", "cpu")
    ok = len(gpus) == 1 and all(growth) and dev.note is None
    return ("device", seen, "1 GPU, growth [True], note none", "ok" if ok else "FAIL")


def _peak(engine, content, style, steps: int, gpu: bool) -> int | None:
    """Bytes the run took at its peak above what was in use before (GPU allocator; on the CPU
    the resident set's high-water mark, reset through /proc/self/clear_refs)."""
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")
        before = tf.config.experimental.get_memory_info("GPU:0")["current"]
        engine.stylize(Request(content, style, steps=steps))
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] - before
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_kib("VmRSS")
        engine.stylize(Request(content, style, steps=steps))
        return (_status_kib("VmHWM") - before) * 1024
    except OSError:
        return None


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"no {field} in /proc/self/status")


def check_peaks(engines: Engines, sizes, steps: int, gpu: bool) -> list[tuple]:
    """Rows 3: peak GiB per megapixel against the estimate."""
    rows = []
    style_rgb = picture("swirls.jpg", 256, 256)
    for precision, optimizer in (("float32", "adam"), ("bfloat16", "adam"), ("float32", "lbfgs")):
        engine = engines.get(precision, optimizer)
        style = engine.style_targets(style_rgb)
        for side in sizes:
            content = picture("photos/astronaut.jpg", side, side)
            engine.stylize(
                Request(content, style, steps=1)
            )  # compiled first: the peak is the run's
            peak = _peak(engine, content, style, steps, gpu)
            estimate = memory.needed_bytes(side, side, optimizer, 1, precision)
            mp = side * side / 1e6
            name = f"peak {precision} {optimizer} {side}^2"
            if peak is None:
                rows.append((name, "unreadable", f"<= {estimate / GIB / mp:.2f} GiB/MP", "n/a"))
                continue
            verdict = ("ok" if peak <= estimate else "OVER") if gpu else "cpu"
            rows.append((name, f"{peak / GIB / mp:.2f} GiB/MP",
                         f"<= {estimate / GIB / mp:.2f} GiB/MP", verdict))  # fmt: skip
    return rows


def check_losses(engines: Engines, sizes, steps: int, gpu: bool) -> list[tuple]:
    """Rows 4: bfloat16's loss against float32's, both scored by the float32 engine (judged on
    a GPU only: the CPU check's random weights and few steps say nothing of the precision)."""
    rows = []
    exact, half = engines.get("float32"), engines.get("bfloat16")
    style_rgb = picture("swirls.jpg", 256, 256)
    style = exact.style_targets(style_rgb)
    for side in sizes:
        content = picture("photos/astronaut.jpg", side, side)
        ours = exact.stylize(Request(content, style, steps=steps))
        a = exact.losses(ours, content, style)["total"]
        result = half.stylize(Request(content, half.style_targets(style_rgb), steps=steps))
        b = exact.losses(result, content, style)["total"]
        relative = (b - a) / a
        verdict = ("ok" if abs(relative) <= LOSS_TOLERANCE else "FAIL") if gpu else "cpu"
        rows.append((f"bf16 vs f32 loss {side}px", f"{relative:+.2%}",
                     f"within {LOSS_TOLERANCE:.0%}", verdict))  # fmt: skip
    return rows


def check_tiling(engines: Engines, side: int, steps: int) -> tuple:
    """Row 5: the style drop of a run tiled by a budget just under the untiled need, against
    the untiled run's."""
    engine = engines.get()
    content = picture("photos/astronaut.jpg", side, side)
    style = engine.style_targets(picture("swirls.jpg", 256, 256))
    start = engine.losses(content, content, style)["style"]
    saved = engine.memory_budget
    drops, tiles = [], 1
    for budget in (saved, engine.planner.needed(side, side) - 1):
        engine.memory_budget = budget
        works = engine.planner.plan(side, side, steps)
        tiles = max(tiles, works[-1].tiles)
        result = engine.stylize(Request(content, style, steps=steps))
        drops.append(1 - engine.losses(result, content, style)["style"] / start)
    engine.memory_budget = saved
    relative = (drops[1] - drops[0]) / drops[0]
    ok = tiles > 1 and abs(relative) <= DROP_TOLERANCE
    seen = f"{drops[1]:.3f} vs {drops[0]:.3f} ({relative:+.2%}, {tiles} tiles)"
    return (f"tiled style drop {side}px", seen, f">1 tile, within {DROP_TOLERANCE:.0%}",
            "ok" if ok else "FAIL")  # fmt: skip


def check_guard(args, side: int) -> tuple:
    """Row 1: the 32-bit guard, run in a subprocess (see :func:`guard`), before this process
    has touched the GPU."""
    try:
        done = harness.child("gpu", ["--guard", str(side), *_passed_on(args)], timeout=600)
    except subprocess.TimeoutExpired:
        return (f"32-bit guard {side}^2", "timed out after 600 s", "tiled, one step", "FAIL")
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    ok = done.returncode == 0 and last.startswith("tiled")
    seen = last if done.returncode == 0 else f"exit {done.returncode}: {last}"
    return (f"32-bit guard {side}^2", seen, "tiled, one step ran", "ok" if ok else "FAIL")


def _passed_on(args) -> list[str]:
    out = ["--cpu-check"] if args.cpu_check else []
    return out + (["--weights", str(args.weights)] if args.weights else [])


def guard(engines: Engines, side: int, cpu_check: bool) -> int:
    """The subprocess of row 1: plan ``side``^2 in bfloat16, check every level's crops are under
    the 32-bit limit and the last level is tiled, run one step. On the CPU check the limit is
    lowered to half the image."""
    if cpu_check:
        memory.MAX_PIXELS = side * side // 2
    engine = engines.get("bfloat16")
    works = engine.planner.plan(side, side, 1)
    widest = max(_widest_crop(w, engine.planner.margin) for w in works)
    if works[-1].tile is None or widest > memory.MAX_PIXELS:
        print(f"not guarded: last level tile {works[-1].tile}, widest crop {widest} px")
        return 1
    content = picture("photos/astronaut.jpg", side, side)
    with strict_placement(engine.device.gpu):
        style = engine.style_targets(picture("swirls.jpg", 256, 256))
        engine.stylize(Request(content, style, steps=1))
    print(f"tiled: {works[-1].tiles} tiles of {works[-1].tile} px, widest crop {widest / 1e6:.2f}"
          f" MP (limit {memory.MAX_PIXELS / 1e6:.2f} MP), one step ran")  # fmt: skip
    return 0


def _widest_crop(work, margin: int) -> int:
    if work.tile is None:
        return work.height * work.width
    crop = min(work.tile + 2 * margin, work.height), min(work.tile + 2 * margin, work.width)
    return crop[0] * crop[1]


def smoke(engines: Engines, args, guarded: tuple) -> tuple[Table, int]:
    """The checks in order after the guard's row ``guarded`` (run first, see the module's
    text), one table; and the exit code, 1 when one failed."""
    plan = CPU_SMOKE if args.cpu_check else GPU_SMOKE
    gpu = engines.get().device.gpu
    rows = [guarded, *checked(gpu, "device", check_device, engines)]
    rows += checked(gpu, "peaks", check_peaks, engines, plan["peak"], plan["steps"], gpu)
    rows += checked(gpu, "bf16 vs f32 loss", check_losses, engines, plan["loss"],
                    plan["steps"] * 2, gpu)  # fmt: skip
    rows += checked(gpu, "tiled style drop", check_tiling, engines, plan["tiling"],
                    plan["steps"])  # fmt: skip
    table = Table("check", "measured", "expected", "verdict")
    for row in rows:
        table.add(*row)
    return table, 1 if any(row[3] in ("FAIL", "OVER") for row in rows) else 0


def main(argv: list[str] | None = None, make_engine: harness.Engines | None = None) -> int:
    """The figures, the smoke checks (``--smoke``) or the guard's subprocess (``--guard``).

    Returns:
        The exit code: 0, 1 when a smoke check failed, 2 without weights.
    """
    parser = harness.parser(__doc__)
    parser.add_argument(
        "--sizes",
        type=size,
        nargs="+",
        default=[(512, 512), (1024, 1024), (1080, 1920)],
        help="WxH single-level sizes (default 512x512 1024x1024 1920x1080)",
    )
    parser.add_argument("--steps", type=int, default=50, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--smoke", action="store_true", help="the smoke checks (one table)")
    parser.add_argument(
        "--cpu-check",
        action="store_true",
        help="tiny sizes, random weights, shallow layers: the script on a CPU",
    )
    parser.add_argument("--guard", type=int, help=argparse.SUPPRESS)  # the subprocess of row 1
    args = harness.parse(parser, argv)
    if not args.cpu_check and make_engine is None:
        try:
            resolve(args.weights)  # as the CLI: --weights, the caches, then a download
        except WeightsError as error:
            print(f"error: {error.message()} (give --weights FILE)", file=sys.stderr)
            return 2
    guarded = None
    if args.smoke and not args.guard:  # first: this process holds no GPU memory yet
        guarded = check_guard(args, (CPU_SMOKE if args.cpu_check else GPU_SMOKE)["guard"])
    if args.cpu_check:
        from vidstyle.engine.model import keras_vgg19

        base = MethodConfig(max_size=0, scales=1, **SHALLOW)
        make_engine = make_engine or harness.Engines(vgg=keras_vgg19(None))  # random weights
    else:
        base = MethodConfig(max_size=0, scales=1)
        make_engine = make_engine or harness.Engines(args.weights)
    engines = Engines(make_engine, base)
    if args.guard:
        return guard(engines, args.guard, args.cpu_check)
    if args.smoke:
        table, code = smoke(engines, args, guarded)
        tables = [table]
    else:
        tables, code = figures(engines, args), 0
    device = engines.get().device.label
    harness.finish(
        args, "gpu", f"float32, bfloat16, float16 on {device}", tables, [t.rows for t in tables]
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
