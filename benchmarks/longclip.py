"""Does a long clip stay crisp and steady? The issue 12 table in one run: vidstyle before the
Lanczos start warp, today's defaults, long-term consistency and three passes, on a clip of your
choosing, one after the other in one process with one engine.

Rows (``--variants``, all four by default):

- ``today``: the start of each frame warped bilinearly, as vidstyle did before the Lanczos warp
  (the warp of :mod:`vidstyle.pipeline.temporal` swapped for a bilinear one; the defaults else);
- ``defaults``: the code's defaults;
- ``long-term``: ``--long-term 1,2,4``;
- ``passes3``: ``--passes 3``.

Columns: the independent yardstick (:mod:`yardstick`: Farneback flow, its own mask, bilinear
warp; Ruder's mse on 0..255 and Lai's E_warp), then vidstyle's own DIS-based figures: the mean
temporal error of the result and of the content (the floor; both measured
through the same Lanczos warp against the frame before, on the final frames, so that neither
variant's blur is charged to another), the crispness kept (the last quarter's crispness over the
first's; crispness is a frame's mean absolute Laplacian over its content frame's), the style drop
(the content's style loss over the result's) over all frames and in the first and the last
quarter, and the seconds per later frame. With several passes a frame's seconds add up all its
passes, so that column is the seconds of the later frames (every frame but the first) over all
passes, divided by their number (the first frame's later passes are left out with it).

Further rows, for multi-pass: ``p3-s100-lr1`` is ``--passes 3`` as first built (each later pass
``steps_next``, 100, steps at the method's learning rate), the others (``PROBES``) vary the steps
of later passes, their learning rate (as a share of the method's), a temporal term towards both
neighbours and a higher temporal weight in later passes (the switches of
:mod:`vidstyle.pipeline.passes`). ``--restart-probe STEPS`` measures instead how far a restarted
Adam moves a finished frame in a few steps (:func:`restart_probe`).

Usage: ``python benchmarks/longclip.py CLIP --style PAINTING [--size 96] [--frames 240]
[--steps-first N] [--temporal-weight W] [--variants today defaults long-term passes3 ...]
[--json FILE]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

from vidstyle import load_engine
from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.media import flow
from vidstyle.media.images import load_image
from vidstyle.pipeline import passes, temporal, video

sys.path.insert(0, str(Path(__file__).resolve().parent))
import yardstick  # noqa: E402

VARIANTS = {
    "today": {},
    "defaults": {},
    "long-term": {"long_term": (1, 2, 4)},
    "passes3": {"passes": 3},
}


def _probe(passes: int, steps: int, share: float, both: bool = False, weight: float = 1.0,
           delta: float = 0.5):  # fmt: skip
    """A multi-pass probe row: passes, steps per later pass, the later passes' learning rate over
    the method's, the temporal term on both sides or not, the later passes' temporal weight over
    ``temporal_weight``, the warped neighbour's weight in a frame's start (the paper's delta);
    named ``p3-s20-lr0.1`` (``-both``, ``-tw3``, ``-d0.75``)."""
    name = f"p{passes}-s{steps}-lr{share:g}" + ("-both" if both else "")
    name += (f"-tw{weight:g}" if weight != 1.0 else "") + (f"-d{delta:g}" if delta != 0.5 else "")
    return name, {"passes": passes, "steps_pass": steps, "lr_share": share, "both": both,
                  "pass_weight": weight, "delta": delta}  # fmt: skip


PROBES = dict(  # the multi-pass probes of issue 12 (the rows of benchmarks/README.md)
    _probe(*row)
    for row in [(3, 100, 1.0), (3, 20, 1.0), (3, 20, 1.0, True), (3, 0, 1.0), (3, 20, 0.25),
                (3, 20, 0.25, True), (3, 20, 0.25, False, 10.0), (3, 20, 0.25, False, 3.0),
                (5, 20, 0.25), (3, 10, 0.25), (3, 5, 0.25), (3, 20, 0.1), (3, 10, 0.1),
                (2, 20, 0.1), (5, 10, 0.1), (3, 10, 0.1, False, 1.0, 0.75)]
)  # fmt: skip
VARIANTS |= PROBES
LIBRARY = (passes.BOTH_SIDES, passes.LR_SHARE, passes.PASS_WEIGHT, passes.DELTA)  # the library's


def run(engine, clip: Path, style, frames: int, variant: str, **options) -> dict:
    """One row: the clip stylized with the variant's options (and ``options``, for every row);
    its summary and quarters."""

    def bilinear(image, flow_ba, interpolation="linear"):
        return flow.warp(image, flow_ba, "linear")

    if variant == "today":
        temporal.flowlib = types.SimpleNamespace(**{**vars(flow), "warp": bilinear})
    chosen = VARIANTS[variant] | options
    passes.BOTH_SIDES = chosen.pop("both", LIBRARY[0])
    passes.LR_SHARE = chosen.pop("lr_share", LIBRARY[1])
    passes.PASS_WEIGHT = chosen.pop("pass_weight", LIBRARY[2])
    passes.DELTA = chosen.pop("delta", LIBRARY[3])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = VideoConfig(max_frames=frames, frames_dir=Path(tmp) / "frames", **chosen)
            result = video.stylize_clip(engine, clip, style, Path(tmp) / "out.mp4", config)
            records = json.loads(result.report_path.read_text())["frames"]
            independent = yardstick.measure_folder(config.frames_dir, clip)
    finally:
        temporal.flowlib = flow
        passes.BOTH_SIDES, passes.LR_SHARE, passes.PASS_WEIGHT, passes.DELTA = LIBRARY
    quarter = max(len(records) // 4, 1)
    drops = [r["content_style_loss"] / r["style_loss"] for r in records]
    return result.summary | {
        "independent": independent,
        "style_drop_first_quarter": float(np.mean(drops[:quarter])),
        "style_drop_last_quarter": float(np.mean(drops[-quarter:])),
        "crispness": [round(r["crispness"], 3) for r in records],
    }


def restart_probe(engine, clip: Path, style, steps_first: int, steps: int) -> None:
    """How far a restarted Adam moves a finished frame in a few steps: the clip's first frame
    stylized with ``steps_first`` steps, then ``steps`` more steps from that result under a few
    Adam settings (each restarts Adam, as every frame does); prints the mean absolute change
    (0..255) and the style drop before and after."""
    from vidstyle.media import video as videolib
    from vidstyle.pipeline.image import targets_for

    first = next(iter(videolib.read_frames(clip, None, None, 1))).rgb
    content = video.fit_longest(first, engine.method.max_size)
    targets = targets_for(engine, style, content)
    done = engine.stylize(content, targets, steps=steps_first)

    def drop(image):
        own = engine.losses(content, content, targets)["style"]
        return own / engine.losses(image, content, targets)["style"]

    print(f"start: style drop {drop(done):.1f}")
    method = engine.method
    for lr, beta_1 in ((0.02, 0.99), (0.02, 0.9), (0.005, 0.99), (0.005, 0.9), (0.002, 0.9)):
        engine.method = dataclasses.replace(method, learning_rate=lr, beta_1=beta_1)
        for n in (steps, 100):
            out = engine.stylize(content, targets, init=done, steps=n)
            change = np.abs(out.astype(np.float32) - done).mean()
            print(f"lr {lr} beta_1 {beta_1} steps {n}: change {change:.2f}, "
                  f"style drop {drop(out):.1f}", flush=True)  # fmt: skip
    engine.method = method


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--style", type=Path, required=True)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS)[:4], choices=list(VARIANTS))
    parser.add_argument("--steps-first", type=int, help="steps of a first frame (default: --steps)")
    parser.add_argument("--temporal-weight", type=float, help="for every row")
    parser.add_argument("--restart-probe", type=int, metavar="STEPS",
                        help="only the Adam restart probe, with STEPS steps")  # fmt: skip
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    options = {"steps_first": args.steps_first, "temporal_weight": args.temporal_weight}
    options = {key: value for key, value in options.items() if value is not None}
    engine = load_engine(MethodConfig(max_size=args.size))
    style = load_image(args.style).rgb
    if args.restart_probe:
        restart_probe(engine, args.clip, style, args.steps_first or 300, args.restart_probe)
        return
    rows = {}
    print(f"{'row':>16} {'indep.':>6} {'E_warp':>7} {'DIS own':>7} {'content':>7} "
          f"{'crisp kept':>10} "
          f"{'drop':>5} {'drop q1':>7} {'drop q4':>7} {'s/later':>7}")  # fmt: skip
    for variant in args.variants:
        s = rows[variant] = run(engine, args.clip, style, args.frames, variant, **options)
        ind = s["independent"]
        print(f"{variant:>16} {ind['mse']:6.1f} {ind['e_warp']:7.4f} {s['temporal_error']:7.1f} "
              f"{s['content_temporal_error']:7.1f} "
              f"{s['crispness_kept']:10.3f} {s['style_drop']:5.1f} "
              f"{s['style_drop_first_quarter']:7.1f} {s['style_drop_last_quarter']:7.1f} "
              f"{s['seconds_per_later_frame']:7.2f}",
              flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
