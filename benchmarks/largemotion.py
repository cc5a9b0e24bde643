"""Large motion against ground truth (issue 24): the synthetic clips of
:mod:`benchmarks.synthclips`, whose true flows and occlusions are known.

``--flow-only`` (no TensorFlow): for each clip and each flow, the end-point error (px, over the
pixels of frame t+1 truly visible in frame t, flow from t+1 to t: the one the warp uses), the
seconds per flow, and what vidstyle's masks keep: the share of pixels kept, the share of truly
visible pixels kept (recall), and the share of kept pixels whose flow is off by over 3 px
(wrong, kept). Flows: ``dis`` (plain DIS, medium preset: vidstyle's flow before issue 24),
``fused`` (today's :func:`vidstyle.media.flow.flow`), ``farneback`` (the yardstick's); then the
seconds per flow of ``dis`` and ``fused`` on larger frames (``--cost-sizes``).

Otherwise each clip is stylized (``samples/swirls.jpg``) two ways: with the video defaults, and
each frame on its own (``warm_start`` none, every frame ``--steps-first`` steps); and the
temporal error is measured with the **true** flow and masks (bilinear warp, mean over valid
pixels: Ruder's mse on 0..255, and Lai's E_warp), beside the independent yardstick (Farneback,
:mod:`benchmarks.yardstick`) and vidstyle's own DIS-based figure from its report. The ratio
column is each run's true-flow error over the independent frames'. (The plain-DIS stylization
row and ``--decompose``, the split of the error by pixel class, are gone: they patched the
pipeline's flow module and called private helpers of :mod:`vidstyle.media.flow`; their issue 24
figures are in ``benchmarks/results.md``.)

``--scale 0.5`` renders the clips at 64x48 with every motion halved (the same share of the
frame: 20 px at 64 px is 40 px at 128 px), for a stylization the 2-core CPU can afford.

Usage: ``python -m benchmarks.largemotion [--flow-only] [--clips slow fast ...] [--frames 6]
[--steps-first 50] [--steps-next 30] [--scale 1] [--temporal-weight W]``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import harness, synthclips, yardstick
from benchmarks.table import Table
from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.media import flow as flowlib

FLOWS = {
    "dis": lambda a, b: flowlib.flow(a, b, large=False),
    "fused": flowlib.flow,
    "farneback": yardstick.farneback,
}
COST_SIZES = ("128x96", "256x192", "512x384", "1024x768")


def flow_row(clip: synthclips.Clip, compute) -> dict:
    """End-point error, seconds per flow and mask statistics of one flow on one clip."""
    epe, seconds, kept, recall, wrong = [], [], [], [], []
    for t in range(len(clip.forward)):
        a, b = clip.frames[t], clip.frames[t + 1]
        started = time.perf_counter()
        flow_ba = compute(b, a)
        seconds.append(time.perf_counter() - started)
        flow_ab = compute(a, b)
        visible = clip.masks[t] > 0.5
        error = np.linalg.norm(flow_ba - clip.backward[t], axis=2)
        epe.append(error[visible].mean())
        mask = flowlib.trusted_mask(flow_ab, flow_ba, a, b) > 0.5
        kept.append(mask.mean())
        recall.append(mask[visible].mean())
        wrong.append((mask & (error > 3)).sum() / max(mask.sum(), 1))
    return {"epe": float(np.mean(epe)), "s_per_flow": float(np.median(seconds)),
            "kept": float(np.mean(kept)), "recall": float(np.mean(recall)),
            "wrong_kept": float(np.mean(wrong))}  # fmt: skip


def flow_costs(sizes: list[str]) -> dict:
    """Seconds per flow of plain and fused DIS on a 40 px pan at several sizes (``WxH``)."""
    out = {}
    for width, height in (map(int, size.split("x")) for size in sizes):
        scene = synthclips.texture(height, width + 80, seed=9).astype(np.uint8)
        a, b = scene[:, :width], scene[:, 40 : 40 + width]
        for name in ("dis", "fused"):
            FLOWS[name](a, b)  # warm up
            started = time.perf_counter()
            for _ in range(3):
                FLOWS[name](a, b)
            out[f"{name} {width}x{height}"] = (time.perf_counter() - started) / 3
    return out


def stylize(engine, clip: synthclips.Clip, style, config):
    """The clip's stylized frames and its report's summary."""
    from vidstyle.pipeline import video

    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "in", Path(tmp) / "out"
        synthclips.write_frames(clip, source)
        result = video.stylize_clip(engine, source, style, out, config)
        frames = [harness.picture(p) for p in sorted(out.glob("*.png"))]
    return frames, result.summary


def stylize_rows(clips: dict, args, make_engine) -> tuple[Table, dict]:
    """Each clip stylized with the video defaults and frame by frame, measured by the true flow."""
    size = max(next(iter(clips.values())).frames[0].shape)
    engine = make_engine(MethodConfig(max_size=size, precision=args.precision))
    style = harness.picture(harness.STYLE)
    base = dict(steps_first=args.steps_first, steps_next=args.steps_next)
    weight = {} if args.temporal_weight is None else {"temporal_weight": args.temporal_weight}
    runs = {"defaults": VideoConfig(**base, **weight),
            "independent": VideoConfig(warm_start="none", **base)}  # fmt: skip
    table = Table("clip", "run", ("true mse", "{:.1f}"), ("ratio", "{:.2f}"),
                  ("E_warp", "{:.4f}"), ("farneback", "{:.1f}"), ("DIS (own)", "{:.1f}"),
                  ("held", "{:.2f}"), ("s/later", "{:.2f}"))  # fmt: skip
    rows = {}
    for name, clip in clips.items():
        truth = [(f, m > 0.5) for f, m in zip(clip.backward, clip.masks)]
        independent_flows = yardstick.independent_flows(clip.frames)
        for run, config in runs.items():
            frames, summary = stylize(engine, clip, style, config)
            rows[f"{name} {run}"] = {"true": yardstick.with_flows(frames, truth),
                                     "farneback": yardstick.with_flows(frames, independent_flows),
                                     "summary": summary}  # fmt: skip
        for run in runs:
            row = rows[f"{name} {run}"]
            row["ratio"] = row["true"]["mse"] / rows[f"{name} independent"]["true"]["mse"]
            s = row["summary"]
            print(table.add(name, run, row["true"]["mse"], row["ratio"], row["true"]["e_warp"],
                            row["farneback"]["mse"], s["temporal_error"], s["temporal_held"],
                            s["seconds_per_later_frame"]), flush=True)  # fmt: skip
    return table, rows


def flow_tables(clips: dict, cost_sizes: list[str]) -> tuple[list[Table], dict]:
    """The flows against the true flow on each clip, then the seconds per flow by size."""
    table = Table("clip", ("max px", "{:.1f}"), "flow", ("EPE px", "{:.2f}"),
                  ("s/flow", "{:.3f}"), ("kept", "{:.2f}"), ("recall", "{:.2f}"),
                  ("wrong kept", "{:.3f}"))  # fmt: skip
    rows = {}
    for name, clip in clips.items():
        for flow_name, compute in FLOWS.items():
            r = rows[f"{name} {flow_name}"] = flow_row(clip, compute)
            print(table.add(name, synthclips.max_motion(clip), flow_name, r["epe"],
                            r["s_per_flow"], r["kept"], r["recall"], r["wrong_kept"]),
                  flush=True)  # fmt: skip
    costs = Table("flow and size", ("s/flow", "{:.3f}"), title="seconds per flow, a 40 px pan")
    for key, seconds in flow_costs(cost_sizes).items():
        rows[f"cost {key}"] = seconds
        costs.add(key, seconds)
    return [table, costs], rows


def main(argv: list[str] | None = None, make_engine: harness.MakeEngine | None = None) -> None:
    """The flows (``--flow-only``) or the stylizations on the synthetic clips; logged."""
    parser = harness.parser(__doc__)
    parser.add_argument("--flow-only", action="store_true")
    parser.add_argument("--clips", nargs="+", default=list(synthclips.CLIPS),
                        choices=list(synthclips.CLIPS))  # fmt: skip
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--steps-first", type=int, default=50)
    parser.add_argument("--steps-next", type=int, default=30)
    parser.add_argument("--temporal-weight", type=float, help="(default: the video default)")
    parser.add_argument("--scale", type=float, default=1.0, help="of the clips' 128x96 frames")
    parser.add_argument("--cost-sizes", nargs="*", default=list(COST_SIZES), help="WxH")
    parser.add_argument("--precision", default="auto")
    args = harness.parse(parser, argv)
    clips = {}
    for name in args.clips:
        scene = synthclips.scaled(synthclips.CLIPS[name], args.scale, args.frames)
        clips[name] = synthclips.make_clip(scene)
    if args.flow_only:
        tables, rows = flow_tables(clips, args.cost_sizes)
        precision = "no network (flows only)"
    else:
        table, rows = stylize_rows(clips, args, make_engine or harness.Engines(args.weights))
        tables, precision = [table], harness.precision_label(args.precision)
    harness.finish(args, "largemotion", precision, tables, rows)


if __name__ == "__main__":
    main()
