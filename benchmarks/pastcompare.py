"""An older vidstyle beside today's on the same frames, in one run (issue 19, item 2).

Checks out the old commit (default ``967df88``, main before the long-clip work) into a temporary
``git worktree``, runs ``vidstyle video`` of each tree in a subprocess (``PYTHONPATH`` pointing
at that tree; today's is this checkout, uncommitted changes included), and measures every result
with the independent yardstick (:mod:`benchmarks.yardstick`: Farneback flow, its own
forward-backward mask, bilinear warp), beside each tree's own DIS-based figure from its
``report.json``.

Each tree runs at its OWN defaults for later frames (the old commit: 100 Adam steps; today: its
``VideoConfig`` defaults), unless ``--steps-next`` forces a count on both; the first frame takes
the same ``--steps-first`` in both (200 by default: cheap, and the same start for both). Today's
tree runs once per ``--variant NAME="--opts"`` (repeatable; ``today`` = its defaults, always
first), so that candidates show as ratios to the old commit in one run. The style drop (the
content's style loss over the result's) and the crispness (the result's mean absolute Laplacian
over its content's) of every row are scored afterwards by today's engine, the same for all rows.

``CLIP`` is a video file or ``synth:NAME`` (a clip of :data:`SYNTH` rendered by
:mod:`benchmarks.synthclips` to a temporary folder of PNGs, lossless); at the clip's own size
(``--size 96``) the rows also get the yardstick through the true flows and occlusion masks
(``true mse``).

Usage: ``python -m benchmarks.pastcompare CLIP --style PAINTING [--old 967df88] [--size 64]
[--frames 8] [--steps-first 200] [--steps-next N] [--variant lin="--temporal-warp linear"]...``.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks import harness, synthclips, yardstick
from benchmarks.table import Table
from vidstyle.config import MethodConfig
from vidstyle.media import flow as flowlib
from vidstyle.pipeline.image import targets_for

SYNTH = {  # a camera pan of (2, 1) px per frame and an object crossing it at (-4, 1): whole
    # pixels at the clip's own size (96 px), where no warp's interpolation is charged (see
    # benchmarks/bias.py), and where the true flows and occlusion masks are known
    "panocclude": synthclips.Scene(pan=(2.0, 1.0), size=(96, 72), frames=10, seed=3,
                                   things=(synthclips.Thing((16, 13), (70, 36), (-4.0, 1.0)),)),
}  # fmt: skip


def run_tree(tree: Path, clip: Path, style: Path, work: Path, args, extra: list[str],
             truth=None) -> dict:  # fmt: skip
    """``vidstyle video`` of ``tree`` on the clip; its yardstick and its own report summary;
    with ``truth`` (a rendered :class:`benchmarks.synthclips.Clip` at the working size), also
    the yardstick through the true flows and occlusion masks (``true_mse``)."""
    out, frames = work / "out.mp4", work / "frames"
    steps = ["--steps-first", str(args.steps_first)]
    steps += ["--steps-next", str(args.steps_next)] if args.steps_next is not None else []
    argv = ["video", str(clip), "-s", str(style), "-o", str(out), "--max-size", str(args.size),
            "--max-frames", str(args.frames), *steps, "--frames-dir", str(frames), "--quiet",
            *extra]  # fmt: skip
    done = harness.child("vidstyle", argv, tree=tree, cwd=work)
    if done.returncode:
        raise SystemExit(f"pastcompare: vidstyle video of {tree} failed:\n{done.stderr[-2000:]}")
    summary = json.loads(out.with_name(out.name + ".report.json").read_text())["summary"]
    row = yardstick.measure_folder(frames, clip) | {"own": summary, "frames": str(frames)}
    if truth is not None:
        results = [harness.picture(p) for p in sorted(frames.glob("*.png"))]
        pairs = [(flow, mask > 0.5) for flow, mask in zip(truth.backward, truth.masks)]
        true = yardstick.with_flows(results, pairs)
        row |= {"true_mse": true["mse"], "true_e_warp": true["e_warp"]}
    return row


def score(rows: dict, clip: Path, style: Path, engine) -> None:
    """Add ``style_drop`` and ``crispness`` (means over the frames) to each row, by today's
    engine with the method's defaults."""
    painting = harness.picture(style)
    for row in rows.values():
        results = [harness.picture(p) for p in sorted(Path(row.pop("frames")).glob("*.png"))]
        height, width = results[0].shape[:2]
        contents = yardstick.content_frames(clip, (width, height), len(results))
        drops, crisp = [], []
        for result, content in zip(results, contents):
            targets = targets_for(engine, painting, content)
            own = engine.losses(content, content, targets)["style"]
            drops.append(own / engine.losses(result, content, targets)["style"])
            crisp.append(flowlib.crispness(result, content))
        row["style_drop"], row["crispness"] = float(np.mean(drops)), float(np.mean(crisp))


