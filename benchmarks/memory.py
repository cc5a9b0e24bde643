"""Peak memory of one optimization at several sizes, each in a fresh process.

For each size a child process (this script with ``--child``) builds the engine, runs ``--steps``
steps on a synthetic image of that size and reports its peak resident memory (``ru_maxrss``); a
baseline child does the same at 64x64, so the difference is what the image size costs. Memory
per megapixel shows whether memory grows no faster than the pixel count. With a GPU the figures
are the first GPU's peak allocation (TensorFlow's ``get_memory_info``) instead, and the same
columns apply.

Usage: ``python -m benchmarks.memory [--sizes 512x512 1024x1024 1920x1080] [--steps 1]
[--optimizer adam|lbfgs]``
"""

from __future__ import annotations

import json
import resource

import numpy as np

from benchmarks import harness
from benchmarks.table import Table
from vidstyle.config import MethodConfig
from vidstyle.engine.request import Request

BASELINE = (64, 64)


def child(width: int, height: int, steps: int, optimizer: str, weights) -> dict:
    """In the child process: one optimization; its peak memory in MiB and its precision."""
    import tensorflow as tf

    engine = harness.Engines(weights)(
        MethodConfig(max_size=max(width, height), optimizer=optimizer)
    )
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    style = engine.style_targets(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8))
    engine.stylize(Request(image, style, steps=steps))
    if tf.config.list_physical_devices("GPU"):
        peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"peak_mib": peak, "precision": harness.precision_label("auto")}


def peak(width: int, height: int, args) -> dict:
    """A child's figures (see :func:`child`)."""
    argv = ["--child", str(width), str(height), "--steps", str(args.steps),
            "--optimizer", args.optimizer, "--results", "-"]  # fmt: skip
    done = harness.child(
        "memory", argv + (["--weights", str(args.weights)] if args.weights else [])
    )
    if done.returncode:
        raise SystemExit(f"memory: the child at {width}x{height} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Run the baseline and every size in children; print the table and log it."""
    parser = harness.parser(__doc__)
    parser.add_argument("--sizes", nargs="*", default=["512x512", "1024x1024", "1920x1080"],
                        help="WxH (none: the baseline alone)")  # fmt: skip
    parser.add_argument("--steps", type=int, default=1, help="Adam steps or L-BFGS iterations")
    parser.add_argument("--optimizer", default="adam", choices=["adam", "lbfgs"])
    parser.add_argument("--child", nargs=2, type=int, metavar=("W", "H"), help="(internal)")
    args = harness.parse(parser, argv)
    if args.child:
        print(json.dumps(child(*args.child, args.steps, args.optimizer, args.weights)))
        return
    base = peak(*BASELINE, args)
    title = f"{args.optimizer}, {args.steps} step(s)"
    table = Table("size", ("peak MiB", "{:.0f}"), ("above base", "{:.0f}"),
                  ("MiB / Mpixel", "{:.0f}"), title=title)  # fmt: skip
    table.add("64x64 (base)", base["peak_mib"], 0, None)
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        found = peak(width, height, args)["peak_mib"]
        extra = found - base["peak_mib"]
        print(table.add(size, found, extra, extra / (width * height / 1e6)), flush=True)
    harness.finish(args, "memory", base["precision"], [table], table.rows)


if __name__ == "__main__":
    main()
