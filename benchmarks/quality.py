"""Time to quality: vidstyle's configurations against the TensorFlow tutorial's 1000 Adam steps.

Quality is the method's own total loss (content + style + total variation, with the default
weights 1e4 / 1e-2 / 30) of the final image at the output size. Every result, the recipe's and
each candidate's, is measured the same way: ``Engine.losses(result, content, style)["total"]`` of
a vidstyle engine with the default method, on the uint8 image (what is saved).

The recipe (:mod:`benchmarks.recipe`: Keras Adam 0.02 / 0.99 / 0.1 over a ``tf.Variable``, one
``@tf.function`` call per step) runs ``--recipe-steps`` steps from the content
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

Usage: ``python -m benchmarks.quality [--size 256] [--recipe-steps 1000]
[--candidates adam lbfgs:steps=250 "lbfgs:steps=200,scales=2"] [--precisions auto bfloat16]``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from benchmarks import harness, timing
from benchmarks.recipe import Recipe
from benchmarks.table import Table
from vidstyle.config import MethodConfig
from vidstyle.engine.precision import CHOICES as PRECISIONS
from vidstyle.engine.request import Request
from vidstyle.pipeline.image import initial_image, style_for

DEFAULT_CANDIDATES = ["lbfgs:steps=250", "lbfgs:steps=200,scales=2", "lbfgs:steps=300,scales=2",
                      "lbfgs:steps=500,scales=2,tol=1e-3", "adam:steps=300,scales=2"]  # fmt: skip
TIME_SHARE = 0.25  # the goal: at most this share of the recipe's time


def parse_args(argv):
    """The command line."""
    parser = harness.parser(__doc__)
    parser.add_argument("--size", type=int, default=256, help="longest side of the content")
    parser.add_argument("--recipe-steps", type=int, default=1000, help="the recipe's Adam steps")
    parser.add_argument("--checkpoint-every", type=int, default=100,
                        help="the recipe's loss every N steps (0: at the end)")  # fmt: skip
    parser.add_argument("--candidates", nargs="+", default=DEFAULT_CANDIDATES,
                        help="vidstyle methods as optimizer:key=value,...")  # fmt: skip
    parser.add_argument("--precisions", nargs="+", default=["auto"], choices=PRECISIONS,
                        help="run every candidate in each of these precisions")  # fmt: skip
    args = harness.parse(parser, argv)
    if args.recipe_steps < 1 or args.checkpoint_every < 0:
        parser.error("--recipe-steps must be at least 1 and --checkpoint-every 0 or more")
    try:
        args.methods = [candidate(text, args.size, p) for text in args.candidates
                        for p in args.precisions]  # fmt: skip
    except ValueError as error:
        parser.error(str(error))
    return args


def candidate(text: str, size: int, precision: str = "auto") -> tuple[MethodConfig, str]:
    """A candidate ``optimizer:key=value,...`` as a method at the benchmark's size.

    Args:
        text: e.g. ``lbfgs:steps=200,scales=2,tol=1e-3``; the optimizer alone is allowed.
        size: the working size (``max_size``), unless the text sets it.
        precision: the precision asked for, unless the text sets it.

    Returns:
        The method (defaults, then the size and precision, then the text's values), and its
        precision as shown (``float32 (auto)``).

    Raises:
        ValueError: for an unknown field or a bad value.
    """
    optimizer, _, rest = text.partition(":")
    changes = {"optimizer": optimizer.strip(), "max_size": size, "precision": precision}
    changes |= harness.fields(rest, MethodConfig())
    try:
        method = MethodConfig().replace(**changes)
    except Exception as error:  # UsageError from MethodConfig's checks
        raise ValueError(f"candidate {text!r}: {error}") from error
    return method, harness.precision_label(changes["precision"])


def label(method: MethodConfig) -> str:
    """A candidate's fields that differ from the defaults, as ``optimizer:key=value,...``."""
    defaults = MethodConfig(max_size=method.max_size)
    changed = [f"{f.name}={getattr(method, f.name)}" for f in dataclasses.fields(method)
               if f.name not in ("optimizer", "precision")
               and getattr(method, f.name) != getattr(defaults, f.name)]  # fmt: skip
    return method.optimizer + (":" + ",".join(changed) if changed else "")


class Measure:
    """The common yardstick: the default method's total loss of a uint8 result, in float32."""

    def __init__(self, make_engine, content: np.ndarray, style: np.ndarray):
        self.engine = make_engine(MethodConfig(precision="float32"))
        self.content = content
        self.targets = self.engine.style_targets(style)

    def __call__(self, image: np.ndarray) -> float:
        return self.engine.losses(image, self.content, self.targets)["total"]


def run_recipe(recipe: Recipe, steps: int, every: int, measure: Measure) -> dict:
    """The recipe, warmed up, then timed over ``steps`` steps, the clock paused at each
    checkpoint for its loss.

    Returns:
        ``seconds``, ``loss`` and ``curve`` (``[steps, seconds, loss]`` at each checkpoint).
    """
    recipe.warm_up()
    seconds, curve = 0.0, []
    for done in range(1, steps + 1):
        with timing.Clock() as clock:
            recipe.step(recipe.image)
            checkpoint = (every and done % every == 0) or done == steps
            result = recipe.result() if checkpoint else None  # waits for the step
        seconds += clock.wall
        if checkpoint:
            curve.append([done, seconds, measure(result)])
            print(f"  recipe step {done}: {seconds:.1f} s, loss {curve[-1][2]:.5g}", flush=True)
    return {"seconds": seconds, "loss": curve[-1][2], "curve": curve}


def run_candidate(make_engine, method: MethodConfig, content, style, measure: Measure) -> dict:
    """One vidstyle method: warmed up (one step per level), then one timed ``stylize`` call.

    Returns:
        ``config``, ``seconds``, ``loss``, ``steps`` and ``steps_run`` (the last progress
        report: fewer than ``steps`` after an early stop).
    """
    engine = make_engine(method)
    request = Request(content, engine.style_targets(style), start=initial_image(method, content))
    engine.stylize(request.replace(steps=method.scales))  # traces every level
    reports: list[int] = [0]
    with timing.Clock() as clock:
        result = engine.stylize(request.replace(on_step=lambda s, _: reports.append(s)))
    return {"config": label(method), "seconds": clock.wall, "loss": measure(result),
            "steps_run": reports[-1], "steps": method.steps}  # fmt: skip


def main(argv: list[str] | None = None, make_engine: harness.Engines | None = None) -> None:
    """Run the recipe and every candidate, print the table and log it."""
    args = parse_args(argv)
    make_engine = make_engine or harness.Engines(args.weights)
    content = harness.picture(harness.CONTENT, args.size)
    style = style_for(harness.picture(harness.STYLE), content.shape, 1.0)
    measure = Measure(make_engine, content, style)
    print(f"content {content.shape[1]}x{content.shape[0]}; start loss {measure(content):.5g}")
    recipe = Recipe(make_engine.vgg(), content, style)
    ref = run_recipe(recipe, args.recipe_steps, args.checkpoint_every, measure)
    table = Table("config", "precision", "steps run", ("seconds", "{:.1f}"),
                  ("final loss", "{:.5g}"), ("loss/recipe", "{:.3f}"), ("time/recipe", "{:.3f}"),
                  "meets", title=f"{content.shape[1]}x{content.shape[0]} px")  # fmt: skip
    table.add(
        "recipe (tutorial)", "float32", args.recipe_steps, ref["seconds"], ref["loss"], 1, 1, ""
    )
    rows = []
    for method, shown in args.methods:
        row = run_candidate(make_engine, method, content, style, measure) | {"precision": shown}
        row |= {
            "loss_ratio": row["loss"] / ref["loss"],
            "time_ratio": row["seconds"] / ref["seconds"],
        }
        row["meets"] = row["loss"] <= ref["loss"] and row["time_ratio"] <= TIME_SHARE
        print(table.add(row["config"], shown, row["steps_run"], row["seconds"], row["loss"],
                        row["loss_ratio"], row["time_ratio"], "yes" if row["meets"] else "no"),
              flush=True)  # fmt: skip
        rows.append(row)
    notes = [f"meets: loss <= the recipe's and time <= {TIME_SHARE:g} x the recipe's; compile "
             "time excluded for all; loss: the default method's total of the uint8 result, "
             "scored in float32"]  # fmt: skip
    precision = "; ".join(dict.fromkeys(r["precision"] for r in rows)) + "; recipe float32"
    harness.finish(args, "quality", precision, [table], {"recipe": ref, "candidates": rows}, notes)


if __name__ == "__main__":
    main()
