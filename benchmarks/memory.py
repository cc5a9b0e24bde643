"""Peak memory of one optimization at several sizes, each in a fresh process.

For each size a child process builds the engine, runs ``--steps`` Adam steps on a synthetic
image of that size and reports its peak resident memory (``ru_maxrss``); a baseline child does
the same at 64x64, so the difference is what the image size costs. Memory per megapixel shows
whether memory grows no faster than the pixel count. With a GPU the figures are the first GPU's
peak allocation (TensorFlow's ``get_memory_info``) instead, and the same columns apply.

Usage: ``python benchmarks/memory.py [--sizes 512x512 1024x1024 1920x1080] [--steps 1]
[--optimizer adam|lbfgs]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys
import numpy as np
import tensorflow as tf
from vidstyle import load_engine
from vidstyle.config import MethodConfig
width, height, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
engine = load_engine(MethodConfig(max_size=max(width, height), optimizer=sys.argv[4]))
rng = np.random.default_rng(0)
image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
style = engine.style_targets(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8))
engine.stylize(image, style, steps=steps)
if tf.config.list_physical_devices("GPU"):
    peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mib": peak}))
"""


def peak_mib(width: int, height: int, steps: int, optimizer: str) -> float:
    args = [sys.executable, "-c", CHILD, str(width), str(height), str(steps), optimizer]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=["512x512", "1024x1024", "1920x1080"])
    parser.add_argument("--steps", type=int, default=1, help="Adam steps or L-BFGS iterations")
    parser.add_argument("--optimizer", default="adam", choices=["adam", "lbfgs"])
    args = parser.parse_args()
    base = peak_mib(64, 64, args.steps, args.optimizer)
    print(f"baseline (64x64): {base:.0f} MiB peak")
    print(f"{'size':>10} {'peak MiB':>9} {'above base':>10} {'MiB / Mpixel':>12}")
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        peak = peak_mib(width, height, args.steps, args.optimizer)
        extra = peak - base
        print(f"{size:>10} {peak:9.0f} {extra:10.0f} {extra / (width * height / 1e6):12.0f}",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