def run_all(args, variants: dict, style: Path, tmp: Path) -> tuple[dict, Path]:
    """Every row: the old tree in a temporary worktree, then today's once per variant."""
    clip = Path(args.clip).resolve() if not args.clip.startswith("synth:") else None
    truth = None
    if clip is None:
        scene = SYNTH[args.clip[6:]]
        clip, truth = tmp / args.clip[6:], synthclips.make_clip(scene)
        synthclips.write_frames(truth, clip)
        truth = truth if max(scene.size) == args.size else None  # true flows at 1:1 only
    old, git = tmp / "old", ["git", "-C", str(harness.ROOT), "worktree"]
    subprocess.run([*git, "add", "--detach", str(old), args.old], check=True, capture_output=True)
    rows = {}
    try:
        runs = [("old", old, "")] + [(name, harness.ROOT, opts) for name, opts in variants.items()]
        for name, tree, opts in runs:
            work = tmp / f"run-{name}"
            work.mkdir()
            rows[name] = run_tree(tree, clip, style, work, args, shlex.split(opts), truth)
            print(f"{name}: mse {rows[name]['mse']:.1f}", file=sys.stderr, flush=True)
    finally:
        subprocess.run([*git, "remove", "--force", str(old)], check=False, capture_output=True)
    return rows, clip


def main(argv: list[str] | None = None, make_engine: harness.MakeEngine | None = None) -> None:
    """Run the trees, score the rows, print the table and log it."""
    parser = harness.parser(__doc__)
    parser.add_argument("clip")
    parser.add_argument("--style", type=Path, required=True)
    parser.add_argument("--old", default="967df88")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--steps-first", type=int, default=200, help="both trees")
    parser.add_argument("--steps-next", type=int, help="force on both trees (default: their own)")
    parser.add_argument("--variant", action="append", default=[], metavar='NAME="--OPTS"',
                        help="a row of today's tree with these options (repeatable)")  # fmt: skip
    args = harness.parse(parser, argv)
    variants = {"today": ""} | dict(v.split("=", 1) for v in args.variant)
    style = args.style.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        rows, clip = run_all(args, variants, style, Path(tmp))
        engine = (make_engine or harness.Engines(args.weights))(MethodConfig(max_size=args.size))
        score(rows, clip, style, engine)
    title = f"{args.clip} at {args.size} px, {args.frames} frames; old = {args.old}"
    table = Table("row", ("indep. mse", "{:.1f}"), ("E_warp", "{:.4f}"), ("/old", "{:.2f}"),
                  ("content", "{:.1f}"), ("kept", "{:.2f}"), ("DIS (own)", "{:.1f}"),
                  ("style drop", "{:.1f}"), ("/today", "{:.2f}"), ("crisp", "{:.2f}"),
                  ("true mse", "{:.1f}"), ("true /old", "{:.2f}"),
                  title=title)  # fmt: skip
    for name, r in rows.items():
        r["mse/old"] = r["mse"] / rows["old"]["mse"]
        r["drop/today"] = r["style_drop"] / rows["today"]["style_drop"]
        true = r.get("true_mse")
        table.add(name, r["mse"], r["e_warp"], r["mse/old"], r["content_mse"], r["kept"],
                  r["own"]["temporal_error"], r["style_drop"], r["drop/today"], r["crispness"],
                  true, None if true is None else true / rows["old"]["true_mse"])  # fmt: skip
    precision = f"today {harness.precision_label()}, the old tree its own"
    harness.finish(args, "pastcompare", precision, [table], {"args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
