"""Large motion against ground truth (issue 24): the synthetic clips of :mod:`synthclips`, whose
true flows and occlusions are known.

``--flow-only`` (no TensorFlow): for each clip and each flow, the end-point error (px, over the
pixels of frame t+1 truly visible in frame t, flow from t+1 to t: the one the warp uses), the
seconds per flow, and what vidstyle's masks keep: the share of pixels kept, the share of truly
visible pixels kept (recall), and the share of kept pixels whose flow is off by over 3 px
(wrong, kept). Flows: ``dis`` (plain DIS, medium preset: vidstyle's flow before issue 24),
``fused`` (today's :func:`vidstyle.media.flow.flow`), ``farneback`` (the yardstick's); and the
seconds per flow of ``dis`` and ``fused`` on larger frames.

Otherwise each clip is stylized (``samples/swirls.jpg``) three ways: with the video defaults and
today's flow, with the plain DIS flow, and each frame on its own (``warm_start`` none, every frame
``--steps-first`` steps); and the temporal error is measured with the **true** flow and masks
(bilinear warp, mean over valid pixels: Ruder's mse on 0..255, and Lai's E_warp), beside the
independent yardstick (Farneback, :mod:`yardstick`) and vidstyle's own DIS-based figure from
``report.json``. The ratio column is each run's true-flow error over the independent frames'.

``--scale 0.5`` renders the clips at 64x48 with every motion halved (the same share of the
frame: 20 px at 64 px is 40 px at 128 px), for a stylization the 2-core CPU can afford.

Usage: ``python benchmarks/largemotion.py [--flow-only] [--clips slow fast ...] [--frames 6]
[--steps-first 50] [--steps-next 30] [--runs fused dis] [--scale 1] [--temporal-weight W]
[--json out.json] [--keep DIR]``; ``--decompose DIR`` (no TensorFlow) then splits the true-flow
error of the frames kept in DIR by pixel class (:func:`decompose`), with today's flow and masks.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import types
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthclips  # noqa: E402
import yardstick  # noqa: E402

from vidstyle.media import flow as flowlib  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FLOWS = {
    "dis": lambda a, b: flowlib.flow(a, b, large=False),
    "fused": flowlib.flow,
    "farneback": yardstick.farneback,
}


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


def flow_costs(sizes=((128, 96), (256, 192), (512, 384), (1024, 768))) -> dict:
    """Seconds per flow of plain and fused DIS on a 40 px pan at several sizes."""
    out = {}
    for width, height in sizes:
        scene = synthclips.texture(height, width + 80, seed=9).astype(np.uint8)
        a, b = scene[:, :width], scene[:, 40 : 40 + width]
        for name in ("dis", "fused"):
            FLOWS[name](a, b)  # warm up
            started = time.perf_counter()
            for _ in range(3):
                FLOWS[name](a, b)
            out[f"{name} {width}x{height}"] = (time.perf_counter() - started) / 3
    return out


def stylize(engine, clip: synthclips.Clip, style, config, plain: bool = False):
    """The clip's stylized frames and its report summary (``plain``: with plain DIS flow)."""
    from vidstyle.media.images import load_image, save_image
    from vidstyle.pipeline import temporal, video

    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "in", Path(tmp) / "out"
        for i, frame in enumerate(clip.frames):
            save_image(source / f"{i + 1:06d}.png", frame)
        if plain:
            temporal.flowlib = types.SimpleNamespace(**{**vars(flowlib), "flow": FLOWS["dis"]})
        try:
            result = video.stylize_clip(engine, source, style, out, config)
        finally:
            temporal.flowlib = flowlib
        frames = [load_image(p).rgb for p in sorted(out.glob("*.png"))]
        records = json.loads(result.report_path.read_text())["frames"]
    held = [r["temporal_held"] for r in records if "temporal_held" in r]
    return frames, result.summary | {"temporal_held": float(np.mean(held)) if held else None}


