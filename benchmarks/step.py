"""Seconds per optimization step: vidstyle against the plain TensorFlow-tutorial recipe.

Both run in one process on the same VGG19 weights, content and style, interleaved repeat by repeat
(convolution probe, recipe, vidstyle, probe, recipe, vidstyle, ...) so that a change in the load of
the machine hits all of them alike; the medians are compared as a ratio (recipe / vidstyle, above
1 means vidstyle is faster). vidstyle's figure is ``stylize(steps=N)`` minus ``stylize(steps=0)``
(its per-call setup: the content targets and the host copies), over N; the recipe's is N calls of
its step, as the tutorial runs them, with nothing else in the timed span.

The recipe is the "Neural style transfer" tutorial of tensorflow.org written out plainly: a Keras
model over VGG19's outputs, ``preprocess_input(inputs * 255)``, einsum Gram matrices, the style /
content / total-variation weights 1e-2 / 1e4 / 30, a ``tf.Variable`` image, Keras Adam (0.02,
0.99, 0.1) and one ``@tf.function`` call per step. vidstyle runs ``Engine.stylize``.

The convolution probe times one representative VGG19 convolution, [1, s/4, s/4, 256] by
[3, 3, 256, 256], to give the machine's own convolution throughput; each step's FLOPs (forward
convolutions to the deepest layer used plus their input gradients) over its time, as a fraction
of that throughput, says how much of the machine a step uses.

Precision (``--precisions``, ``auto`` by default): vidstyle is timed once per precision given
(``auto``, ``float32``, ``bfloat16``, ``float16``; ``auto`` is shown with what it resolves to on
this machine), each its own engine, all interleaved with the recipe (always float32).

A new size (``--new-sizes A B C``, instead of the table above): one engine stylizes each size in
turn; at each, the first one-step ``stylize(steps=1)`` (which, before issue 18, traced and
compiled the step function for that size) is timed against the same call repeated (the median),
and the first step's overhead is their difference, in wall and in CPU seconds (the process's:
less disturbed by other processes on a shared machine); the engine's trace count is printed
after each size. Then,
at each size, the steady step of the shape-agnostic function (traced once, no fixed dimension)
is timed interleaved with a function traced for that one shape (as every size was before), to
show the relaxed signature does not slow the step. Run it on an older tree (``PYTHONPATH``) for
the "before" figures: the comparison with the shape-specific trace is then left out.

Usage: ``python benchmarks/step.py --sizes 128 256 --steps 10 --repeats 3 [--precisions auto
float32] [--device /GPU:0] [--weights FILE] [--json out.json]``;
``python benchmarks/step.py --new-sizes 96 128 160 --steps 10 --repeats 3``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from vidstyle.config import CONTENT_LAYERS, STYLE_LAYERS, MethodConfig
from vidstyle.engine.model import keras_vgg19
from vidstyle.engine.optimize import STEPS_PER_CALL, build_engine
from vidstyle.engine.precision import CHOICES as precision_choices
from vidstyle.weights import VGG19_CONVS, resolve

ROOT = Path(__file__).resolve().parent.parent
CONTENT_FILE = ROOT / "samples" / "photos" / "astronaut.jpg"
STYLE_FILE = ROOT / "samples" / "swirls.jpg"
CONV_NAMES = [name for name, _, _ in VGG19_CONVS]
PROBE_CALLS = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[128, 256],
        help="working sizes (square images, side in pixels)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=10,
        help=f"timed steps per repeat, a multiple of {STEPS_PER_CALL}",
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats per size")
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=["auto"],
        choices=precision_choices,
        help="vidstyle's precisions to time (the recipe is float32)",
    )
    parser.add_argument(
        "--new-sizes",
        type=int,
        nargs="+",
        default=None,
        help="instead: the first-step overhead of each new size, one engine (see the text)",
    )
    parser.add_argument("--device", default=None, help="e.g. /GPU:0 (default: TF's choice)")
    parser.add_argument("--weights", default=None, help="VGG19 weights file (.h5 or .bin)")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    args = parser.parse_args(argv)
    if args.steps <= 0 or args.steps % STEPS_PER_CALL:
        parser.error(f"--steps must be a positive multiple of {STEPS_PER_CALL}")
    return args


def load_rgb(path: Path, size: int) -> np.ndarray:
    """An image file as size x size x 3 uint8 (resized, deterministic)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC))


