"""The network path against today's defaults (issue 30): seconds and quality side by side.

Each clip is stylized with today's video defaults (``today``) and with ``--render network``
(``network``; its keyframes at the first frame's settings, the same as today's first frame), one
after the other in this process with one engine, and, on the synthetic clips of
:mod:`synthclips` (``synth:NAME``), frame by frame with no flow (``independent``, each frame at
the first frame's steps), for the ratio of the true-flow temporal error.

Columns: the seconds of the whole clip (for ``network``: its keyframes, training and rendering,
each shown), the seconds of each frame beyond the first (today: a later frame; network: a
rendered frame with its measurement), the temporal error by the independent yardstick
(:mod:`yardstick`: Farneback, its mask, bilinear warp; Ruder's mse on 0..255), over all the
frames and over the first ``--today-frames`` (``head``: the same frames for both paths) and,
on synthetic clips, by the true flow with its ratio to the independent frames'; then the
crispness (a frame's detail over its content's), the style drop (the content's style loss over
the result's) and the content loss, each a mean over the frames measured (every
``--measure-every``-th) by one engine; for ``network`` also the frames that are not keyframes
over its keyframes (the report's ratios).

``--today-frames N`` stylizes only the first N frames with today's defaults and extrapolates its
whole-clip seconds to the clip's frames (first frame + later frames x mean seconds per later
frame): the long clip at 512 px in the time the network path takes.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import harness, synthclips, yardstick
from benchmarks.table import Table
from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.media import flow as flowlib


def clip_input(name: str, folder: Path, frames: int, scale: float):
    """The path of clip ``name`` (a file, or ``synth:NAME`` written as PNGs into ``folder``) and
    its true flows and masks (None for a real clip)."""
    if not name.startswith("synth:"):
        return Path(name), None
    scene = synthclips.scaled(synthclips.CLIPS[name[6:]], scale, frames)
    clip = synthclips.make_clip(scene)
    synthclips.write_frames(clip, folder)
    return folder, [(f, m > 0.5) for f, m in zip(clip.backward, clip.masks)]


def run(engine, source: Path, style, config: VideoConfig, folder: Path):
    """Stylize ``source`` into ``folder`` (frames kept as PNGs); returns the frames, the report's
    summary and the wall seconds."""
    from vidstyle.media.images import load_image
    from vidstyle.pipeline import video

    frames_dir = folder / "frames"
    started = time.monotonic()
    output = folder / ("out" if source.is_dir() else "out.mp4")
    config = dataclasses.replace(config, frames_dir=frames_dir)
    result = video.stylize_clip(engine, source, style, output, config)
    seconds = time.monotonic() - started
    frames = [load_image(p).rgb for p in sorted(frames_dir.glob("*.png"))]
    return frames, result.summary, seconds


def quality(engine, style, frames, contents, every: int) -> dict:
    """Mean crispness (every frame), style drop and content loss (every ``every``-th)."""
    from vidstyle.pipeline.image import targets_for

    targets = targets_for(engine, style, contents[0])
    drops, content = [], []
    for result, work in list(zip(frames, contents))[::every]:
        own = engine.losses(result, work, targets)
        drops.append(engine.losses(work, work, targets)["style"] / max(own["style"], 1e-12))
        content.append(own["content"])
    crisp = [flowlib.crispness(r, c) for r, c in zip(frames, contents)]
    return {"crispness": float(np.mean(crisp)), "style_drop": float(np.mean(drops)),
            "content_loss": float(np.mean(content))}  # fmt: skip


def main(argv=None, make_engine=None) -> None:
    """Both paths on each clip, side by side; logged."""
    parser = harness.parser(__doc__)
    parser.add_argument("--clips", nargs="+", default=[str(harness.CLIP)],
                        help="video files or frame folders, or synth:NAME")  # fmt: skip
    parser.add_argument("--style", type=Path, default=harness.STYLE)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--today-frames", type=int, help="today's frames (then extrapolated)")
    parser.add_argument("--steps-first", type=int, help="(default: the method's)")
    parser.add_argument("--keyframes", type=int, default=VideoConfig().keyframes)
    parser.add_argument("--train-minutes", type=float, default=VideoConfig().train_minutes)
    parser.add_argument("--scale", type=float, default=1.0, help="of the synthetic clips")
    parser.add_argument("--measure-every", type=int, default=4)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--skip-today", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep each run's outputs in this folder")
    args = harness.parse(parser, argv)
    make_engine = make_engine or harness.Engines(args.weights)
    engine = make_engine(MethodConfig(max_size=args.size, precision=args.precision))
    style = harness.picture(args.style)
    table = Table("clip", "run", ("s clip", "{:.0f}"), "keys+train+render s",
                  ("s/frame", "{:.3f}"), ("yardstick", "{:.1f}"), ("yardstick head", "{:.1f}"),
                  ("true", "{:.1f}"),
                  ("ratio", "{:.2f}"), ("crisp", "{:.2f}"), ("style drop", "{:.1f}"),
                  ("content", "{:.0f}"), "vs keys (crisp/drop/content)")  # fmt: skip
    rows = {}
    for name in args.clips:
        with tempfile.TemporaryDirectory() as tmp:
            source, truth = clip_input(name, Path(tmp) / "in", args.frames, args.scale)
            rows |= clip_rows(engine, style, name, source, truth, args, table)
    harness.finish(args, "network", harness.precision_label(args.precision), [table], rows)


def clip_rows(engine, style, name, source, truth, args, table) -> dict:
    """The rows of one clip (see the module's docstring)."""
    base = {"max_frames": args.frames, "steps_first": args.steps_first}
    runs = {"network": VideoConfig(render="network", keyframes=args.keyframes,
                                   train_minutes=args.train_minutes, **base)}  # fmt: skip
    if not args.skip_today:
        runs["today"] = VideoConfig(**base | {"max_frames": args.today_frames or args.frames})
    if truth is not None:
        runs["independent"] = VideoConfig(warm_start="none", **base)
    out, head = {}, min(args.today_frames or args.frames, args.frames)
    for run_name, config in runs.items():
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) if args.keep is None else args.keep / f"{Path(name).name}-{run_name}"
            folder.mkdir(parents=True, exist_ok=True)
            frames, summary, wall = run(engine, source, style, config, folder)
        contents = yardstick.content_frames(source, frames[0].shape[1::-1], len(frames))
        row = {
            "summary": summary,
            "wall": wall,
            "yardstick": yardstick.measure(frames, contents),
            "yardstick_head": yardstick.measure(frames[:head], contents[:head]),
            "quality": quality(engine, style, frames, contents, args.measure_every),
        }
        if truth is not None:
            row["true"] = yardstick.with_flows(frames, truth)
        out[f"{name} {run_name}"] = row
    for run_name in runs:
        row = out[f"{name} {run_name}"]
        s, q = row["summary"], row["quality"]
        if run_name == "network":
            parts = (s.get("seconds_keyframes") or 0, s.get("seconds_training") or 0,
                     s["seconds_rendering_per_frame"] * s["frames"])  # fmt: skip
            total, per = sum(parts), s["seconds_rendering_per_frame"]
            shown = "+".join(f"{p:.0f}" if p >= 10 else f"{p:.2g}" for p in parts)  # none 0
            keys = "/".join(f"{s.get(f'{k}_vs_keyframes') or 0:.2f}"
                            for k in ("crispness", "style_drop", "content_loss"))  # fmt: skip
        else:
            per = s["seconds_per_later_frame"] or 0.0
            total = s["seconds_first_frame"] + per * (args.frames - 1)  # extrapolated
            shown, keys = "", ""
        row["seconds_clip"], row["seconds_per_frame"] = total, per
        ratio = None
        if truth is not None:
            ratio = row["true"]["mse"] / out[f"{name} independent"]["true"]["mse"]
            row["ratio"] = ratio
        print(table.add(name, run_name, total, shown, per, row["yardstick"]["mse"],
                        row["yardstick_head"]["mse"],
                        row.get("true", {}).get("mse"), ratio, q["crispness"],
                        q["style_drop"], q["content_loss"], keys), flush=True)  # fmt: skip
    return out


if __name__ == "__main__":
    main()
