"""Video options on one clip: how steady, how crisp, how stylized, and at what cost per frame.

Each row stylizes the clip's first ``--frames`` frames at ``--size`` px with ``vidstyle video``'s
pipeline (:func:`vidstyle.pipeline.video.stylize_clip`), one row after the other in one process
with one engine, its video options changed as the row says; then it prints:

- the independent yardstick (:mod:`benchmarks.yardstick`: Farneback flow, its own
  forward-backward mask, bilinear warp): Ruder's temporal error (``indep. mse``, 0..255 per
  channel, mean over valid pixels), Lai's ``E_warp`` (0..1), and its bias beside it: the content
  frames' own (``content``: the floor), the same after a Gaussian low-pass of 1 px of both frames
  (``σ1 mse``, ``σ1 content``: what blur can no longer buy), and what it charges a perfectly
  steady clip of the row's last result moved by half a pixel, full band and after the same blur
  (``steady ½px``, ``steady σ1``: its flow's error charges detail even after the blur);
- vidstyle's own figure from its report (``DIS (own)``: through the DIS flow, masks and warp the
  optimization minimizes: compare rows with it, never with the yardstick's);
- ``crisp kept``: the report's, the worst later frame's crispness over its shot's first's
  (crispness: a frame's mean absolute Laplacian over its content frame's; below 1, the clip
  softens as it goes); ``vs still``: the worst of the frames ``--stills`` against the same frame
  stylized alone with the first frame's settings (:mod:`benchmarks.stills`; ``-`` without);
- ``drop``: the style drop (the content's style loss over the result's) over all frames, and in
  the first and last quarter (``drop q1``, ``drop q4``);
- ``t. share``: the temporal term's share of the loss, ``held``: the share of pixels it held;
- ``s first``, ``s/later``: seconds of the first frame and per later frame (with several passes,
  all of a frame's passes).

A row is a preset name (:data:`ROWS`) or ``NAME:key=value,...`` over
:class:`vidstyle.config.VideoConfig`'s fields (a tuple as ``1/2/4``), on top of ``--steps-first``
and ``--steps-next`` (when given) and the defaults.

Usage::

    python -m benchmarks.video                       # warm starts and temporal weight, pan.mp4
    python -m benchmarks.video CLIP --style PAINTING --size 96 --frames 240 \\
        --rows defaults lanczos long-term passes3    # does a long clip stay crisp and steady?
    python -m benchmarks.video --optimizer lbfgs --steps-first 100 --rows today defaults \\
        --stills 3 7 11                              # the demo's settings, against the stills
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np

from benchmarks import harness, stills, yardstick
from benchmarks.table import Table
from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.media.images import load_image
from vidstyle.pipeline.video import frames_of, open_clip, stylize_clip

ROWS = {
    "defaults": "",
    "w0": "temporal_weight=0",
    "w1e4": "temporal_weight=1e4",
    "prev": "warm_start=prev",
    "none": "warm_start=none",
    "lanczos": "temporal_warp=lanczos",
    "linear": "temporal_warp=linear",
    "today": "temporal_warp=linear,new_content=warp",  # the defaults before issue 29
    "long-term": "long_term=1/2/4",
    "passes3": "passes=3",
}
COLUMNS = ("row", ("indep. mse", "{:.1f}"), ("E_warp", "{:.3g}"), ("content", "{:.1f}"),
           ("σ1 mse", "{:.2f}"), ("σ1 content", "{:.2f}"), ("steady ½px", "{:.1f}"),
           ("steady σ1", "{:.2f}"),
           ("DIS (own)", "{:.1f}"), ("crisp kept", "{:.3f}"), ("vs still", "{:.3f}"),
           ("drop", "{:.2f}"),
           ("drop q1", "{:.2f}"), ("drop q4", "{:.2f}"), ("t. share", "{:.3f}"),
           ("held", "{:.2f}"), ("s first", "{:.2f}"), ("s/later", "{:.2f}"))  # fmt: skip


def config_of(row: str, common: dict) -> VideoConfig:
    """The video options of a row (see the module's docstring).

    Raises:
        ValueError: for an unknown preset or field.
    """
    name, colon, spec = row.partition(":")
    if not colon and name not in ROWS:
        raise ValueError(f"row {row!r}: not one of {', '.join(ROWS)}, nor NAME:key=value,...")
    return VideoConfig(**(common | harness.fields(ROWS.get(name, "") if not colon else spec,
                                                  VideoConfig())))  # fmt: skip


def run(engine, clip: Path, style: np.ndarray, config: VideoConfig,
        references: dict | None = None) -> dict:  # fmt: skip
    """One row: the clip stylized with ``config``; its report's summary, the yardstick, the
    style drop of the first and last quarter of the frames, and the frames' crispness against
    ``references`` (:func:`benchmarks.stills.against`: frame index to its still)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = dataclasses.replace(config, frames_dir=Path(tmp) / "frames")
        result = stylize_clip(engine, clip, style, Path(tmp) / "out.mp4", config)
        records = json.loads(result.report_path.read_text())["frames"]
        independent = yardstick.measure_folder(config.frames_dir, clip)
        frames = [load_image(p).rgb for p in sorted(config.frames_dir.glob("*.png"))]
    quarter = max(len(records) // 4, 1)
    drops = [r["content_style_loss"] / max(r["style_loss"], 1e-12) for r in records]
    return result.summary | {
        "independent": independent,
        "drop_q1": float(np.mean(drops[:quarter])),
        "drop_q4": float(np.mean(drops[-quarter:])),
        "vs_still": stills.against(frames, references or {}),
    }


def main(argv: list[str] | None = None, make_engine: harness.MakeEngine | None = None) -> None:
    """Run every row on the clip, print the table and log it."""
    parser = harness.parser(__doc__)
    parser.add_argument("clip", type=Path, nargs="?", default=harness.CLIP)
    parser.add_argument("--style", type=Path, default=harness.STYLE)
    parser.add_argument("--size", type=int, default=128, help="longest side of the frames")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--steps-first", type=int, help="(default: the method's steps)")
    parser.add_argument("--steps-next", type=int, help="(default: the video default)")
    parser.add_argument("--rows", nargs="+", default=["defaults", "w0", "prev", "none"])
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--optimizer", choices=("adam", "lbfgs"),
                        help="the method's (and so the first frame's) optimizer (default: its own; "
                             "the demo's: lbfgs with --steps-first 100)")  # fmt: skip
    parser.add_argument("--stills", nargs="+", type=int, default=[], metavar="INDEX",
                        help="later frames also stylized alone with the first frame's settings "
                             "(the vs still column; each costs a first frame)")  # fmt: skip
    args = harness.parse(parser, argv)
    common = {"max_frames": args.frames, "steps_first": args.steps_first}
    common |= {} if args.steps_next is None else {"steps_next": args.steps_next}
    try:
        configs = {row.partition(":")[0]: config_of(row, common) for row in args.rows}
    except ValueError as error:
        parser.error(str(error))
    method = MethodConfig(max_size=args.size, precision=args.precision)
    method = method.replace(optimizer=args.optimizer) if args.optimizer else method
    engine = (make_engine or harness.Engines(args.weights))(method)
    style = harness.picture(args.style)
    frames = list(frames_of(open_clip(args.clip), VideoConfig(**common)))
    references = stills.stills(engine, style, VideoConfig(**common), frames, args.stills)
    table, rows = Table(*COLUMNS, title=f"{args.clip.name}, {args.frames} frames"), {}
    for name, config in configs.items():
        s = rows[name] = run(engine, args.clip, style, config, references)
        ind = s["independent"]
        line = table.add(name, ind["mse"], ind["e_warp"], ind["content_mse"], ind["low_mse"],
                         ind["content_low_mse"], ind["steady_mse"], ind["steady_low_mse"],
                         s["temporal_error"],
                         s["crispness_kept"], s["vs_still"]["worst"], s["style_drop"],
                         s["drop_q1"], s["drop_q4"],
                         s["temporal_share_of_loss"], s["temporal_held"],
                         s["seconds_first_frame"], s["seconds_per_later_frame"])  # fmt: skip
        print(line, flush=True)
    harness.finish(args, "video", harness.precision_label(args.precision), [table], rows)


if __name__ == "__main__":
    main()
