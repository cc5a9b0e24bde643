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
untiled estimate) and ``multi`` (``scales = 0``:
the automatic ladder, from about 512 px up by sqrt(2) per level, 1/sqrt(2) of the steps at each
finer level; see :mod:`vidstyle.engine.schedule`). Both get the same ``--steps``; the times then
show what the ladder saves, the losses what it gives. Compilation (one trace per level size) is
inside the times.

The inputs: ``samples/photos/astronaut.jpg`` (512 px) enlarged bicubically to the size (there is
no larger sample photo in the repository; the enlargement is smooth, so all fine detail is the
style's) and ``samples/swirls.jpg`` at the content's longest side (``style_scale`` 1). The
results are saved as ``<out>/<mode>_<size>.png`` to look at.

Usage: ``PYTHONPATH=. nice -n 10 python benchmarks/highres.py [--sizes 1024 2048]
[--modes single multi] [--optimizer lbfgs] [--steps 40] [--out highres-out] [--json out.json]
[--auto-above 512]`` (``--auto-above`` lowers the ladder's threshold, to see it at 1024 px).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTENT_FILE = ROOT / "samples" / "photos" / "astronaut.jpg"
STYLE_FILE = ROOT / "samples" / "swirls.jpg"
MODES = {"single": 1, "multi": 0, "tiled": 1}  # mode -> scales
COARSE_SIDES = (256, 512, 1024)  # the style loss is also measured with the result shrunk to these


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1024", "2048"],
                        help="longest sides (square) or WIDTHxHEIGHT")  # fmt: skip
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--optimizer", default="lbfgs", choices=["adam", "lbfgs"])
    parser.add_argument("--steps", type=int, default=40, help="steps (iterations) per image")
    parser.add_argument("--out", type=Path, default=Path("highres-out"), help="pictures here")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--memory-limit", type=float, default=8.0,
                        help="GiB for the tiled mode (the others are never refused)")  # fmt: skip
    parser.add_argument(
        "--auto-above",
        type=int,
        default=None,
        help="run the ladder above this size instead of 1024 (to see it at 1024)",
    )
    parser.add_argument(
        "--equal-cost",
        action="store_true",
        help="give single and tiled the multi-scale ladder's cost in full-size steps",
    )
    parser.add_argument("--one", nargs=2, metavar=("MODE", "SIZE"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def shape_of(size: str) -> tuple[int, int]:
    """``"2048"`` -> (2048, 2048); ``"2048x1536"`` -> (1536, 2048): height, width."""
    width, _, height = size.partition("x")
    return int(height or width), int(width)


def content_of(size: str):
    """The astronaut, cut to the size's shape at its centre and enlarged bicubically to it."""
    from vidstyle.media.images import load_image, resize_to

    photo = load_image(CONTENT_FILE).rgb
    height, width = shape_of(size)
    side = photo.shape[0]
    crop_h, crop_w = (side, side * width // height) if width < height else (
        side * height // width, side)  # fmt: skip
    top, left = (photo.shape[0] - crop_h) // 2, (photo.shape[1] - crop_w) // 2
    return resize_to(photo[top : top + crop_h, left : left + crop_w], width, height)


def equal_cost_steps(height: int, width: int, steps: int) -> int:
    """The steps at the full size that cost what the automatic ladder's ``steps`` cost."""
    from vidstyle.engine.ladder import levels

    pixels = sum(lv.steps * lv.height * lv.width for lv in levels(height, width, steps, 0))
    return max(1, round(pixels / (height * width)))


def _fitted(shape, side: int) -> tuple[int, int]:
    """(width, height) of an image of ``shape`` whose longest side is ``side``."""
    height, width = shape[:2]
    scale = side / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def run_one(mode: str, size: str, args: argparse.Namespace) -> dict:
    """One stylization in this process: its time, peak memory and losses."""
    from vidstyle import load_engine
    from vidstyle.config import MethodConfig
    from vidstyle.engine import memory, schedule, tiling
    from vidstyle.engine.schedule import levels

    if args.auto_above is not None:
        schedule.AUTO_ABOVE = args.auto_above
    from vidstyle.media.images import load_image, resize_to, save_image
    from vidstyle.pipeline.image import style_for

    content = content_of(size)
    style = load_image(STYLE_FILE).rgb
    limit = args.memory_limit if mode == "tiled" else 1000.0
    steps = args.steps
    if args.equal_cost and mode != "multi":
        steps = equal_cost_steps(*content.shape[:2], args.steps)
    method = MethodConfig(optimizer=args.optimizer, steps=steps, scales=MODES[mode],
                          max_size=0, memory_limit=limit)  # fmt: skip
    engine = load_engine(method)
    tile = engine.planner.tile(*content.shape[:2])
    tiles = 0 if tile is None else len(tiling.plan_tiles(*content.shape[:2], tile,
                                                         engine.planner.margin))  # fmt: skip
    targets = engine.style_targets(style_for(style, content.shape, 1.0))
    plan = levels(*content.shape[:2], steps, method.scales)
    started, cpu = time.perf_counter(), time.process_time()
    result = engine.stylize(content, targets)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    args.out.mkdir(parents=True, exist_ok=True)
    save_image(args.out / f"{mode}_{size}.png", result)
    measure = load_engine(method.replace(scales=1))
    final = measure.losses(result, content, targets)
    coarse = {}  # side -> the style loss of the result shrunk to that longest side
    for side in [side for side in COARSE_SIDES if side < max(result.shape[:2])] or [512]:
        small = resize_to(result, *_fitted(result.shape, side))
        small_targets = measure.style_targets(style_for(style, small.shape, 1.0))
        small_content = resize_to(content, *small.shape[1::-1])
        coarse[side] = measure.losses(small, small_content, small_targets)["style"]
    return {"mode": mode, "size": size, "steps": [lv.steps for lv in plan],
            "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "peak_gib": round(peak, 2), "tile": tile, "tiles": tiles,
            "untiled_estimate_gib": round(memory.needed_bytes(*content.shape[:2], args.optimizer)
                                          / memory.GIB, 1),
            "levels": [max(lv.height, lv.width) for lv in plan],
            "content": final["content"], "style": final["style"], "tv": final["tv"],
            "total": final["total"], "style@512": coarse.get(512),
            **{f"style@{side}": value for side, value in coarse.items()}}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Each (size, mode) in its own process; a table of the figures."""
    args = parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args)))
        return
    rows = []
    for size in args.sizes:
        for mode in args.modes:
            command = [sys.executable, __file__, "--one", mode, str(size),
                       "--optimizer", args.optimizer, "--steps", str(args.steps),
                       "--out", str(args.out), *(["--equal-cost"] if args.equal_cost else []),
                       "--memory-limit", str(args.memory_limit)]  # fmt: skip
            if args.auto_above is not None:
                command += ["--auto-above", str(args.auto_above)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(_row(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def _row(r: dict) -> str:
    coarse = "  ".join(f"{k} {v:.4g}" for k, v in r.items() if k.startswith("style@") and v)
    return (f"{r['size']:>9} {r['mode']:<6} steps {r['steps']} {r['seconds']:>8.1f} s "
            f"(cpu {r.get('cpu_seconds', 0):.0f} s) {r['peak_gib']:>6.2f} GiB  "
            f"content {r['content']:.4g}  style {r['style']:.4g}  {coarse}"
            f"  total {r['total']:.4g}  levels {r['levels']}  tiles {r['tiles']} of {r['tile']}"
            f"  (untiled estimate {r['untiled_estimate_gib']} GiB)")  # fmt: skip


if __name__ == "__main__":
    main()
