"""Fewer evaluations per later video frame (issue 18, item 3): seconds per later frame against
the independent temporal error and the style drop, for candidates beside today's default.

On one clip the first frame is stylized once (``--steps-first`` Adam steps, kept in ``--cache``
and shared by every candidate). Each candidate then runs the later frames itself, as
``vidstyle video`` does (:class:`vidstyle.pipeline.video.FrameLoop`: the previous result warped by
DIS flow as the start, the temporal term, the method's optimizer), each frame from the
candidate's own previous result. The candidates take turns frame by frame, so that a change in
the machine's load hits them alike; the table is printed (and ``--json`` written) after each round
of frames. For each candidate it prints:

- ``s/frame``: the median seconds of a later frame (warm start, flows and optimization), the
  candidate's first later frame left out (it compiles the step functions); ``speed`` is the
  default's seconds over the candidate's; ``s optim.`` the part of it in the optimization (the
  rest is the two DIS flows from several starts, the masks and the warp: the same for all);
- ``evals``: loss-and-gradient evaluations per later frame (Adam steps, L-BFGS iterations; a
  coarse level's count as they are, at a quarter of the cost per halving);
- the independent yardstick (:mod:`yardstick`: Farneback flow, its own forward-backward mask,
  bilinear warp) over the frames 0..N: Ruder's masked MSE on 0..255 and Lai's E_warp on 0..1,
  and ``tmp/def``, the candidate's MSE over the default's;
- ``DIS``: vidstyle's own figure (the mean temporal error of its report, through the DIS flow,
  masks and Lanczos warp that the optimization minimizes), for comparison only;
- ``drop``: the style drop, the mean over the later frames of (the content's style loss / the
  result's), and ``drop/def``, the candidate's over the default's;
- ``ok``: the issue's target met: speed >= 4, tmp/def <= 1.1, drop/def >= 0.9.

A candidate is named ``{adam|lbfgs}{N}`` (N steps or iterations per later frame) with options
joined by ``-``: ``lr0.05`` (Adam's learning rate), ``tol0.01`` (the method's early stop,
``--tol``), ``s2`` (coarse-to-fine levels, ``--scales``). The first is the default the others
are compared with (today's: ``adam100``).

Usage (the figures of ``benchmarks/README.md``)::

    nice python benchmarks/frames.py --clip ../shared/clips/cockatoo.mp4 --size 256 --frames 4 \
        --steps-first 300 --candidates adam100 adam20 lbfgs20 adam30 adam40-s2 adam20-lr0.05
    nice python benchmarks/frames.py --clip samples/pan.mp4 --size 256 --frames 4 \
        --steps-first 300 --candidates adam100 adam20 lbfgs20 adam30 adam40-s2 adam20-lr0.05
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from vidstyle import load_engine
from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.media.images import load_image, save_image
from vidstyle.pipeline.previous import Previous
from vidstyle.pipeline.video import FrameLoop, frames_of, open_clip
from vidstyle.progress import NullReporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import yardstick  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = ("adam100", "adam50", "adam30", "adam20", "adam20-lr0.05", "adam10-lr0.05",
              "lbfgs20", "lbfgs10", "adam100-tol0.01", "adam40-s2")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One way of running the later frames."""

    name: str
    optimizer: str
    steps: int
    lr: float | None = None
    tol: float = 0.0
    scales: int = 1


def parse(name: str) -> Candidate:
    """A candidate from its name (see the module's docstring)."""
    head, *opts = name.split("-")
    match = re.fullmatch(r"(adam|lbfgs)(\d+)", head)
    if match is None:
        raise SystemExit(f"frames.py: candidate {name!r}: expected adamN or lbfgsN first")
    fields = {}
    keys = {"lr": "lr", "tol": "tol", "s": "scales"}
    for opt in opts:
        key = re.match(r"[a-z]+", opt)
        if key is None or key.group() not in keys:
            raise SystemExit(f"frames.py: candidate {name!r}: unknown option {opt!r}")
        value = opt[key.end() :]
        fields[keys[key.group()]] = int(value) if key.group() == "s" else float(value)
    return Candidate(name, match.group(1), int(match.group(2)), **fields)


