"""Time to quality: vidstyle's configurations against the TensorFlow tutorial's 1000 Adam steps.

Quality is the method's own total loss (content + style + total variation, with the default
weights 1e4 / 1e-2 / 30) of the final image at the output size. Every result, the recipe's and
each candidate's, is measured the same way: ``Engine.losses(result, content, style)["total"]`` of
a vidstyle engine with the default method, on the uint8 image (what is saved).

The recipe (``benchmarks/step.py``'s ``make_recipe``: Keras Adam 0.02 / 0.99 / 0.1 over a
``tf.Variable``, one ``@tf.function`` call per step) runs ``--recipe-steps`` steps from the content
image; its time is those calls and the final sync. Every ``--checkpoint-every`` steps the clock is
paused and its loss measured, giving its loss-against-time curve.

Each candidate is a vidstyle method given as ``optimizer:key=value,...`` (fields of
:class:`vidstyle.config.MethodConfig`, e.g. ``lbfgs:steps=200,scales=2,tol=1e-3``; a bare
``adam`` is vidstyle's default method). Its time is one ``Engine.stylize`` call, including the
call's own setup (content targets per level, host copies); the style targets are computed once
before, as the pipelines do.

Compilation is not timed for anyone: the recipe's step is traced and run once first (then the
image and Adam's state are reset), and each candidate's engine first runs one step per level at
the same size, which traces every graph the timed call uses.

Precision (``--precisions``, ``auto`` by default): every candidate runs once per precision given
(``auto``, ``float32``, ``bfloat16``, ``float16``; a candidate's own ``precision=`` wins), shown
in its own column (``auto`` with what it resolves to on this machine). The yardstick's engine is
float32 whatever the candidates run in, so every loss is scored in float32.

A candidate meets the goal when its loss is at most the recipe's and its time at most a quarter
of the recipe's. Everything runs in one process, one after the other (recipe first), so a change
in the machine's load between them shows in the times: run it on an otherwise idle machine.

The inputs are ``samples/photos/astronaut.jpg`` fitted to ``--size`` and ``samples/swirls.jpg``
with its longest side resized to the content's (``style_for`` with style scale 1, as the image
pipeline does).

Usage: ``PYTHONPATH=. python benchmarks/quality.py [--size 256] [--recipe-steps 1000]
[--candidates adam lbfgs:steps=250 "lbfgs:steps=200,scales=2"] [--precisions auto bfloat16]
[--weights FILE] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from step import make_recipe

from vidstyle.config import MethodConfig
from vidstyle.engine.model import FeatureExtractor, keras_vgg19
from vidstyle.engine.optimize import Engine, compute_dtype, to_uint8
from vidstyle.engine.precision import CHOICES as precision_choices
from vidstyle.media.images import fit_longest, load_image
from vidstyle.pipeline.image import initial_image, style_for
from vidstyle.weights import resolve

ROOT = Path(__file__).resolve().parent.parent
CONTENT_FILE = ROOT / "samples" / "photos" / "astronaut.jpg"
STYLE_FILE = ROOT / "samples" / "swirls.jpg"
DEFAULT_CANDIDATES = [
    "lbfgs:steps=250",
    "lbfgs:steps=200,scales=2",
    "lbfgs:steps=300,scales=2",
    "lbfgs:steps=500,scales=2,tol=1e-3",
    "adam:steps=300,scales=2",
]
TIME_SHARE = 0.25  # the goal: at most this share of the recipe's time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="longest side of the content")
    parser.add_argument("--recipe-steps", type=int, default=1000, help="the recipe's Adam steps")
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=100,
        help="measure the recipe's loss every N steps, clock paused (0: only at the end)",
    )
    parser.add_argument(
        "--candidates",
        nargs="+",
        default=DEFAULT_CANDIDATES,
        help="vidstyle methods as optimizer:key=value,... (e.g. lbfgs:steps=200,scales=2)",
    )
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=["auto"],
        choices=precision_choices,
        help="run every candidate in each of these precisions",
    )
    parser.add_argument("--weights", default=None, help="VGG19 weights file (.h5 or .bin)")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    args = parser.parse_args(argv)
    if args.recipe_steps < 1 or args.checkpoint_every < 0:
        parser.error("--recipe-steps must be at least 1 and --checkpoint-every 0 or more")
    try:
        args.methods = [
            parse_candidate(text, args.size, precision)
            for text in args.candidates
            for precision in args.precisions
        ]
    except ValueError as error:
        parser.error(str(error))
    return args


def parse_candidate(text: str, size: int, precision: str = "auto") -> tuple[MethodConfig, str]:
    """A candidate ``optimizer:key=value,...`` as a MethodConfig at the benchmark's size.

    Args:
        text: e.g. ``lbfgs:steps=200,scales=2,tol=1e-3``; the optimizer alone is allowed.
        size: the working size (``max_size``), unless the text sets it.
        precision: the precision asked for (``auto`` resolved), unless the text sets it.

    Returns:
        The method: defaults, then the size and precision, then the text's values; and the
        precision as shown (``auto (float32)`` when auto chose float32).

    Raises:
        ValueError: for an unknown field, a field that is not a number or word, or a bad value.
    """
    optimizer, _, rest = text.partition(":")
    defaults = MethodConfig()
    changes: dict = {"optimizer": optimizer.strip(), "max_size": size, "precision": precision}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, _, value = item.partition("=")
        key = key.strip()
        kind = type(getattr(defaults, key, None))
        if kind not in (int, float, str):
            raise ValueError(f"candidate {text!r}: {key!r} is not a number or word field")
        changes[key] = kind(float(value)) if kind is int else kind(value)
    try:
        method = defaults.replace(**changes)
    except Exception as error:  # UsageError from MethodConfig's checks
        raise ValueError(f"candidate {text!r}: {error}") from error
    asked = changes["precision"]
    return method, asked if asked == method.precision else f"{asked} ({method.precision})"


def label(method: MethodConfig) -> str:
    """A candidate's fields that differ from the defaults, as ``optimizer:key=value,...``."""
    defaults = MethodConfig(max_size=method.max_size)
    changed = [
        f"{f.name}={getattr(method, f.name)}"
        for f in dataclasses.fields(method)
        if f.name not in ("optimizer", "precision")
        and getattr(method, f.name) != getattr(defaults, f.name)
    ]
    return method.optimizer + (":" + ",".join(changed) if changed else "")


