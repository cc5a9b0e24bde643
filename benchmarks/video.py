"""Temporal stability and seconds per frame of `vidstyle video` on the sample clip.

Runs the clip (``samples/pan.mp4``: a pan across a photo, then a cut) several times in one
process with one engine, changing only the warm start and the temporal weight, and prints for
each: the independent yardstick (:mod:`yardstick`: Farneback flow, its own forward-backward mask,
bilinear warp; Ruder's mse on 0..255 and Lai's E_warp on 0..1, means over valid pixels), then
vidstyle's own figure, the mean temporal error of the report (through vidstyle's DIS flow, masks
and Lanczos warp: mean over reliable pixels of (x_t - warp(x_t-1))^2, 0..255 RGB), the same for
the content frames (the floor), the temporal term's share of the loss,
the seconds of the first frame and of the later frames, and their ratio (the steady-state cost).

The video defaults (1000 steps for the first frame, 100 for later ones, temporal weight 1e6):
``python benchmarks/video.py --steps-first 1000 --steps-next 100 --weights 1e6 --equal-steps 0
--skip-prev --frames 8``.

Usage: ``python benchmarks/video.py [--size 128] [--frames 12] [--steps-first 100]
[--steps-next 30] [--weights 0 1e4 1e5] [--equal-steps 60] [--skip-prev] [--json out.json]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from vidstyle import load_engine
from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.media.images import load_image
from vidstyle.pipeline.video import stylize_clip

sys.path.insert(0, str(Path(__file__).resolve().parent))
import yardstick  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def run(engine, style, config: VideoConfig) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config = dataclasses.replace(config, frames_dir=Path(tmp) / "frames")
        result = stylize_clip(engine, SAMPLES / "pan.mp4", style, Path(tmp) / "out.mp4", config)
        independent = yardstick.measure_folder(config.frames_dir, SAMPLES / "pan.mp4")
    return result.summary | {"independent": independent}


def configs(args) -> list[tuple[str, VideoConfig]]:
    base = dict(steps_first=args.steps_first, steps_next=args.steps_next, max_frames=args.frames)
    out = [(f"flow w={w:g}", VideoConfig(warm_start="flow", temporal_weight=w, **base))
           for w in args.weights]  # fmt: skip
    if not args.skip_prev:
        out.append(("prev", VideoConfig(warm_start="prev", **base)))
    if args.equal_steps:
        equal = dict(steps_first=args.equal_steps, steps_next=args.equal_steps,
                     max_frames=args.frames)  # fmt: skip
        out.append((f"flow equal {args.equal_steps}", VideoConfig(warm_start="flow", **equal)))
        out.append((f"none equal {args.equal_steps}", VideoConfig(warm_start="none", **equal)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--steps-first", type=int, default=100)
    parser.add_argument("--steps-next", type=int, default=30)
    parser.add_argument("--weights", type=float, nargs="*", default=[0.0, 1e4, 1e5])
    parser.add_argument("--equal-steps", type=int, default=60)
    parser.add_argument("--skip-prev", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    engine = load_engine(MethodConfig(max_size=args.size))
    style = load_image(SAMPLES / "swirls.jpg").rgb
    rows = {}
    print(f"{'run':>16} {'indep. mse':>10} {'E_warp':>7} {'DIS err (own)':>13} "
          f"{'content err':>11} {'t. share':>8} "
          f"{'s first':>7} {'s later':>7} {'later/first':>11}")  # fmt: skip
    for name, config in configs(args):
        s = rows[name] = run(engine, style, config)
        share = s["temporal_share_of_loss"] or 0.0
        ind = s["independent"]
        print(f"{name:>16} {ind['mse']:10.1f} {ind['e_warp']:7.4f} {s['temporal_error']:13.1f} "
              f"{s['content_temporal_error']:11.1f} "
              f"{share:8.3f} {s['seconds_first_frame']:7.2f} {s['seconds_per_later_frame']:7.2f} "
              f"{s['seconds_per_later_frame'] / s['seconds_first_frame']:11.3f}",
              flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