HEADER = (
    "| candidate | evals | s/frame | s optim. | speed | indep. MSE | E_warp | tmp/def | "
    "DIS (own) | drop | drop/def | ok |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)


class RateLoop(FrameLoop):
    """A frame loop whose later frames run at another learning rate (None: the method's)."""

    def __init__(self, *args, lr: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lr = lr
        self.optimizing = 0.0  # seconds in the optimization of the last frame

    def stylize(self, index, work, init, steps, temporal, learning_rate=None, engine=None):
        """As :meth:`FrameLoop.stylize`, at ``self.lr`` unless told otherwise (timed)."""
        started = time.monotonic()
        result = super().stylize(index, work, init, steps, temporal, learning_rate or self.lr,
                                 engine)  # fmt: skip
        self.optimizing = time.monotonic() - started
        return result


def video_config(candidate: Candidate, frames: int) -> VideoConfig:
    """The video options of a candidate."""
    return VideoConfig(
        steps_next=candidate.steps, optimizer_next=candidate.optimizer, max_frames=frames
    )


def first_frame(base, style, clip, args) -> tuple[list, Previous]:
    """The clip's working-size frames, and frame 0 stylized (read from the cache when there)."""
    config = VideoConfig(steps_first=args.steps_first, max_frames=args.frames)
    frames = list(frames_of(open_clip(clip), config))
    loop = FrameLoop(base, style, config, NullReporter())
    key = f"{clip.stem}-{args.size}-{args.steps_first}-{args.style.stem}.png"
    cached = args.cache / key
    if cached.is_file():
        work = loop.working(frames[0].rgb)
        return frames, Previous(work, load_image(cached).rgb, 0), loop.targets
    started = time.monotonic()
    previous, _ = loop.run(frames[0], None)
    print(f"first frame: {args.steps_first} steps in {time.monotonic() - started:.0f} s",
          flush=True)  # fmt: skip
    args.cache.mkdir(parents=True, exist_ok=True)
    save_image(cached, previous.result)
    return frames, previous, loop.targets


class Runner:
    """One candidate's run over the later frames, a frame at a time (so that the candidates
    take turns, frame by frame, and a change in the machine's load hits them alike)."""

    def __init__(self, candidate: Candidate, base, style, first: Previous, targets, frames: int):
        from vidstyle.engine.optimize import Engine

        method = base.method.replace(optimizer=candidate.optimizer, tol=candidate.tol,
                                     scales=candidate.scales)  # fmt: skip
        engine = Engine(method, base.extractor, base.device)
        self.loop = RateLoop(engine, style, video_config(candidate, frames), NullReporter(),
                             lr=candidate.lr)  # fmt: skip
        self.loop.targets = targets
        self.previous, self.records, self.results = first, [], [first.result]
        self.contents = [first.content]

    def next(self, frame) -> None:
        """Stylize the next later frame."""
        self.previous, record = self.loop.run(frame, self.previous)
        self.records.append(record | {"optimizing": self.loop.optimizing})
        self.results.append(self.previous.result)
        self.contents.append(self.previous.content)

    def figures(self) -> dict:
        """The candidate's figures over the frames done so far."""
        records = self.records
        independent = yardstick.measure(self.results, self.contents)
        seconds = [r["seconds"] for r in records]
        opt = [r["optimizing"] for r in records]
        return {
            "frames": len(records),
            "seconds": statistics.median(seconds[1:] if len(seconds) > 1 else seconds),
            "seconds_all": seconds,
            "optimizing": statistics.median(opt[1:] if len(opt) > 1 else opt),
            "evals": float(np.mean([r.get("evaluations", r["steps"]) for r in records])),
            "mse": independent["mse"],
            "e_warp": independent["e_warp"],
            "content_mse": independent["content_mse"],
            "kept": independent["kept"],
            "dis": float(np.mean([r["temporal_error"] for r in records])),
            "drop": float(np.mean([r["content_style_loss"] / r["style_loss"] for r in records])),
        }


def row(name: str, figures: dict, default: dict | None) -> str:
    """One printed line of the table (ratios against the default's figures)."""
    default = default or figures
    speed = default["seconds"] / figures["seconds"]
    tmp = figures["mse"] / default["mse"]
    drop = figures["drop"] / default["drop"]
    ok = "yes" if speed >= 4 and tmp <= 1.1 and drop >= 0.9 else "no"
    figures |= {"speed": speed, "temporal_ratio": tmp, "drop_ratio": drop, "meets": ok == "yes"}
    return (f"| {name} | {figures['evals']:.0f} | {figures['seconds']:.1f} | "
            f"{figures['optimizing']:.1f} | {speed:.2f}x | "
            f"{figures['mse']:.1f} | {figures['e_warp']:.5f} | {tmp:.2f} | {figures['dis']:.1f} | "
            f"{figures['drop']:.1f} | {drop:.2f} | {ok} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=ROOT / "samples" / "pan.mp4")
    parser.add_argument("--style", type=Path, default=ROOT / "samples" / "swirls.jpg")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=7, help="frames in all, the first included")
    parser.add_argument("--steps-first", type=int, default=1000)
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/vidstyle-frames-bench"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    candidates = [parse(name) for name in args.candidates]
    base = load_engine(MethodConfig(max_size=args.size, precision="float32"))
    style = load_image(args.style).rgb
    frames, first, targets = first_frame(base, style, args.clip, args)
    print(
        f"{args.clip.name}, {first.result.shape[1]}x{first.result.shape[0]}, "
        f"{len(frames) - 1} later frames, first frame {args.steps_first} Adam steps",
        flush=True,
    )
    runners = {c.name: Runner(c, base, style, first, targets, args.frames) for c in candidates}
    for done, frame in enumerate(frames[1:], 1):
        for runner in runners.values():
            runner.next(frame)
        print(f"after {done} later frames:\n{HEADER}", flush=True)
        out, default = {}, None
        for name, runner in runners.items():
            out[name] = runner.figures()
            print(row(name, out[name], default), flush=True)
            default = default or out[name]
        if args.json:
            args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