# ------------------------------------------------------------------- the tutorial's recipe


def vgg_layers(vgg: keras.Model, layer_names: list[str]) -> keras.Model:
    """The tutorial's extractor, here over the full network: selected outputs plus the last one.

    TensorFlow prunes the unused ``vgg.output`` branch inside ``tf.function`` (checked by timing:
    a model whose only used output is block1_conv1 is as fast with ``vgg.output`` as without), so
    what runs is the same as the tutorial's own ``keras.Model(vgg.input, outputs)``.
    """
    vgg.trainable = False
    outputs = [vgg.get_layer(name).output for name in layer_names]
    return keras.Model([vgg.input], outputs + [vgg.output])


def gram_matrix(input_tensor: tf.Tensor) -> tf.Tensor:
    """The tutorial's Gram matrix: einsum over positions divided by their number."""
    result = tf.linalg.einsum("bijc,bijd->bcd", input_tensor, input_tensor)
    input_shape = tf.shape(input_tensor)
    num_locations = tf.cast(input_shape[1] * input_shape[2], tf.float32)
    return result / num_locations


class StyleContentModel:
    """The tutorial's StyleContentModel: style Grams and content features of an image in 0..1."""

    def __init__(self, vgg: keras.Model, style_layers: list[str], content_layers: list[str]):
        self.vgg = vgg_layers(vgg, style_layers + content_layers)
        self.style_layers = style_layers
        self.content_layers = content_layers
        self.num_style_layers = len(style_layers)

    def __call__(self, inputs: tf.Tensor) -> dict[str, dict[str, tf.Tensor]]:
        inputs = inputs * 255.0
        preprocessed_input = keras.applications.vgg19.preprocess_input(inputs)
        outputs = self.vgg(preprocessed_input)[: self.num_style_layers + len(self.content_layers)]
        style_outputs = [gram_matrix(out) for out in outputs[: self.num_style_layers]]
        content_outputs = outputs[self.num_style_layers :]
        return {
            "content": dict(zip(self.content_layers, content_outputs)),
            "style": dict(zip(self.style_layers, style_outputs)),
        }


def make_recipe(vgg: keras.Model, content: np.ndarray, style: np.ndarray):
    """The tutorial's training step over a ``tf.Variable`` image.

    Returns:
        ``(train_step, image, content_image)``: call ``train_step(image)`` once per step.
    """
    extractor = StyleContentModel(vgg, list(STYLE_LAYERS), list(CONTENT_LAYERS))
    content_image = tf.constant(content[None].astype(np.float32) / 255.0)
    style_targets = extractor(tf.constant(style[None].astype(np.float32) / 255.0))["style"]
    content_targets = extractor(content_image)["content"]
    image = tf.Variable(content_image)
    opt = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)
    style_weight, content_weight, total_variation_weight = 1e-2, 1e4, 30

    def style_content_loss(outputs):
        style_outputs, content_outputs = outputs["style"], outputs["content"]
        style_loss = tf.add_n(
            [
                tf.reduce_mean((style_outputs[name] - style_targets[name]) ** 2)
                for name in style_outputs.keys()
            ]
        )
        style_loss *= style_weight / len(STYLE_LAYERS)
        content_loss = tf.add_n(
            [
                tf.reduce_mean((content_outputs[name] - content_targets[name]) ** 2)
                for name in content_outputs.keys()
            ]
        )
        content_loss *= content_weight / len(CONTENT_LAYERS)
        return style_loss + content_loss

    @tf.function()
    def train_step(image):
        with tf.GradientTape() as tape:
            outputs = extractor(image)
            loss = style_content_loss(outputs)
            loss += total_variation_weight * tf.image.total_variation(image)
        grad = tape.gradient(loss, image)
        opt.apply_gradients([(grad, image)])
        image.assign(tf.clip_by_value(image, clip_value_min=0.0, clip_value_max=1.0))

    return train_step, image, content_image


