"""The GPU figures in one run (under ten minutes on a GPU; also runs on a CPU at tiny sizes).

Prints, in order:

1. the device and the memory budget as vidstyle read it (before TensorFlow reserved any), or the
   note saying why it could not;
2. seconds per Adam step at each size (default 512x512 and 1920x1080), ``precision`` float32
   (TF32 off, as vidstyle runs it);
3. the same with ``precision`` mixed (a float16 network) and the speed-up over float32;
4. throughput (images per second) of a batch of 1 and of ``--batch`` images at the first size;
5. TF32 on against off for float32 at the first size: seconds per step, and the loss reached
   after ``--steps`` steps (both scored in exact float32), as a relative difference.

Seconds per step are ``stylize(steps=N)`` minus ``stylize(steps=0)`` over N, medians over
``--repeats`` interleaved repeats, after a warm-up that compiles everything.

Usage::

    PYTHONPATH=. python benchmarks/gpu.py                        # on a GPU: the figures above
    PYTHONPATH=. python benchmarks/gpu.py --sizes 64x64 96x64 --steps 10 --repeats 1 --batch 2
                                                                 # a quick run on a CPU
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from vidstyle.config import MethodConfig
from vidstyle.engine import device as devices
from vidstyle.engine.optimize import build_engine
from vidstyle.errors import VidstyleError
from vidstyle.weights import resolve

ROOT = Path(__file__).resolve().parent.parent
GIB = 2**30


def size(text: str) -> tuple[int, int]:
    """``WxH`` (or ``N`` for a square) as (height, width)."""
    width, _, height = text.partition("x")
    return int(height or width), int(width)


def picture(name: str, height: int, width: int) -> np.ndarray:
    image = Image.open(ROOT / "samples" / name).convert("RGB").resize((width, height))
    return np.asarray(image)


def seconds_per_step(engine, content: np.ndarray, style, steps: int) -> float:
    """One repeat: ``stylize(steps)`` minus ``stylize(0)``, over ``steps``."""
    started = time.perf_counter()
    engine.stylize(content, style, steps=0)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    engine.stylize(content, style, steps=steps)
    return max(0.0, time.perf_counter() - started - setup) / steps


def timed(engines: dict, content: np.ndarray, style_rgb: np.ndarray, args) -> dict[str, float]:
    """Median seconds per step of each engine on ``content``, interleaved repeat by repeat."""
    styles = {name: engine.style_targets(style_rgb) for name, engine in engines.items()}
    for name, engine in engines.items():  # warm up: compile both the 0-step and the N-step path
        seconds_per_step(engine, content, styles[name], 10)
    runs: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(args.repeats):
        for name, engine in engines.items():
            runs[name].append(seconds_per_step(engine, content, styles[name], args.steps))
    return {name: statistics.median(values) for name, values in runs.items()}


def with_tf32(engine, on: bool):
    """The engine, run with TF32 forced on or off (vidstyle itself turns it off for float32)."""
    stylize = engine.stylize

    def forced(*args, **kwargs):
        saved = devices.apply_tf32
        devices.apply_tf32 = lambda precision: (
            tf.config.experimental.enable_tensor_float_32_execution(on)
        )
        try:
            return stylize(*args, **kwargs)
        finally:
            devices.apply_tf32 = saved

    engine.stylize = forced
    return engine


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=size, nargs="+", default=[(512, 512), (1080, 1920)],
                        help="WxH working sizes (default 512x512 1920x1080)")  # fmt: skip
    parser.add_argument("--steps", type=int, default=50, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--weights", type=Path)
    args = parser.parse_args(argv)
    source = resolve(args.weights)
    largest = max(max(h, w) for h, w in args.sizes)
    method = MethodConfig(max_size=largest)
    exact = build_engine(method, source)  # sets up the device first: the budget is read here
    mixed = build_engine(method.replace(precision="mixed"), source)
    dev = exact.device
    free = f"{dev.free_bytes / GIB:.2f} GiB free" if dev.free_bytes is not None else "unknown"
    free = free if dev.gpu else "no GPU: the budget is the host's available memory"
    print(f"device: {dev.label} ({free}{'; ' + dev.note if dev.note else ''})")
    budget = exact.memory_budget
    print(f"memory budget: {'none' if budget is None else f'{budget / GIB:.2f} GiB'}"
          f"{'; ' + exact.memory_note if exact.memory_note else ''}")  # fmt: skip
    print(f"TensorFlow devices: {[d.name for d in tf.config.get_visible_devices()]}")
    style_rgb = picture("swirls.jpg", 256, 256)

    print(f"\nAdam, seconds per step (median of {args.repeats} x {args.steps} steps)")
    print(f"{'size':>11} {'float32':>9} {'mixed':>9} {'speed-up':>9}")
    for height, width in args.sizes:
        content = picture("photos/astronaut.jpg", height, width)
        try:
            found = timed({"float32": exact, "mixed": mixed}, content, style_rgb, args)
        except VidstyleError as error:  # refused by the budget, or out of memory
            print(f"{width:>5}x{height:<5} {error.message()}")
            continue
        speedup = found["float32"] / max(found["mixed"], 1e-9)
        print(f"{width:>5}x{height:<5} {found['float32']:>9.4f} {found['mixed']:>9.4f} "
              f"{speedup:>8.2f}x")  # fmt: skip

    height, width = args.sizes[0]
    content = picture("photos/astronaut.jpg", height, width)
    batch = np.stack([content] * args.batch)
    found = timed({"1": exact}, content, style_rgb, args)["1"]
    try:
        many = timed({"n": exact}, batch, style_rgb, args)["n"]
    except VidstyleError as error:
        many = float("nan")
        print(f"batch of {args.batch}: {error.message()}")
    print(f"\nbatch at {width}x{height}: 1 image {1 / found:.2f} images/s, {args.batch} images "
          f"{args.batch / many:.2f} images/s ({found * args.batch / many:.2f}x)")  # fmt: skip

    tf32 = with_tf32(build_engine(method, source), on=True)
    found = timed({"off": exact, "on": tf32}, content, style_rgb, args)
    style = exact.style_targets(style_rgb)
    off_image = exact.stylize(content, style, steps=args.steps)
    on_image = tf32.stylize(content, tf32.style_targets(style_rgb), steps=args.steps)
    off_loss = exact.losses(off_image, content, style)["total"]
    on_loss = exact.losses(on_image, content, style)["total"]
    print(f"\nTF32 at {width}x{height}, float32: off {found['off']:.4f} s/step, on "
          f"{found['on']:.4f} s/step ({found['off'] / max(found['on'], 1e-9):.2f}x); loss after "
          f"{args.steps} steps off {off_loss:.6g}, on {on_loss:.6g} "
          f"({(on_loss - off_loss) / off_loss:+.2e} relative)")  # fmt: skip


if __name__ == "__main__":
    main()
