"""Print sizes: single-scale against the automatic coarse-to-fine ladder, at 1024 and 2048 px.

For each size and mode this runs one ``Engine.stylize`` in its own process (so that the peak
resident memory, ``ru_maxrss``, is that mode's own) and reports its time, its peak memory, and
its losses measured at the final size with the method's default weights: content, style, total
variation and the weighted total (``Engine.losses`` of a single-level engine on the saved uint8
image). More style figures, ``style@256``, ``style@512`` and ``style@1024``, are the style loss of
the result shrunk to that longest side against the style's targets at that size: how well the
painting's large structures (what VGG19's layers see at that scale) are matched, which the
full-size style loss, dominated by fine strokes, hardly shows. The wall seconds of the
optimization come with its CPU seconds (``process_time``), which a busy machine disturbs less.

Modes: ``single`` (``scales = 1``: every step at the final size), ``tiled`` (the same with
``memory_limit`` ``--memory-limit``, so that the size is tiled; its peak memory against the
untiled estimate) and ``multi`` (``scales = 0``: the automatic ladder, from about 512 px up by
sqrt(2) per level, 1/sqrt(2) of the steps at each finer level, as the engine's planner plans it;
``--scales N`` forces N levels instead, to see a ladder below 1024 px). All get the same
``--steps`` (``--equal-cost``: single and tiled get the ladder's cost in full-size steps); the
times then show what the ladder saves, the losses what it gives. Compilation (one trace per
level size) is inside the times.

The inputs: ``samples/photos/astronaut.jpg`` (512 px) enlarged bicubically to the size (there is
no larger sample photo in the repository; the enlargement is smooth, so all fine detail is the
style's) and ``samples/swirls.jpg`` at the content's longest side (``style_scale`` 1). The
results are saved as ``<out>/<mode>_<size>.png`` to look at.

Usage: ``nice -n 10 python -m benchmarks.highres [--sizes 1024 2048] [--modes single multi]
[--optimizer lbfgs] [--steps 40] [--out highres-out] [--scales 3] [--equal-cost]``.
"""

from __future__ import annotations

import json
import resource
from pathlib import Path

from benchmarks import harness, timing
from benchmarks.table import Table
from vidstyle.config import MethodConfig
from vidstyle.engine.request import Request
from vidstyle.media.images import resize_to, save_image
from vidstyle.pipeline.image import style_for

MODES = {"single": 1, "multi": 0, "tiled": 1}  # mode -> scales
COARSE_SIDES = (256, 512, 1024)  # the style loss is also measured with the result shrunk to these
GIB = 2**30


def parse_args(argv):
    """The command line."""
    parser = harness.parser(__doc__)
    parser.add_argument("--sizes", nargs="+", default=["1024", "2048"],
                        help="longest sides (square) or WIDTHxHEIGHT")  # fmt: skip
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--optimizer", default="lbfgs", choices=["adam", "lbfgs"])
    parser.add_argument("--steps", type=int, default=40, help="steps (iterations) per image")
    parser.add_argument("--out", type=Path, default=Path("highres-out"),
                        help="the pictures go here")  # fmt: skip
    parser.add_argument("--memory-limit", type=float, default=8.0,
                        help="GiB for the tiled mode (the others are never refused)")  # fmt: skip
    parser.add_argument("--scales", type=int, default=0, help="the multi mode's levels (0: auto)")
    parser.add_argument(
        "--equal-cost",
        action="store_true",
        help="single and tiled get the ladder's cost in full-size steps",
    )
    parser.add_argument("--one", nargs=2, metavar=("MODE", "SIZE"), help="(internal)")
    return harness.parse(parser, argv)


def shape_of(size: str) -> tuple[int, int]:
    """``"2048"`` -> (2048, 2048); ``"2048x1536"`` -> (1536, 2048): height, width."""
    width, _, height = size.partition("x")
    return int(height or width), int(width)


