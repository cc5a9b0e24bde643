"""Seconds per optimization step: vidstyle against the plain TensorFlow-tutorial recipe.

Both run in one process on the same VGG19 weights, content and style, interleaved repeat by repeat
(convolution probe, recipe, vidstyle, probe, recipe, vidstyle, ...) so that a change in the load of
the machine hits all of them alike; the medians are compared as a ratio (recipe / vidstyle, above
1 means vidstyle is faster). vidstyle's figure is ``stylize(steps=N)`` minus ``stylize(steps=0)``
(its per-call setup: the content targets and the host copies), over N; the recipe's
(:mod:`benchmarks.recipe`) is N calls of its step, with nothing else in the timed span.

The convolution probe times one representative VGG19 convolution, [1, s/4, s/4, 256] by
[3, 3, 256, 256], to give the machine's own convolution throughput; each step's FLOPs (forward
convolutions to the deepest layer used plus their input gradients) over its time, as a fraction
of that throughput, says how much of the machine a step uses.

Precision (``--precisions``, ``auto`` by default): vidstyle is timed once per precision given,
each its own engine, all interleaved with the recipe (always float32).

A new size (``--new-sizes A B C``, instead of the table above): one engine stylizes each size in
turn; at each, the first one-step call is timed against the same call repeated (the median), and
the first step's overhead is their difference, in wall and in CPU seconds; the engine's trace
count after each size shows whether a new size traced again.

Usage: ``python -m benchmarks.step [--sizes 128 256] [--steps 10] [--repeats 3] [--precisions
auto float32] [--device /GPU:0]``; ``python -m benchmarks.step --new-sizes 96 128 160``.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable

import tensorflow as tf

from benchmarks import harness, timing
from benchmarks.recipe import Recipe
from benchmarks.table import Table
from vidstyle.config import MethodConfig
from vidstyle.engine.precision import CHOICES as PRECISIONS
from vidstyle.engine.request import Request
from vidstyle.engine.stepping import STEPS_PER_CALL
from vidstyle.weights import VGG19_CONVS

CONV_NAMES = [name for name, _, _ in VGG19_CONVS]
PROBE_CALLS = 5


def parse_args(argv):
    """The command line."""
    parser = harness.parser(__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256],
                        help="working sizes (square images, side in pixels)")  # fmt: skip
    parser.add_argument("--steps", type=int, default=10,
                        help=f"timed steps per repeat, a multiple of {STEPS_PER_CALL}")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats per size")
    parser.add_argument("--precisions", nargs="+", default=["auto"], choices=PRECISIONS,
                        help="vidstyle's precisions to time (the recipe is float32)")  # fmt: skip
    parser.add_argument("--new-sizes", type=int, nargs="+",
                        help="instead: the first step at each new size")  # fmt: skip
    parser.add_argument("--device", help="e.g. /GPU:0 (default: TensorFlow's choice)")
    args = harness.parse(parser, argv)
    if args.steps <= 0 or args.steps % STEPS_PER_CALL:
        parser.error(f"--steps must be a positive multiple of {STEPS_PER_CALL}")
    return args


def make_conv_probe(size: int) -> Callable[[], float]:
    """A timer of one forward VGG19-like convolution at a quarter of ``size``; returns GFLOP/s."""
    side = max(size // 4, 1)
    x = tf.random.stateless_uniform([1, side, side, 256], seed=(1, 2))
    kernel = tf.random.stateless_normal([3, 3, 256, 256], seed=(3, 4), stddev=0.02)
    conv = tf.function(lambda x, k: tf.reduce_sum(tf.nn.conv2d(x, k, 1, "SAME")))
    flops = conv_flops(side, side, 256, 256)
    conv(x, kernel).numpy()  # trace and warm up

    def probe() -> float:
        start = time.perf_counter()
        for _ in range(PROBE_CALLS):
            total = conv(x, kernel)
        total.numpy()
        return flops * PROBE_CALLS / (time.perf_counter() - start) / 1e9

    return probe


def conv_flops(height: int, width: int, c_in: int, c_out: int) -> int:
    """FLOPs of one 3x3 stride-1 SAME convolution (a multiply and an add per tap)."""
    return 2 * height * width * c_in * c_out * 9


def step_flops(size: int, layers: tuple[str, ...]) -> int:
    """One step on a size x size image: VGG19's convolutions up to the deepest of ``layers``,
    forward plus their input gradients (as many FLOPs; the first convolution's counts too, as
    the image is what is optimized)."""
    deepest = max(layers, key=CONV_NAMES.index)
    total = 0
    for name, c_in, c_out in VGG19_CONVS[: CONV_NAMES.index(deepest) + 1]:
        side = size // 2 ** (int(name[5]) - 1)  # block b runs at size / 2^(b-1)
        total += conv_flops(side, side, c_in, c_out)
    return 2 * total


def bench_size(make_engine, size: int, steps: int, repeats: int, precisions: list[str]) -> list:
    """The recipe and one engine per precision at one size, timed interleaved; one row of
    figures per precision."""
    content = harness.resized(harness.CONTENT, size, size)
    style = harness.resized(harness.STYLE, size, size)
    recipe = Recipe(make_engine.vgg(), content, style)
    engines = {p: make_engine(MethodConfig(max_size=size, precision=p)) for p in precisions}
    requests = {p: Request(content, e.style_targets(style)) for p, e in engines.items()}
    probe = make_conv_probe(size)
    recipe.warm_up()
    for p, engine in engines.items():
        engine.stylize(requests[p].replace(steps=1))  # traces the graph every count uses
    tasks = {"conv_gflops": probe, "recipe": lambda: recipe.seconds_per_step(steps)}
    for p, engine in engines.items():
        tasks[p] = lambda e=engine, r=requests[p]: timing.per_step(e, r, steps)
    runs = timing.interleaved(tasks, repeats)
    conv, recipe_s = statistics.median(runs["conv_gflops"]), statistics.median(runs["recipe"])
    gflop = step_flops(size, MethodConfig().layers) / 1e9
    rows = []
    for p in engines:
        ours = statistics.median(r[0] for r in runs[p])  # 0: under the noise of the setup
        rows.append({"size": size, "precision": harness.precision_label(p),
                     "recipe_s_per_step": recipe_s, "vidstyle_s_per_step": ours,
                     "vidstyle_setup_s": statistics.median(r[1] for r in runs[p]),
                     "ratio": recipe_s / ours if ours else None, "conv_gflops": conv,
                     "step_gflop": gflop, "recipe_gflops": gflop / recipe_s,
                     "vidstyle_gflops": gflop / ours if ours else None,
                     "runs": {k: runs[k] for k in ("conv_gflops", "recipe", p)}})  # fmt: skip
    return rows


def new_sizes(make_engine, sizes: list[int], repeats: int, precision: str) -> list[dict]:
    """One engine, each size in turn: its first one-step call (wall and CPU seconds) against the
    same call repeated (median), and the engine's traces so far."""
    engine = make_engine(MethodConfig(max_size=max(sizes), precision=precision))
    targets = engine.style_targets(harness.resized(harness.STYLE, sizes[0], sizes[0]))
    rows = []
    for size in sizes:
        request = Request(harness.resized(harness.CONTENT, size, size), targets, steps=1)
        clocks = []
        for _ in range(repeats + 1):
            with timing.Clock() as clock:
                engine.stylize(request)
            clocks.append(clock)
        first, again = clocks[0], clocks[1:]
        steady = [statistics.median(c.wall for c in again), statistics.median(c.cpu for c in again)]
        rows.append({"size": size, "traces": engine.traces, "first_s": first.wall,
                     "steady_s": steady[0], "overhead_s": first.wall - steady[0],
                     "overhead_cpu_s": first.cpu - steady[1]})  # fmt: skip
        print(f"  {size}: first step {first.wall:.2f} s, steady {steady[0]:.2f} s, "
              f"traces {engine.traces}", flush=True)  # fmt: skip
    return rows