def load_inputs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The content fitted to ``size`` and the style at the content's longest side (uint8)."""
    content = fit_longest(load_image(CONTENT_FILE).rgb, size)
    style = style_for(load_image(STYLE_FILE).rgb, content.shape, 1.0)
    return content, style


# ------------------------------------------------------------------------------- measuring


class Measure:
    """The common yardstick: the default method's total loss of a uint8 result, in float32
    (whatever ``auto`` means on this machine)."""

    def __init__(self, vgg: keras.Model, content: np.ndarray, style: np.ndarray):
        method = MethodConfig(precision="float32")
        self.engine = Engine(method, FeatureExtractor(vgg, method.layers, "float32"))
        self.content = content
        self.targets = self.engine.style_targets(style)

    def __call__(self, image: np.ndarray) -> float:
        return self.engine.losses(image, self.content, self.targets)["total"]


# ---------------------------------------------------------------------------------- recipe


def recipe_optimizer(train_step) -> keras.optimizers.Optimizer:
    """The Keras optimizer inside ``make_recipe``'s step (it is not returned, so look it up)."""
    cells = train_step.python_function.__closure__ or ()
    for cell in cells:
        if isinstance(cell.cell_contents, keras.optimizers.Optimizer):
            return cell.cell_contents
    raise RuntimeError("make_recipe's train_step no longer closes over its optimizer")


def reset_recipe(recipe) -> None:
    """Back to the start: the image to the content, Adam's step count and moments to zero."""
    train_step, image, content_image = recipe
    image.assign(content_image)
    for variable in recipe_optimizer(train_step).variables:
        if not variable.path.endswith("learning_rate"):
            variable.assign(tf.zeros_like(variable))


def run_recipe(vgg, content, style, steps: int, every: int, measure: Measure) -> dict:
    """The tutorial's recipe, warmed up, then timed over ``steps`` steps.

    Returns:
        ``seconds``, ``loss`` and ``curve`` (``[steps, seconds, loss]`` at each checkpoint).
    """
    recipe = make_recipe(vgg, content, style)
    train_step, image, _ = recipe
    train_step(image)  # traces and compiles
    image.numpy()
    reset_recipe(recipe)
    seconds, curve = 0.0, []
    for done in range(1, steps + 1):
        start = time.perf_counter()
        train_step(image)
        if not (every and done % every == 0) and done != steps:
            seconds += time.perf_counter() - start
            continue
        result = to_uint8(image.read_value())[0]  # waits for the step
        seconds += time.perf_counter() - start
        curve.append([done, seconds, measure(result)])
        print(f"  recipe step {done}: {seconds:.1f} s, loss {curve[-1][2]:.5g}", flush=True)
    return {"seconds": seconds, "loss": curve[-1][2], "curve": curve}