# ------------------------------------------------------------------------------ timing


def time_recipe(recipe, steps: int) -> float:
    """Seconds per step of the recipe over ``steps`` calls, from the content image."""
    train_step, image, content_image = recipe
    image.assign(content_image)
    image.numpy()
    start = time.perf_counter()
    for _ in range(steps):
        train_step(image)
    image.numpy()  # waits for the last step
    return (time.perf_counter() - start) / steps


def time_stylize(engine, content: np.ndarray, targets, steps: int) -> float:
    """Seconds of one ``Engine.stylize`` call (it returns a host array, so it is synced)."""
    start = time.perf_counter()
    engine.stylize(content, targets, steps=steps)
    return time.perf_counter() - start


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


# ------------------------------------------------------------------------------- FLOPs


def conv_flops(height: int, width: int, c_in: int, c_out: int) -> int:
    """FLOPs of one 3x3 stride-1 SAME convolution (a multiply and an add per tap)."""
    return 2 * height * width * c_in * c_out * 9


def forward_flops(size: int, deepest: str) -> int:
    """FLOPs of VGG19's convolutions on a size x size image, up to and including ``deepest``."""
    total = 0
    for name, c_in, c_out in VGG19_CONVS[: CONV_NAMES.index(deepest) + 1]:
        side = size // 2 ** (int(name[5]) - 1)  # block b runs at size / 2^(b-1)
        total += conv_flops(side, side, c_in, c_out)
    return total


def step_flops(size: int, deepest: str) -> int:
    """One step: the forward convolutions plus their input gradients (same FLOPs each; the first
    convolution's input gradient counts too, since the image is what is optimized)."""
    return 2 * forward_flops(size, deepest)


def deepest_layer(layers: tuple[str, ...]) -> str:
    """The deepest of some VGG19 convolution names."""
    return max(layers, key=CONV_NAMES.index)


# ------------------------------------------------------------------------------- running


def bench_size(size: int, source, steps: int, repeats: int, precisions: list[str]) -> list[dict]:
    """Build the recipe and one engine per precision at one size, then time them interleaved;
    returns one row of figures per precision."""
    content, style = load_rgb(CONTENT_FILE, size), load_rgb(STYLE_FILE, size)
    recipe = make_recipe(keras_vgg19(source), content, style)
    engines = {
        p: build_engine(MethodConfig(max_size=size, precision=p), source) for p in precisions
    }
    targets = {p: engine.style_targets(style) for p, engine in engines.items()}
    probe = make_conv_probe(size)
    recipe[0](recipe[1])  # warm up: the first call traces
    recipe[1].numpy()
    for p, engine in engines.items():
        engine.stylize(content, targets[p], steps=1)  # traces the same graph as any other count
    runs = {"conv_gflops": [], "recipe": []}
    runs |= {f"{kind}:{p}": [] for p in precisions for kind in ("vidstyle", "vidstyle_setup")}
    for _ in range(repeats):
        runs["conv_gflops"].append(probe())
        runs["recipe"].append(time_recipe(recipe, steps))
        for p, engine in engines.items():
            setup = time_stylize(engine, content, targets[p], 0)  # content targets, host copies
            whole = time_stylize(engine, content, targets[p], steps)
            runs[f"vidstyle_setup:{p}"].append(setup)
            runs[f"vidstyle:{p}"].append((whole - setup) / steps)
    return [summarize(size, p, engines[p].method.precision, runs) for p in precisions]


