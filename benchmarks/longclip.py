"""Does a long clip stay crisp? The warped start of each frame, bilinear (vidstyle before) against
Lanczos (now), on a clip of your choosing, side by side in one process with one engine.

For each variant it prints the mean temporal error of the result and of the content (the floor;
both measured through the same Lanczos warp, so that neither variant's blur is charged to the
other), the crispness kept (the last quarter's crispness over the first's; crispness is a
frame's mean absolute Laplacian over its content frame's), the style drop in the first and the
last quarter (the content's style loss over the result's), and the seconds per later frame.

Usage: ``python benchmarks/longclip.py CLIP --style PAINTING [--size 64] [--frames 80]``
(``--variants lanczos`` for today's defaults alone).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import types
from pathlib import Path

import numpy as np

from vidstyle import load_engine
from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.media import flow
from vidstyle.media.images import load_image
from vidstyle.pipeline import video


def run(engine, clip: Path, style, frames: int, start_warp: str) -> dict:
    """One pass over the clip; the start of each frame warped with ``start_warp``."""

    def warp(image, flow_ba, interpolation=start_warp):
        return flow.warp(image, flow_ba, interpolation)

    video.flowlib = types.SimpleNamespace(**{**vars(flow), "warp": warp})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = video.stylize_clip(engine, clip, style, Path(tmp) / "out.mp4",
                                        VideoConfig(max_frames=frames))  # fmt: skip
            records = json.loads(result.report_path.read_text())["frames"]
    finally:
        video.flowlib = flow
    quarter = max(len(records) // 4, 1)
    drops = [r["content_style_loss"] / r["style_loss"] for r in records]
    return result.summary | {
        "style_drop_first_quarter": float(np.mean(drops[:quarter])),
        "style_drop_last_quarter": float(np.mean(drops[-quarter:])),
        "crispness": [round(r["crispness"], 3) for r in records],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--style", type=Path, required=True)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--variants", nargs="*", default=["linear", "lanczos"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    engine = load_engine(MethodConfig(max_size=args.size))
    style = load_image(args.style).rgb
    rows = {}
    print(f"{'start warp':>10} {'temporal':>8} {'content':>7} {'crisp kept':>10} "
          f"{'drop q1':>7} {'drop q4':>7} {'s/later':>7}")  # fmt: skip
    for variant in args.variants:
        s = rows[variant] = run(engine, args.clip, style, args.frames, variant)
        print(f"{variant:>10} {s['temporal_error']:8.1f} {s['content_temporal_error']:7.1f} "
              f"{s['crispness_kept']:10.3f} {s['style_drop_first_quarter']:7.1f} "
              f"{s['style_drop_last_quarter']:7.1f} {s['seconds_per_later_frame']:7.2f}",
              flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
