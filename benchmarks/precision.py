"""bfloat16 (and float16) against float32: quality scored in float32, and seconds per step.

Issue 18 (item 2): "bfloat16 is within 3% of float32's final loss (scored in float32), with a style
drop within 5%, on two image pairs, and the temporal error within 10% on a real clip, measured by
the independent yardstick". This runs, in one process on one VGG19:

- Stills: for each content image (``--contents``, default ``tubingen.jpg`` and ``shipwreck.jpg``
  of ``../shared/images``, else the repository's ``samples/photos``) with the style
  (``--style``, default ``starry_night.jpg``, else ``samples/swirls.jpg``), ``--steps`` Adam
  steps of the default method at ``--size`` in each precision (``--precisions``). Every result
  is scored by one float32 engine: the total loss, and the style drop (the content's style loss
  over the result's: how far the style loss came down; higher is more stylized). Columns: each
  precision's figures and their ratios to float32's. Seconds per step: the timed call's seconds
  over its steps, after a one-step call that traced the function (left out).
- Clip (``--clip``, default ``../shared/clips/cockatoo.mp4``; ``--frames 0`` skips it): the video
  pipeline's defaults except the steps (``--steps-first``, ``--steps-next``) and the size
  (``--clip-size``), in each precision; the temporal error by :mod:`yardstick` (Farneback flow,
  its own mask, bilinear warp: a flow the optimization does not use), and the clip's style drop
  scored in float32 (the saved frames against their content frames).

The goals (issue 18): total loss / float32 at most 1.03, style drop / float32 at least 0.95,
yardstick temporal error / float32 at most 1.10.

On a CPU without bfloat16 hardware (no ``amx_bf16`` / ``avx512_bf16``, such as AMD EPYC before Zen
4) bfloat16 is emulated: the network's forward pass runs about as fast as float32 (oneDNN), but
its input gradient (``Conv2DBackpropInput`` in bfloat16) many times slower, so a step is slower
than float32's; ``auto`` picks float32 there.

Usage: ``PYTHONPATH=. python benchmarks/precision.py [--size 64] [--steps 50] [--precisions
float32 bfloat16] [--clip FILE] [--clip-size 48] [--frames 3] [--steps-first 40]
[--steps-next 20] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import tensorflow as tf

from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.engine.model import FeatureExtractor, keras_vgg19
from vidstyle.engine.optimize import Engine, compute_dtype
from vidstyle.media.images import fit_longest, load_image
from vidstyle.pipeline.image import style_for
from vidstyle.pipeline.video import stylize_clip
from vidstyle.weights import resolve

sys.path.insert(0, str(Path(__file__).resolve().parent))
import yardstick  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
if not (SHARED / "images").is_dir():  # a worktree beside the main checkout
    SHARED = Path("/work/shared")
GOALS = {"loss": 1.03, "drop": 0.95, "temporal": 1.10}


def _default(shared: Path, sample: Path) -> Path:
    return shared if shared.is_file() else sample


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    images = SHARED / "images"
    contents = [_default(images / "tubingen.jpg", ROOT / "samples/photos/astronaut.jpg"),
                _default(images / "shipwreck.jpg", ROOT / "samples/photos/coffee.jpg")]  # fmt: skip
    parser.add_argument("--contents", type=Path, nargs="+", default=contents)
    parser.add_argument(
        "--style",
        type=Path,
        default=_default(images / "starry_night.jpg", ROOT / "samples/swirls.jpg"),
    )
    parser.add_argument("--size", type=int, default=64, help="longest side of the stills")
    parser.add_argument("--steps", type=int, default=50, help="Adam steps per still")
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"],
                        choices=["float32", "bfloat16", "float16"])  # fmt: skip
    parser.add_argument("--clip", type=Path, default=SHARED / "clips" / "cockatoo.mp4")
    parser.add_argument("--clip-size", type=int, default=48)
    parser.add_argument("--frames", type=int, default=3, help="frames of the clip (0: no clip)")
    parser.add_argument("--steps-first", type=int, default=40)
    parser.add_argument("--steps-next", type=int, default=20)
    parser.add_argument("--weights", default=None, help="VGG19 weights file (.h5 or .bin)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if "float32" not in args.precisions:
        args.precisions.insert(0, "float32")  # the reference
    return args


class Bench:
    """One VGG19; an engine per precision at a size, and the float32 scorer."""

    def __init__(self, source):
        self.vgg = keras_vgg19(source)
        self.extractors: dict[str, FeatureExtractor] = {}

    def engine(self, precision: str, size: int) -> Engine:
        method = MethodConfig(precision=precision, max_size=size)
        if precision not in self.extractors:
            dtype = compute_dtype(precision)
            self.extractors[precision] = FeatureExtractor(self.vgg, method.layers, dtype)
        return Engine(method, self.extractors[precision])


def still(bench: Bench, content_file: Path, style_file: Path, args) -> list[dict]:
    """One content image in every precision; rows with float32-scored figures."""
    content = fit_longest(load_image(content_file).rgb, args.size)
    style = style_for(load_image(style_file).rgb, content.shape, 1.0)
    scorer = bench.engine("float32", args.size)
    targets = scorer.style_targets(style)
    start = scorer.losses(content, content, targets)
    rows = []
    for precision in args.precisions:
        engine = bench.engine(precision, args.size)
        own = engine.style_targets(style)
        engine.stylize(content, own, steps=1)  # traces (left out of the time)
        clock = time.perf_counter()
        out = engine.stylize(content, own, steps=args.steps)
        seconds = time.perf_counter() - clock
        scored = scorer.losses(out, content, targets)
        drop = start["style"] / scored["style"]
        rows.append({"content": content_file.name, "shape": list(content.shape[:2]),
                     "precision": precision, "s_per_step": seconds / args.steps,
                     "loss": scored["total"], "drop": drop})  # fmt: skip
        print(f"  {content_file.name} {precision}: {seconds / args.steps:.2f} s/step, loss "
              f"{scored['total']:.4g}, style drop {rows[-1]['drop']:.1f}", flush=True)  # fmt: skip
    return with_ratios(rows, ("loss", "drop", "s_per_step"))


def clip(bench: Bench, style_file: Path, args) -> list[dict]:
    """The clip's first frames in every precision: yardstick temporal error, style drop scored
    in float32, seconds."""
    style = load_image(style_file).rgb
    rows = []
    for precision in args.precisions:
        engine = bench.engine(precision, args.clip_size)
        config = VideoConfig(max_frames=args.frames, steps_first=args.steps_first,
                             steps_next=args.steps_next)  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            frames_dir = Path(tmp) / "frames"
            config = dataclasses.replace(config, frames_dir=frames_dir)
            clock = time.perf_counter()
            stylize_clip(engine, args.clip, style, Path(tmp) / "out.mp4", config)
            seconds = time.perf_counter() - clock
            results = [load_image(p).rgb for p in sorted(frames_dir.glob("*.png"))]
        height, width = results[0].shape[:2]
        contents = yardstick.content_frames(args.clip, (width, height), len(results))
        measured = yardstick.measure(results, contents)
        rows.append({"clip": args.clip.name, "shape": [height, width], "frames": len(results),
                     "precision": precision, "seconds": seconds, "temporal": measured["mse"],
                     "content_temporal": measured["content_mse"],
                     "drop": clip_drop(bench, results, contents, style)})  # fmt: skip
        print(f"  {args.clip.name} {precision}: {seconds:.0f} s, yardstick mse "
              f"{measured['mse']:.1f}, style drop {rows[-1]['drop']:.1f}", flush=True)  # fmt: skip
    return with_ratios(rows, ("temporal", "drop", "seconds"))


def clip_drop(bench: Bench, results, contents, style) -> float:
    """The clip's style drop scored in float32: the content frames' style losses over the
    results', summed over the frames."""
    scorer = bench.engine("float32", max(results[0].shape[:2]))
    targets = scorer.style_targets(style_for(style, results[0].shape, 1.0))
    own = sum(scorer.losses(c, c, targets)["style"] for c in contents)
    return own / sum(scorer.losses(r, c, targets)["style"] for r, c in zip(results, contents))


