"""An older vidstyle beside today's on the same frames, in one run (issue 19, item 2).

Checks out the old commit (default ``967df88``, main before the long-clip work) into a temporary
``git worktree``, runs ``vidstyle video`` of each tree in a subprocess (``PYTHONPATH`` pointing at
that tree), and measures every result with the independent yardstick (:mod:`yardstick`:
Farneback flow, its own forward-backward mask, bilinear warp), beside each tree's own DIS-based
figure from its ``report.json``.

Each tree runs at its OWN defaults for later frames (the old commit: 100 Adam steps; today: its
``VideoConfig`` defaults), unless ``--steps-next`` forces a count on both; the first frame takes
the same ``--steps-first`` in both (200 by default: cheap, and the same start for both). Today's
tree runs once per ``--variant NAME="--opts"`` (repeatable; ``today`` = its defaults, always
first), so that candidates show as ratios to the old commit in one run. The style drop (the
content's style loss over the result's) and the crispness (the result's mean absolute Laplacian
over its content's) of every row are scored afterwards by today's engine, the same for all rows.

``CLIP`` is a video file or ``synth:NAME`` (a clip of :data:`SYNTH` rendered by
:mod:`synthclips` to a temporary folder of PNGs, lossless); at the clip's own size
(``--size 96``) the rows also get the yardstick through the true flows and occlusion masks
(``true mse``).

Usage: ``python benchmarks/pastcompare.py CLIP --style PAINTING [--old 967df88] [--size 64]
[--frames 8] [--steps-first 200] [--steps-next N] [--variant lin="--temporal-warp linear"]...
[--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthclips  # noqa: E402
import yardstick  # noqa: E402

TODAY = Path(__file__).resolve().parent.parent
SYNTH = {  # a camera pan of (2, 1) px per frame and an object crossing it at (-4, 1): whole
    # pixels at the clip's own size (96 px), where no warp's interpolation is charged (see
    # yardstick.bias), and where the true flows and occlusion masks are known
    "panocclude": synthclips.Scene(pan=(2.0, 1.0), size=(96, 72), frames=10, seed=3,
                                   things=(synthclips.Thing((16, 13), (70, 36), (-4.0, 1.0)),)),
}  # fmt: skip


def run_tree(tree: Path, clip: Path, style: Path, work: Path, args, extra: list[str],
             truth=None) -> dict:  # fmt: skip
    """``vidstyle video`` of ``tree`` on the clip; its yardstick and its own report summary;
    with ``truth`` (a rendered :class:`synthclips.Clip` at the working size), also the yardstick
    through the true flows and occlusion masks (``true_mse``)."""
    out, frames = work / "out.mp4", work / "frames"
    steps = ["--steps-first", str(args.steps_first)]
    steps += ["--steps-next", str(args.steps_next)] if args.steps_next is not None else []
    command = [sys.executable, "-m", "vidstyle", "video", str(clip), "-s", str(style),
               "-o", str(out), "--max-size", str(args.size), "--max-frames", str(args.frames),
               *steps, "--frames-dir", str(frames), "--quiet", *extra]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(tree)}
    subprocess.run(command, check=True, env=env, cwd=work, stdout=subprocess.DEVNULL)
    summary = json.loads(out.with_name(out.name + ".report.json").read_text())["summary"]
    row = yardstick.measure_folder(frames, clip) | {"own": summary, "frames": str(frames)}
    if truth is not None:
        from vidstyle.media.images import load_image

        results = [load_image(p).rgb for p in sorted(frames.glob("*.png"))]
        pairs = [(flow, mask > 0.5) for flow, mask in zip(truth.backward, truth.masks)]
        true = yardstick.with_flows(results, pairs)
        row |= {"true_mse": true["mse"], "true_e_warp": true["e_warp"]}
    return row


def score(rows: dict, clip: Path, style: Path, size: int) -> None:
    """Add ``style_drop`` and ``crispness`` (means over the frames) to each row, by today's
    engine with the method's defaults at ``size``."""
    from vidstyle import load_engine
    from vidstyle.config import MethodConfig
    from vidstyle.media import flow as flowlib
    from vidstyle.media.images import load_image
    from vidstyle.pipeline.image import targets_for

    engine, painting = load_engine(MethodConfig(max_size=size)), load_image(style).rgb
    for row in rows.values():
        results = [load_image(p).rgb for p in sorted(Path(row.pop("frames")).glob("*.png"))]
        height, width = results[0].shape[:2]
        contents = yardstick.content_frames(clip, (width, height), len(results))
        drops, crisp = [], []
        for result, content in zip(results, contents):
            targets = targets_for(engine, painting, content)
            own = engine.losses(content, content, targets)["style"]
            drops.append(own / engine.losses(result, content, targets)["style"])
            crisp.append(flowlib.crispness(result, content))
        row["style_drop"], row["crispness"] = float(np.mean(drops)), float(np.mean(crisp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip")
    parser.add_argument("--style", type=Path, required=True)
    parser.add_argument("--old", default="967df88")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--steps-first", type=int, default=200, help="both trees")
    parser.add_argument("--steps-next", type=int, help="force on both trees (default: their own)")
    parser.add_argument("--variant", action="append", default=[], metavar='NAME="--OPTS"',
                        help="a row of today's tree with these options (repeatable)")  # fmt: skip
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    variants = {"today": ""} | dict(v.split("=", 1) for v in args.variant)
    style, rows = args.style.resolve(), {}
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(args.clip).resolve() if not args.clip.startswith("synth:") else None
        truth = None
        if clip is None:
            scene = SYNTH[args.clip[6:]]
            clip, truth = Path(tmp) / args.clip[6:], synthclips.make_clip(scene)
            synthclips.write_frames(truth, clip)
            truth = truth if max(scene.size) == args.size else None  # true flows at 1:1 only
        old = Path(tmp) / "old"
        subprocess.run(["git", "-C", str(TODAY), "worktree", "add", "--detach", str(old),
                        args.old], check=True, capture_output=True)  # fmt: skip
        try:
            runs = [("old", old, "")] + [(name, TODAY, opts) for name, opts in variants.items()]
            for name, tree, opts in runs:
                work = Path(tmp) / f"run-{name}"
                work.mkdir()
                rows[name] = run_tree(tree, clip, style, work, args, shlex.split(opts), truth)
                print(f"{name}: mse {rows[name]['mse']:.1f}", file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "-C", str(TODAY), "worktree", "remove", "--force", str(old)],
                           check=False)  # fmt: skip
        score(rows, clip, style, args.size)
    print(f"{'row':>12} {'indep. mse':>10} {'E_warp':>7} {'/old':>5} {'content':>7} {'kept':>5} "
          f"{'DIS (own)':>9} {'style drop':>10} {'/today':>6} {'crisp':>5}")  # fmt: skip
    for name, r in rows.items():
        r["mse/old"] = r["mse"] / rows["old"]["mse"]
        r["drop/today"] = r["style_drop"] / rows["today"]["style_drop"]
        true = ""
        if "true_mse" in r:
            ratio = r["true_mse"] / rows["old"]["true_mse"]
            true = f"  true mse {r['true_mse']:6.1f} ({ratio:.2f})"
        print(f"{name:>12} {r['mse']:10.1f} {r['e_warp']:7.4f} {r['mse/old']:5.2f} "
              f"{r['content_mse']:7.1f} {r['kept']:5.2f} {r['own']['temporal_error'] or 0:9.1f} "
              f"{r['style_drop']:10.1f} {r['drop/today']:6.2f} {r['crispness']:5.2f}"
              + true)  # fmt: skip
    if args.json:
        settings = vars(args) | {"style": str(style), "json": str(args.json)}
        args.json.write_text(json.dumps({"args": settings, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