def decompose(clip: synthclips.Clip, runs: dict) -> dict:
    """Where each run's true-flow error lies: the truly visible pixels of every later frame by
    class (held by vidstyle's mask, by its vouched_mask alone, or freed, and why: source outside
    the picture, forward-backward, motion boundary, photometric; within 4 px of a moving object or
    not), each class's share of the pixels,
    its mean squared error (0..255, per channel) and its part of the clip's error, per run."""
    names = ("held", "vouched", "outside", "fb", "boundary", "photometric")
    sums = {(run, n, near): 0.0 for run in runs for n in names for near in (0, 1)}
    counts = {(n, near): 0 for n in names for near in (0, 1)}
    for t in range(len(clip.forward)):
        a, b = clip.frames[t], clip.frames[t + 1]
        flow_ab, flow_ba = flowlib.flow(a, b), flowlib.flow(b, a)
        w_hat = flow_ba.astype(np.float32)
        w_tilde = flowlib.warp(flow_ab.astype(np.float32), w_hat)
        sq = np.sum((w_tilde + w_hat) ** 2, axis=2)
        fb = sq > 0.01 * (np.sum(w_tilde**2, axis=2) + np.sum(w_hat**2, axis=2)) + 0.5
        grad = sum(flowlib._squared_gradient(w_hat[..., c]) for c in (0, 1))
        boundary = grad > 0.01 * np.sum(w_hat**2, axis=2) + flowlib.BOUNDARY_FLOOR
        photo = flowlib.photometric_mask(a, b, flow_ba) < 0.5
        held = flowlib.trusted_mask(flow_ab, flow_ba, a, b) > 0.5
        outside = flowlib._outside(w_hat)
        vouched = held & (fb | boundary | photo)  # held by vouched_mask alone
        classes = {"held": held & ~vouched, "vouched": vouched, "outside": ~held & outside,
                   "fb": ~held & ~outside & fb,
                   "boundary": ~held & ~outside & ~fb & boundary}  # fmt: skip
        classes["photometric"] = ~held & ~outside & ~fb & ~boundary
        truth = clip.backward[t]
        moving = np.zeros(truth.shape[:2], np.uint8)
        for field in (truth, clip.forward[t]):  # off the camera's motion (the median), b or a
            background = np.median(field.reshape(-1, 2), axis=0)
            moving |= (np.linalg.norm(field - background, axis=2) > 1).astype(np.uint8)
        near = cv2.dilate(moving, np.ones((9, 9), np.uint8)) > 0
        visible = clip.masks[t] > 0.5
        for run, frames in runs.items():
            warped = yardstick.warp_bilinear(frames[t], truth)
            error = np.mean((frames[t + 1].astype(np.float32) - warped) ** 2, axis=2)
            for n, where in classes.items():
                for flag in (0, 1):
                    sel = where & visible & (near == bool(flag))
                    sums[(run, n, flag)] += float(error[sel].sum())
        for n, where in classes.items():
            for flag in (0, 1):
                counts[(n, flag)] += int((where & visible & (near == bool(flag))).sum())
    total = sum(counts.values())
    rows = {}
    print(f"{'class':>12} {'near':>4} {'share':>6} " + " ".join(
        f"{run + ' mse':>16} {'part':>6}" for run in runs))  # fmt: skip
    for n in names:
        for flag in (1, 0):
            count = counts[(n, flag)]
            row = rows[f"{n} {'near' if flag else 'far'}"] = {"share": count / total}
            for run in runs:
                row[run] = {"mse": sums[(run, n, flag)] / max(count, 1),
                            "part": sums[(run, n, flag)] / total}  # fmt: skip
            print(f"{n:>12} {'near' if flag else 'far':>4} {count / total:6.3f} " + " ".join(
                f"{row[r]['mse']:16.1f} {row[r]['part']:6.1f}" for r in runs))  # fmt: skip
    return rows