def content_of(size: str):
    """The astronaut, cut to the size's shape at its centre and enlarged to it."""
    photo = harness.picture(harness.CONTENT)
    height, width = shape_of(size)
    side = photo.shape[0]
    crop_h, crop_w = (side, side * width // height) if width < height else (
        side * height // width, side)  # fmt: skip
    top, left = (photo.shape[0] - crop_h) // 2, (photo.shape[1] - crop_w) // 2
    return resize_to(photo[top : top + crop_h, left : left + crop_w], width, height)


def _fitted(shape, side: int) -> tuple[int, int]:
    """(width, height) of an image of ``shape`` whose longest side is ``side``."""
    height, width = shape[:2]
    scale = side / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def method_of(mode: str, args, make_engine, height: int, width: int) -> MethodConfig:
    """The mode's method (its steps: the ladder's cost in full-size steps with ``--equal-cost``)."""
    scales = args.scales if mode == "multi" else MODES[mode]
    limit = args.memory_limit if mode == "tiled" else 1000.0
    method = MethodConfig(optimizer=args.optimizer, steps=args.steps, scales=scales,
                          max_size=0, memory_limit=limit)  # fmt: skip
    if args.equal_cost and mode != "multi":
        ladder = make_engine(method.replace(scales=args.scales)).planner.plan(height, width)
        pixels = sum(w.steps * w.height * w.width for w in ladder)
        method = method.replace(steps=max(1, round(pixels / (height * width))))
    return method


def run_one(mode: str, size: str, args, make_engine) -> dict:
    """One stylization in this process: its time, peak memory and losses."""
    content = content_of(size)
    height, width = content.shape[:2]
    style = harness.picture(harness.STYLE)
    engine = make_engine(method_of(mode, args, make_engine, height, width))
    plan = engine.planner.plan(height, width)
    targets = engine.style_targets(style_for(style, content.shape, 1.0))
    with timing.Clock() as clock:
        result = engine.stylize(Request(content, targets))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    args.out.mkdir(parents=True, exist_ok=True)
    save_image(args.out / f"{mode}_{size}.png", result)
    measure = make_engine(engine.method.replace(scales=1))
    final = measure.losses(result, content, targets)
    coarse = {}  # side -> the style loss of the result shrunk to that longest side
    for side in [side for side in COARSE_SIDES if side < max(result.shape[:2])] or [512]:
        small = resize_to(result, *_fitted(result.shape, side))
        small_targets = measure.style_targets(style_for(style, small.shape, 1.0))
        small_content = resize_to(content, *small.shape[1::-1])
        coarse[side] = measure.losses(small, small_content, small_targets)["style"]
    return {"mode": mode, "size": size, "steps": [w.steps for w in plan],
            "seconds": clock.wall, "cpu_seconds": clock.cpu, "peak_gib": peak,
            "tile": plan[-1].tile, "tiles": plan[-1].tiles if plan[-1].tile else 0,
            "untiled_estimate_gib": engine.planner.needed(height, width) / GIB,
            "levels": [max(w.height, w.width) for w in plan], "content": final["content"],
            "style": final["style"], "tv": final["tv"], "total": final["total"],
            "precision": harness.precision_label("auto"),
            **{f"style@{side}": value for side, value in coarse.items()}}  # fmt: skip


def main(argv: list[str] | None = None, make_engine: harness.MakeEngine | None = None) -> None:
    """Each size and mode in a process of its own (``--one``); the table, logged."""
    args = parse_args(argv)
    if args.one:
        make_engine = make_engine or harness.Engines(args.weights)
        print(json.dumps(run_one(*args.one, args, make_engine)))
        return
    table = Table("size", "mode", "steps", ("seconds", "{:.1f}"), ("CPU s", "{:.0f}"),
                  ("peak GiB", "{:.2f}"), ("content", "{:.4g}"), ("style", "{:.4g}"),
                  "style@256", "style@512", "style@1024", ("total", "{:.4g}"), "levels",
                  "tiles", ("untiled GiB", "{:.1f}"), title=f"{args.optimizer}")  # fmt: skip
    rows = []
    for size in args.sizes:
        for mode in args.modes:
            flags = ["--optimizer", args.optimizer, "--steps", str(args.steps), "--out",
                     str(args.out), "--memory-limit", str(args.memory_limit), "--scales",
                     str(args.scales), *(["--equal-cost"] if args.equal_cost else []),
                     *(["--weights", str(args.weights)] if args.weights else [])]  # fmt: skip
            done = harness.child("highres", ["--one", mode, size, "--results", "-", *flags])
            if done.returncode:
                raise SystemExit(f"highres: {mode} at {size} failed:\n{done.stderr[-2000:]}")
            r = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(r)
            print(table.add(size, mode, sum(r["steps"]), r["seconds"], r["cpu_seconds"],
                            r["peak_gib"], r["content"], r["style"], r.get("style@256"),
                            r.get("style@512"), r.get("style@1024"), r["total"],
                            "/".join(map(str, r["levels"])),
                            f"{r['tiles']} of {r['tile']}" if r["tile"] else "1",
                            r["untiled_estimate_gib"]), flush=True)  # fmt: skip
    harness.finish(args, "highres", rows[0]["precision"], [table], rows)


if __name__ == "__main__":
    main()
