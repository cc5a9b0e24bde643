"""An older vidstyle beside today's on the same frames, in one run (issue 19, item 2).

Checks out the old commit (default ``967df88``, main before the long-clip work) into a temporary
``git worktree``, runs ``vidstyle video`` of each tree in a subprocess (``PYTHONPATH`` pointing at
that tree) with the same options, and measures both results with the independent yardstick
(:mod:`yardstick`: Farneback flow, its own forward-backward mask, bilinear warp), beside each
tree's own DIS-based figure from its ``report.json``. A regression shows as a ratio over 1 in
the ``today/old`` line. The worktree is removed at the end.

Usage: ``python benchmarks/pastcompare.py CLIP --style PAINTING [--old 967df88] [--size 64]
[--frames 6] [--steps-first 60] [--steps-next 30] [--extra "--temporal-weight 1e6"]
[--json out.json]`` (``--extra`` goes to today's tree only, for its newer options).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import yardstick  # noqa: E402

TODAY = Path(__file__).resolve().parent.parent


def run_tree(tree: Path, clip: Path, style: Path, work: Path, args, extra: list[str]) -> dict:
    """``vidstyle video`` of ``tree`` on the clip; its yardstick and its own report summary."""
    out, frames = work / "out.mp4", work / "frames"
    command = [sys.executable, "-m", "vidstyle", "video", str(clip), "-s", str(style),
               "-o", str(out), "--max-size", str(args.size), "--max-frames", str(args.frames),
               "--steps-first", str(args.steps_first), "--steps-next", str(args.steps_next),
               "--frames-dir", str(frames), "--quiet", *extra]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(tree)}
    subprocess.run(command, check=True, env=env, cwd=work, stdout=subprocess.DEVNULL)
    summary = json.loads(out.with_name(out.name + ".report.json").read_text())["summary"]
    return yardstick.measure_folder(frames, clip) | {"own": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--style", type=Path, required=True)
    parser.add_argument("--old", default="967df88")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--steps-first", type=int, default=60)
    parser.add_argument("--steps-next", type=int, default=30)
    parser.add_argument("--extra", default="", help="options for today's tree only")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    clip, style = args.clip.resolve(), args.style.resolve()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "-C", str(TODAY), "worktree", "add", "--detach", str(old),
                        args.old], check=True, capture_output=True)  # fmt: skip
        try:
            for name, tree, extra in (("old", old, []), ("today", TODAY, shlex.split(args.extra))):
                work = Path(tmp) / f"run-{name}"
                work.mkdir()
                rows[name] = run_tree(tree, clip, style, work, args, extra)
        finally:
            subprocess.run(["git", "-C", str(TODAY), "worktree", "remove", "--force", str(old)],
                           check=False)  # fmt: skip
    rows["today/old"] = {key: rows["today"][key] / rows["old"][key]
                         for key in ("mse", "e_warp")}  # fmt: skip
    print(f"{'tree':>9} {'farneback mse':>13} {'E_warp':>7} {'content':>7} {'kept':>5} "
          f"{'DIS (own)':>9} {'style drop':>10}")  # fmt: skip
    for name in ("old", "today"):
        r = rows[name]
        print(f"{name:>9} {r['mse']:13.1f} {r['e_warp']:7.4f} {r['content_mse']:7.1f} "
              f"{r['kept']:5.2f} {r['own']['temporal_error'] or 0:9.1f} "
              f"{r['own'].get('style_drop') or float('nan'):10.1f}")  # fmt: skip
    ratio = rows["today/old"]
    print(f"today/old: farneback mse {ratio['mse']:.2f}, E_warp {ratio['e_warp']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