def summarize(size: int, asked: str, resolved: str, runs: dict[str, list[float]]) -> dict:
    """Medians, the ratio and the FLOP figures of one size and precision."""
    recipe = statistics.median(runs["recipe"])
    vidstyle = statistics.median(runs[f"vidstyle:{asked}"])
    conv = statistics.median(runs["conv_gflops"])
    # The recipe's unused vgg.output branch is pruned by tf.function: both run the same convs.
    gflop = step_flops(size, deepest_layer(MethodConfig().layers)) / 1e9
    return {
        "size": size,
        "precision": asked if asked == resolved else f"{asked} ({resolved})",
        "recipe_s_per_step": recipe,
        "vidstyle_s_per_step": vidstyle,
        "vidstyle_setup_s": statistics.median(runs[f"vidstyle_setup:{asked}"]),
        "ratio": recipe / vidstyle,
        "conv_gflops": conv,
        "step_gflop": gflop,
        "recipe_gflops": gflop / recipe,
        "vidstyle_gflops": gflop / vidstyle,
        "recipe_fraction": gflop / recipe / conv,
        "vidstyle_fraction": gflop / vidstyle / conv,
        "runs": {k: v for k, v in runs.items() if ":" not in k or k.endswith(f":{asked}")},
    }


# ------------------------------------------------------------------------------ new sizes


def specialized_run(engine):
    """The engine's Adam chunk as a ``tf.function`` traced per shape (as before issue 18), or
    None on a tree without :mod:`vidstyle.engine.compiled`."""
    compiled = getattr(engine, "compiled", None)
    if compiled is None:
        return None
    return tf.function(compiled.adam_steps, autograph=False)