def with_ratios(rows: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Each row's figures over the float32 row's (``<key>_ratio``)."""
    reference = next(r for r in rows if r["precision"] == "float32")
    for row in rows:
        row |= {f"{key}_ratio": row[key] / reference[key] for key in keys}
    return rows


def verdict(row: dict, goals: dict[str, str]) -> str:
    """Which goals a row meets (``<key>_ratio`` against :data:`GOALS`)."""
    marks = []
    for key, sign in goals.items():
        ratio, goal = row[f"{key}_ratio"], GOALS[key]
        marks.append("yes" if (ratio <= goal if sign == "<=" else ratio >= goal) else "NO")
    return " ".join(marks)


def print_tables(stills: list[dict], clips: list[dict]) -> None:
    """The stills' table, then the clip's."""
    print(
        f"\n{'content':<15} {'px':>7} {'precision':>9} {'s/step':>7} {'x f32':>6} "
        f"{'loss (f32)':>11} {'/f32':>6} {'drop':>6} {'/f32':>6}  loss<=1.03 drop>=0.95"
    )
    for r in stills:
        px = "x".join(str(n) for n in r["shape"][::-1])
        print(f"{r['content']:<15} {px:>7} {r['precision']:>9} {r['s_per_step']:>7.2f} "
              f"{r['s_per_step_ratio']:>6.2f} {r['loss']:>11.4g} {r['loss_ratio']:>6.3f} "
              f"{r['drop']:>6.1f} {r['drop_ratio']:>6.3f}  "
              f"{verdict(r, {'loss': '<=', 'drop': '>='})}")  # fmt: skip
    if not clips:
        return
    print(f"\n{'clip':<15} {'px':>7} {'precision':>9} {'frames':>6} {'seconds':>7} "
          f"{'yardstick mse':>13} {'/f32':>6} {'drop':>6} {'/f32':>6}  temporal<=1.10 "
          f"drop>=0.95")  # fmt: skip
    for r in clips:
        px = "x".join(str(n) for n in r["shape"][::-1])
        print(f"{r['clip']:<15} {px:>7} {r['precision']:>9} {r['frames']:>6} {r['seconds']:>7.0f} "
              f"{r['temporal']:>13.2f} {r['temporal_ratio']:>6.3f} {r['drop']:>6.1f} "
              f"{r['drop_ratio']:>6.3f}  "
              f"{verdict(r, {'temporal': '<=', 'drop': '>='})}")  # fmt: skip
    print(f"(content frames' own yardstick mse: {clips[0]['content_temporal']:.2f})")


def main(argv: list[str] | None = None) -> None:
    """Run the stills and the clip in every precision; print (and save) the tables."""
    args = parse_args(argv)
    source = resolve(args.weights)
    print(f"TensorFlow {tf.__version__}; weights: {source.origin}; precisions {args.precisions}")
    bench = Bench(source)
    stills = [row for content in args.contents for row in still(bench, content, args.style, args)]
    clips = clip(bench, args.style, args) if args.frames else []
    print_tables(stills, clips)
    if args.json:
        meta = {"size": args.size, "steps": args.steps, "clip_size": args.clip_size,
                "frames": args.frames, "steps_first": args.steps_first,
                "steps_next": args.steps_next, "tensorflow": tf.__version__}  # fmt: skip
        text = json.dumps({**meta, "stills": stills, "clip": clips}, indent=2, default=str)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
