"""Does a long clip stay crisp and steady? The issue 12 table in one run: vidstyle before the
Lanczos start warp, today's defaults, long-term consistency and three passes, on a clip of your
choosing, one after the other in one process with one engine.

Rows (``--variants``, all four by default):

- ``today``: the start of each frame warped bilinearly, as vidstyle did before the Lanczos warp
  (the warp of :mod:`vidstyle.pipeline.temporal` swapped for a bilinear one; the defaults else);
- ``defaults``: the code's defaults;
- ``long-term``: ``--long-term 1,2,4``;
- ``passes3``: ``--passes 3``.

Columns: the mean temporal error of the result and of the content (the floor; both measured
through the same Lanczos warp against the frame before, on the final frames, so that neither
variant's blur is charged to another), the crispness kept (the last quarter's crispness over the
first's; crispness is a frame's mean absolute Laplacian over its content frame's), the style drop
in the first and the last quarter (the content's style loss over the result's), and the seconds
per later frame. With several passes a frame's seconds add up all its passes, so that column is
the seconds of the later frames (every frame but the first) over all passes, divided by their
number (the first frame's later passes are left out with it).

Usage: ``python benchmarks/longclip.py CLIP --style PAINTING [--size 96] [--frames 240]
[--variants today defaults long-term passes3] [--json FILE]``.
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
from vidstyle.pipeline import temporal, video

VARIANTS = {
    "today": {},
    "defaults": {},
    "long-term": {"long_term": (1, 2, 4)},
    "passes3": {"passes": 3},
}


def run(engine, clip: Path, style, frames: int, variant: str) -> dict:
    """One row: the clip stylized with the variant's options; its summary and quarters."""

    def bilinear(image, flow_ba, interpolation="linear"):
        return flow.warp(image, flow_ba, "linear")

    if variant == "today":
        temporal.flowlib = types.SimpleNamespace(**{**vars(flow), "warp": bilinear})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = VideoConfig(max_frames=frames, **VARIANTS[variant])
            result = video.stylize_clip(engine, clip, style, Path(tmp) / "out.mp4", config)
            records = json.loads(result.report_path.read_text())["frames"]
    finally:
        temporal.flowlib = flow
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
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    engine = load_engine(MethodConfig(max_size=args.size))
    style = load_image(args.style).rgb
    rows = {}
    print(f"{'row':>10} {'temporal':>8} {'content':>7} {'crisp kept':>10} "
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