def new_size_table(rows: list[dict], repeats: int) -> Table:
    """The ``--new-sizes`` table."""
    table = Table("size", "traces", ("1st step s", "{:.2f}"), ("steady s", "{:.2f}"),
                  ("overhead s", "{:.2f}"), ("overhead CPU s", "{:.2f}"),
                  title=f"the first one-step call at a new size, {repeats} repeats")  # fmt: skip
    for r in rows:
        table.add(r["size"], r["traces"], r["first_s"], r["steady_s"], r["overhead_s"],
                  r["overhead_cpu_s"])  # fmt: skip
    return table


def size_table(rows: list[dict], title: str) -> Table:
    """The per-size table: times, ratio, throughput."""
    table = Table("size", "precision", ("recipe s/step", "{:.3f}"), ("vidstyle s/step", "{:.3f}"),
                  ("ratio", "{:.2f}"), ("setup s", "{:.2f}"), ("conv GFLOP/s", "{:.1f}"),
                  ("step GFLOP", "{:.1f}"), ("recipe GFLOP/s", "{:.1f}"),
                  ("vidstyle GFLOP/s", "{:.1f}"), title=title)  # fmt: skip
    for r in rows:
        table.add(r["size"], r["precision"], r["recipe_s_per_step"], r["vidstyle_s_per_step"],
                  r["ratio"], r["vidstyle_setup_s"], r["conv_gflops"], r["step_gflop"],
                  r["recipe_gflops"], r["vidstyle_gflops"])  # fmt: skip
    return table


def main(argv: list[str] | None = None, make_engine: harness.Engines | None = None) -> None:
    """Run the benchmark, print the table and log it."""
    args = parse_args(argv)
    make_engine = make_engine or harness.Engines(args.weights)
    devices = ", ".join(d.name for d in tf.config.list_physical_devices())
    print(f"TensorFlow {tf.__version__} sees: {devices}; device: {args.device or 'default'}")
    with tf.device(args.device) if args.device else contextlib.nullcontext():
        if args.new_sizes:
            rows = new_sizes(make_engine, args.new_sizes, args.repeats, args.precisions[0])
            table, notes = new_size_table(rows, args.repeats), ()
            precision = harness.precision_label(args.precisions[0])
        else:
            rows = []
            for size in args.sizes:
                rows += bench_size(make_engine, size, args.steps, args.repeats, args.precisions)
            table = size_table(rows, f"steps {args.steps} x repeats {args.repeats}, medians")
            notes = ["ratio = recipe / vidstyle s/step (>1: vidstyle faster); setup = the "
                     "stylize(steps=0) call; GFLOP/s: step GFLOP over s/step"]  # fmt: skip
            precision = "; ".join(dict.fromkeys(r["precision"] for r in rows)) + "; recipe float32"
    harness.finish(args, "step", precision, [table], rows, notes)


if __name__ == "__main__":
    main()