def stylize_rows(clips: dict, args) -> dict:
    """Each clip stylized with today's flow, the plain DIS flow and frame by frame."""
    from vidstyle import load_engine
    from vidstyle.config import MethodConfig, VideoConfig
    from vidstyle.media.images import load_image

    engine = load_engine(MethodConfig(max_size=max(next(iter(clips.values())).frames[0].shape)))
    style = load_image(SAMPLES / "swirls.jpg").rgb
    base = dict(steps_first=args.steps_first, steps_next=args.steps_next)
    weight = {} if args.temporal_weight is None else {"temporal_weight": args.temporal_weight}
    runs = {"fused": (VideoConfig(**base, **weight), False),
            "dis": (VideoConfig(**base, **weight), True),
            "independent": (VideoConfig(warm_start="none", **base), False)}  # fmt: skip
    runs = {name: run for name, run in runs.items() if name in args.runs + ["independent"]}
    rows = {}
    print(f"{'clip':>8} {'run':>11} {'true mse':>8} {'ratio':>5} {'E_warp':>7} {'farneback':>9} "
          f"{'DIS (own)':>9} {'held':>5} {'s/later':>7}")  # fmt: skip
    for name, clip in clips.items():
        truth = [(f, m > 0.5) for f, m in zip(clip.backward, clip.masks)]
        independent_flows = yardstick.independent_flows(clip.frames)
        for run, (config, plain) in runs.items():
            frames, summary = stylize(engine, clip, style, config, plain)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                np.save(args.keep / f"{name}_{run}.npy", np.stack(frames))
            true = yardstick.with_flows(frames, truth)
            farne = yardstick.with_flows(frames, independent_flows)
            rows[f"{name} {run}"] = {"true": true, "farneback": farne, "summary": summary}
        for run in runs:
            row = rows[f"{name} {run}"]
            ratio = row["true"]["mse"] / rows[f"{name} independent"]["true"]["mse"]
            row["ratio"] = ratio
            own = row["summary"]["temporal_error"] or float("nan")
            held = row["summary"]["temporal_held"] or float("nan")
            print(f"{name:>8} {run:>11} {row['true']['mse']:8.1f} {ratio:5.2f} "
                  f"{row['true']['e_warp']:7.4f} {row['farneback']['mse']:9.1f} {own:9.1f} "
                  f"{held:5.2f} {row['summary']['seconds_per_later_frame'] or 0:7.2f}",
                  flush=True)  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flow-only", action="store_true")
    parser.add_argument("--clips", nargs="*", default=list(synthclips.CLIPS))
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--steps-first", type=int, default=50)
    parser.add_argument("--steps-next", type=int, default=30)
    parser.add_argument("--runs", nargs="*", default=["fused", "dis"], choices=["fused", "dis"])
    parser.add_argument("--temporal-weight", type=float, help="(default: the video default)")
    parser.add_argument("--scale", type=float, default=1.0, help="of the clips' 128x96 frames")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="save each run's frames there (.npy)")
    parser.add_argument("--decompose", type=Path, help="split the error of those frames by pixels")
    args = parser.parse_args()
    clips = {}
    for name in args.clips:
        scene = synthclips.scaled(synthclips.CLIPS[name], args.scale, args.frames)
        clips[name] = synthclips.make_clip(scene)
    if args.decompose:
        rows = {}
        for name, clip in clips.items():
            runs = {p.stem.split("_", 1)[1]: np.load(p)
                    for p in sorted(args.decompose.glob(f"{name}_*.npy"))}  # fmt: skip
            print(name, flush=True)
            rows[name] = decompose(clip, runs)
    elif args.flow_only:
        rows = {}
        print(f"{'clip':>8} {'max px':>6} {'flow':>9} {'EPE px':>6} {'s/flow':>6} {'kept':>5} "
              f"{'recall':>6} {'wrong kept':>10}")  # fmt: skip
        for name, clip in clips.items():
            for flow_name, compute in FLOWS.items():
                r = rows[f"{name} {flow_name}"] = flow_row(clip, compute)
                print(f"{name:>8} {synthclips.max_motion(clip):6.1f} {flow_name:>9} "
                      f"{r['epe']:6.2f} {r['s_per_flow']:6.3f} {r['kept']:5.2f} "
                      f"{r['recall']:6.2f} {r['wrong_kept']:10.3f}", flush=True)  # fmt: skip
        for key, seconds in flow_costs().items():
            rows[f"cost {key}"] = seconds
            print(f"seconds per flow, {key}: {seconds:.3f}", flush=True)
    else:
        rows = stylize_rows(clips, args)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