# ------------------------------------------------------------------------------ candidates


def run_candidate(vgg, candidate: tuple[MethodConfig, str], content, style,
                  measure: Measure) -> dict:  # fmt: skip
    """One vidstyle method: warmed up (one step per level), then one timed ``stylize`` call.

    Returns:
        ``config``, ``precision``, ``seconds``, ``loss`` and ``steps_run`` (the last progress
        report: fewer than ``steps`` after an early stop).
    """
    method, shown = candidate
    extractor = FeatureExtractor(vgg, method.layers, compute_dtype(method.precision))
    engine = Engine(method, extractor)
    targets = engine.style_targets(style)
    init = initial_image(method, content)
    engine.stylize(content, targets, init=init, steps=method.scales)  # traces every level
    reports: list[int] = [0]
    start = time.perf_counter()
    result = engine.stylize(content, targets, init=init, on_step=lambda s, _: reports.append(s))
    seconds = time.perf_counter() - start
    return {"config": label(method), "precision": shown, "seconds": seconds,
            "loss": measure(result), "steps_run": reports[-1], "steps": method.steps}  # fmt: skip


# ---------------------------------------------------------------------------------- report


def add_ratios(rows: list[dict], recipe: dict) -> None:
    """Each row's loss and time over the recipe's, and whether it meets the goal."""
    for row in rows:
        row["loss_ratio"] = row["loss"] / recipe["loss"]
        row["time_ratio"] = row["seconds"] / recipe["seconds"]
        row["meets"] = row["loss"] <= recipe["loss"] and row["time_ratio"] <= TIME_SHARE


def print_table(recipe: dict, rows: list[dict], recipe_steps: int) -> None:
    """The recipe's line, then one line per candidate."""
    width = max([len("recipe (tutorial)")] + [len(r["config"]) for r in rows])
    print(f"\n{'config':<{width}} {'precision':>16} {'steps run':>9} {'seconds':>8}"
          f" {'final loss':>11} {'loss/recipe':>11} {'time/recipe':>11}  meets")  # fmt: skip
    print(f"{'recipe (tutorial)':<{width}} {'float32':>16} {recipe_steps:>9}"
          f" {recipe['seconds']:>8.1f} {recipe['loss']:>11.5g} {1:>11.3f} {1:>11.3f}")  # fmt: skip
    for r in rows:
        mark = "yes" if r["meets"] else "no"
        print(f"{r['config']:<{width}} {r['precision']:>16} {r['steps_run']:>9}"
              f" {r['seconds']:>8.1f} {r['loss']:>11.5g} {r['loss_ratio']:>11.3f}"
              f" {r['time_ratio']:>11.3f}  {mark}")  # fmt: skip
    print(f"meets: loss <= recipe's and time <= {TIME_SHARE:g} x recipe's. Compile time is")
    print("excluded for all (each warmed up at the same size first); candidate times include")
    print("stylize's own setup. Loss: the default method's total of the saved uint8 image,")
    print("scored in float32 whatever the candidate's precision.")


def main(argv: list[str] | None = None) -> None:
    """Run the recipe and every candidate, print the table (and optionally save JSON)."""
    args = parse_args(argv)
    source = resolve(args.weights)
    print(f"TensorFlow {tf.__version__}; weights: {source.origin}", flush=True)
    content, style = load_inputs(args.size)
    print(f"content {content.shape[1]}x{content.shape[0]}, style {style.shape[1]}x{style.shape[0]}")
    vgg = keras_vgg19(source)
    measure = Measure(vgg, content, style)
    print(f"start (the content) loss: {measure(content):.5g}", flush=True)
    recipe = run_recipe(vgg, content, style, args.recipe_steps, args.checkpoint_every, measure)
    rows = []
    for method in args.methods:
        rows.append(run_candidate(vgg, method, content, style, measure))
        print(f"  {rows[-1]['config']} {rows[-1]['precision']}: {rows[-1]['seconds']:.1f} s, "
              f"loss {rows[-1]['loss']:.5g}", flush=True)  # fmt: skip
    add_ratios(rows, recipe)
    print_table(recipe, rows, args.recipe_steps)
    if args.json:
        meta = {"size": args.size, "recipe_steps": args.recipe_steps,
                "tensorflow": tf.__version__, "weights": source.origin}  # fmt: skip
        out = {**meta, "recipe": recipe, "candidates": rows}
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