def timed(engine, content: np.ndarray, targets, steps: int) -> tuple[float, float]:
    """Wall and CPU seconds (this process's, all threads) of one ``Engine.stylize`` call: the
    CPU seconds are less disturbed by other processes on a shared machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    engine.stylize(content, targets, steps=steps)
    return time.perf_counter() - wall, time.process_time() - cpu


def new_sizes(source, sizes: list[int], steps: int, repeats: int, precision: str) -> list[dict]:
    """One engine, each size in turn: its first one-step call (wall and CPU seconds) against the
    same call repeated (median), and the traces so far; then, at each size, the steady seconds
    per step (``steps`` a call) of the engine's function against a shape-specific trace,
    interleaved (left out on a tree without :mod:`vidstyle.engine.compiled`)."""
    engine = build_engine(MethodConfig(max_size=max(sizes), precision=precision), source)
    targets = engine.style_targets(load_rgb(STYLE_FILE, sizes[0]))
    shapeless, specialized = engine._run, specialized_run(engine)
    rows = []
    for size in sizes:
        content = load_rgb(CONTENT_FILE, size)
        first = timed(engine, content, targets, 1)
        again = [timed(engine, content, targets, 1) for _ in range(repeats)]
        steady = [statistics.median(t[i] for t in again) for i in (0, 1)]
        rows.append({"size": size, "first_s": first[0], "steady_s": steady[0],
                     "overhead_s": first[0] - steady[0], "first_cpu_s": first[1],
                     "steady_cpu_s": steady[1], "overhead_cpu_s": first[1] - steady[1],
                     "traces": engine.traces})  # fmt: skip
        print(f"  {size}: first step {first[0]:.2f} s ({first[1]:.2f} s CPU), steady "
              f"{steady[0]:.2f} s ({steady[1]:.2f} s CPU), traces {engine.traces}",
              flush=True)  # fmt: skip
    if specialized is None:
        return rows
    for row in rows:
        content = load_rgb(CONTENT_FILE, row["size"])
        engine._run = specialized
        time_stylize(engine, content, targets, 1)  # traces this shape
        times = {"shapeless": [], "specialized": []}
        for _ in range(repeats):
            for name, run in (("shapeless", shapeless), ("specialized", specialized)):
                engine._run = run
                setup = time_stylize(engine, content, targets, 0)
                times[name].append((time_stylize(engine, content, targets, steps) - setup) / steps)
        engine._run = shapeless
        row |= {f"{name}_s_per_step": statistics.median(t) for name, t in times.items()}
        row["runs"] = times
    return rows


def print_new_sizes(rows: list[dict]) -> None:
    """The new-size table."""
    print(f"{'size':>5} {'traces':>6} {'1st step s':>10} {'steady s':>8} {'overhead s':>10}"
          f" {'(CPU s)':>8} {'s/step shapeless':>16} {'per-shape':>9} {'ratio':>6}")  # fmt: skip
    for r in rows:
        extra = ""
        if "shapeless_s_per_step" in r:
            shapeless, specialized = r["shapeless_s_per_step"], r["specialized_s_per_step"]
            extra = f" {shapeless:>16.3f} {specialized:>9.3f} {shapeless / specialized:>6.3f}"
        print(f"{r['size']:>5} {r['traces']:>6} {r['first_s']:>10.2f} {r['steady_s']:>8.2f}"
              f" {r['overhead_s']:>10.2f} {r['overhead_cpu_s']:>8.2f}{extra}")  # fmt: skip
    print("overhead = the first one-step call at a new size - the same call again (median);")
    print("traces: the engine's count so far; ratio = shapeless / per-shape s/step (steady)")


def print_table(rows: list[dict]) -> None:
    """The per-size table: times, ratio, throughput."""
    print(
        f"{'size':>5} {'precision':>19} {'recipe s/step':>14} {'vidstyle s/step':>16} {'ratio':>6}"
        f" {'conv GFLOP/s':>13} {'step GFLOP':>11} {'recipe GFLOP/s':>15}"
        f" {'vidstyle GFLOP/s':>17}"
    )
    for r in rows:
        print(
            f"{r['size']:>5} {r['precision']:>19} {r['recipe_s_per_step']:>14.3f}"
            f" {r['vidstyle_s_per_step']:>16.3f}"
            f" {r['ratio']:>6.2f} {r['conv_gflops']:>13.1f} {r['step_gflop']:>11.1f}"
            f" {r['recipe_gflops']:>7.1f} ({r['recipe_fraction']:>4.0%})"
            f" {r['vidstyle_gflops']:>8.1f} ({r['vidstyle_fraction']:>4.0%})"
        )
    print("ratio = recipe / vidstyle (>1: vidstyle faster); (%) = share of the conv GFLOP/s")
    setups = ", ".join(
        f"{r['vidstyle_setup_s']:.2f} s at {r['size']} {r['precision']}" for r in rows
    )
    print(
        f"vidstyle s/step leaves out stylize's per-call setup (content targets, host copies;"
        f" timed with steps=0): {setups}"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print (and optionally save) the figures."""
    args = parse_args(argv)
    devices = ", ".join(d.name for d in tf.config.list_physical_devices())
    print(f"TensorFlow {tf.__version__} sees: {devices}")
    print("device:", args.device or "TensorFlow's default placement")
    source = resolve(args.weights)
    print("weights:", source.origin)
    sizes = args.new_sizes or args.sizes
    print(f"steps {args.steps} x repeats {args.repeats}, medians; sizes {sizes}", flush=True)
    device = tf.device(args.device) if args.device else contextlib.nullcontext()
    rows = []
    with device:
        if args.new_sizes:
            rows = new_sizes(source, args.new_sizes, args.steps, args.repeats, args.precisions[0])
            print_new_sizes(rows)
        else:
            for size in args.sizes:
                rows += bench_size(size, source, args.steps, args.repeats, args.precisions)
            print_table(rows)
    if args.json:
        meta = {
            "steps": args.steps,
            "repeats": args.repeats,
            "device": args.device,
            "tensorflow": tf.__version__,
            "weights": source.origin,
        }
        Path(args.json).write_text(json.dumps({**meta, "sizes": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
