"""Fewer evaluations per later video frame (issue 18, item 3): seconds per later frame against
the independent temporal error and the style drop, for candidates beside today's default.

On one clip the first frame is stylized once (``--steps-first`` Adam steps, kept in ``--cache``
and shared by every candidate). Each candidate then runs the later frames itself, as
``vidstyle video`` does (:class:`vidstyle.pipeline.video.FrameLoop`: the previous result warped by
DIS flow as the start, the temporal term, the candidate's optimizer), each frame from the
candidate's own previous result. The candidates take turns frame by frame, so that a change in
the machine's load hits them alike; the table is printed (and ``--json`` written) after each round
of frames. For each candidate it prints:

- ``s/frame``: the median seconds of a later frame (warm start, flows and optimization), the
  candidate's first later frame left out (it compiles the step functions); ``speed`` is the
  default's seconds over the candidate's; ``s optim.`` the part of it in the optimization (the
  rest is the two DIS flows from several starts, the masks and the warp: the same for all);
- ``evals``: loss-and-gradient evaluations per later frame (Adam steps, L-BFGS iterations; a
  coarse level's count as they are, at a quarter of the cost per halving);
- the independent yardstick (:mod:`benchmarks.yardstick`: Farneback flow, its own
  forward-backward mask, bilinear warp) over the frames 0..N: Ruder's masked MSE on 0..255 and
  Lai's E_warp on 0..1, and ``tmp/def``, the candidate's MSE over the default's; beside it its
  bias: ``σ1 MSE`` (both frames of each pair through a Gaussian blur of 1 px first) and the
  content frames' own (``content``, ``σ1 cont.``), and ``steady``, ``steady σ1``, what it charges
  a perfectly steady clip of the candidate's last frame moved by half a pixel
  (:func:`benchmarks.yardstick.steady_charge`): its flow charges detail even after the blur;
- ``vs still``: the worst crispness of the frames ``--stills`` (default: the last) against the same
  frame stylized alone with the first frame's settings (:mod:`benchmarks.stills`);
- ``DIS``: vidstyle's own figure (the mean temporal error of its report, through the DIS flow,
  masks and Lanczos warp that the optimization minimizes), for comparison only;
- ``drop``: the style drop, the mean over the later frames of (the content's style loss / the
  result's), and ``drop/def``, the candidate's over the default's;
- ``ok``: the issue's target met: speed >= 4, tmp/def <= 1.1, drop/def >= 0.9.

A candidate is named ``{adam|lbfgs}{N}`` (N steps or iterations per later frame) with options
joined by ``-``: ``lr0.05`` (Adam's learning rate), ``tol0.01`` (the method's early stop,
``--tol``), ``s2`` (coarse-to-fine levels, ``--scales``): the candidate's engine runs that
method. The first is the one the others are compared with (today's default: ``lbfgs20``).

Usage::

    nice python -m benchmarks.frames --clip ../shared/clips/cockatoo.mp4 --size 256 --frames 4 \
        --steps-first 300 --candidates lbfgs20 adam100 adam20 adam30 adam40-s2 adam20-lr0.05
"""

from __future__ import annotations

import dataclasses
import re
import statistics
from pathlib import Path

import numpy as np

from benchmarks import harness, stills, timing, yardstick
from benchmarks.table import Table
from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.media.images import save_image
from vidstyle.pipeline.clip import frames_of, open_clip
from vidstyle.pipeline.previous import Previous
from vidstyle.pipeline.video import FrameLoop
from vidstyle.progress import NullReporter

CANDIDATES = ("lbfgs20", "adam100", "adam50", "adam30", "adam20", "adam20-lr0.05",
              "adam10-lr0.05", "lbfgs10", "adam100-tol0.01", "adam40-s2")  # fmt: skip
OPTIONS = {"lr": "learning_rate", "tol": "tol", "s": "scales"}
COLUMNS = ("candidate", ("evals", "{:.0f}"), ("s/frame", "{:.2f}"), ("s optim.", "{:.2f}"),
           ("speed", "{:.2f}x"), ("indep. MSE", "{:.1f}"), ("E_warp", "{:.5f}"),
           ("tmp/def", "{:.2f}"), ("σ1 MSE", "{:.2f}"), ("content", "{:.1f}"),
           ("σ1 cont.", "{:.2f}"), ("steady", "{:.1f}"), ("steady σ1", "{:.2f}"),
           ("vs still", "{:.3f}"),
           ("DIS (own)", "{:.1f}"), ("drop", "{:.1f}"), ("drop/def", "{:.2f}"), "ok")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One way of running the later frames: an optimizer, its steps, and method changes."""

    name: str
    optimizer: str
    steps: int
    changes: tuple[tuple[str, float], ...] = ()


def parse(name: str) -> Candidate:
    """A candidate from its name (see the module's docstring).

    Raises:
        ValueError: for a name of another form.
    """
    head, *opts = name.split("-")
    match = re.fullmatch(r"(adam|lbfgs)(\d+)", head)
    if match is None:
        raise ValueError(f"candidate {name!r}: expected adamN or lbfgsN first")
    changes = []
    for opt in opts:
        key = re.match(r"[a-z]+", opt)
        if key is None or key.group() not in OPTIONS:
            raise ValueError(f"candidate {name!r}: unknown option {opt!r}")
        value = opt[key.end() :]
        changes.append((OPTIONS[key.group()], int(value) if key.group() == "s" else float(value)))
    return Candidate(name, match.group(1), int(match.group(2)), tuple(changes))


class Timed:
    """An engine whose ``stylize`` calls are timed (``seconds``: the last call's)."""

    def __init__(self, engine):
        self.engine, self.seconds = engine, 0.0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def stylize(self, request):
        with timing.Clock() as clock:
            result = self.engine.stylize(request)
        self.seconds = clock.wall
        return result


def first_frame(make_engine, args) -> tuple[list, Previous, object]:
    """The clip's working-size frames, frame 0 stylized (read from the cache when there), and
    the style's targets."""
    config = VideoConfig(steps_first=args.steps_first, max_frames=args.frames)
    frames = list(frames_of(open_clip(args.clip), config))
    base = make_engine(MethodConfig(max_size=args.size, precision=args.precision))
    loop = FrameLoop(base, harness.picture(args.style), config, NullReporter())
    cached = args.cache / f"{cache_key(args)}.png"
    if cached.is_file():
        work = loop.working(frames[0].rgb)
        return frames, Previous(work, harness.picture(cached), 0), loop.targets
    previous, record = loop.run(frames[0], None)
    print(f"first frame: {args.steps_first} steps in {record['seconds']:.0f} s", flush=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    save_image(cached, previous.result)
    return frames, previous, loop.targets


def cache_key(args) -> str:
    """What a cached first frame or still depends on."""
    return f"{args.clip.stem}-{args.size}-{args.steps_first}-{args.style.stem}-{args.precision}"


def references(make_engine, args, frames) -> dict:
    """The frames ``--stills`` (default: the last) stylized alone with the first frame's
    settings (:func:`benchmarks.stills.stills`, kept in ``--cache``)."""
    indices = [len(frames) - 1] if args.stills is None else args.stills
    engine = make_engine(MethodConfig(max_size=args.size, precision=args.precision))
    config = VideoConfig(steps_first=args.steps_first, max_frames=args.frames)
    return stills.stills(engine, harness.picture(args.style), config, frames, indices,
                         args.cache, cache_key(args))  # fmt: skip


class Runner:
    """One candidate's run over the later frames, a frame at a time (so that the candidates
    take turns, frame by frame, and a change in the machine's load hits them alike)."""

    def __init__(self, candidate: Candidate, make_engine, args, first: Previous, targets):
        method = MethodConfig(
            max_size=args.size, precision=args.precision, optimizer=candidate.optimizer
        )
        self.engine = Timed(make_engine(method.replace(**dict(candidate.changes))))
        config = VideoConfig(steps_next=candidate.steps, optimizer_next=candidate.optimizer,
                             max_frames=args.frames)  # fmt: skip
        self.loop = FrameLoop(self.engine, harness.picture(args.style), config, NullReporter())
        self.loop.targets = targets
        self.previous, self.records, self.results = first, [], [first.result]
        self.contents = [first.content]

    def next(self, frame) -> None:
        """Stylize the next later frame."""
        self.previous, record = self.loop.run(frame, self.previous)
        self.records.append(record | {"optimizing": self.engine.seconds})
        self.results.append(self.previous.result)
        self.contents.append(self.previous.content)

    def figures(self, still_frames: dict | None = None) -> dict:
        """The candidate's figures over the frames done so far (its first later frame's seconds
        left out when there are more: it traces the step functions), its frames' crispness
        against ``still_frames`` (index: the frame stylized alone) where it has reached them."""
        records = self.records
        independent = yardstick.measure(self.results, self.contents)
        seconds = [r["seconds"] for r in records]
        opt = [r["optimizing"] for r in records]
        return {
            "frames": len(records),
            "seconds": statistics.median(seconds[1:] or seconds),
            "seconds_all": seconds,
            "optimizing": statistics.median(opt[1:] or opt),
            "evals": float(np.mean([r.get("evaluations", r["steps"]) for r in records])),
            "mse": independent["mse"],
            "e_warp": independent["e_warp"],
            "content_mse": independent["content_mse"],
            "low_mse": independent["low_mse"],
            "content_low_mse": independent["content_low_mse"],
            "steady_mse": independent["steady_mse"],
            "steady_low_mse": independent["steady_low_mse"],
            "vs_still": stills.against(self.results, still_frames or {})["worst"],
            "kept": independent["kept"],
            "dis": float(np.mean([r["temporal_error"] for r in records])),
            "drop": float(np.mean([r["content_style_loss"] / r["style_loss"] for r in records])),
        }


def table_of(figures: dict[str, dict], title: str) -> Table:
    """The table, ratios against the first candidate's figures; ``ok``: the issue's target met
    (speed >= 4, tmp/def <= 1.1, drop/def >= 0.9)."""
    table, default = Table(*COLUMNS, title=title), next(iter(figures.values()))
    for name, f in figures.items():
        f["speed"] = default["seconds"] / f["seconds"]
        f["temporal_ratio"] = f["mse"] / default["mse"]
        f["drop_ratio"] = f["drop"] / default["drop"]
        f["meets"] = f["speed"] >= 4 and f["temporal_ratio"] <= 1.1 and f["drop_ratio"] >= 0.9
        table.add(name, f["evals"], f["seconds"], f["optimizing"], f["speed"], f["mse"],
                  f["e_warp"], f["temporal_ratio"], f["low_mse"], f["content_mse"],
                  f["content_low_mse"], f["steady_mse"], f["steady_low_mse"], f["vs_still"],
                  f["dis"], f["drop"], f["drop_ratio"], "yes" if f["meets"] else "no")  # fmt: skip
    return table


def main(argv: list[str] | None = None, make_engine: harness.MakeEngine | None = None) -> None:
    """Run the candidates frame by frame in turn; print the table after each round, log it."""
    parser = harness.parser(__doc__)
    parser.add_argument("--clip", type=Path, default=harness.CLIP)
    parser.add_argument("--style", type=Path, default=harness.STYLE)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=7, help="frames in all, the first included")
    parser.add_argument("--steps-first", type=int, default=1000)
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/vidstyle-frames-bench"))
    parser.add_argument("--stills", nargs="*", type=int, metavar="INDEX",
                        help="frames also stylized alone with the first frame's settings "
                             "(vs still; default: the last; none: no column)")  # fmt: skip
    args = harness.parse(parser, argv)
    try:
        candidates = [parse(name) for name in args.candidates]
    except ValueError as error:
        parser.error(str(error))
    if args.frames < 2:
        parser.error("--frames must be at least 2 (the first and a later frame)")
    make_engine = make_engine or harness.Engines(args.weights)
    frames, first, targets = first_frame(make_engine, args)
    still_frames = references(make_engine, args, frames)
    runners = {c.name: Runner(c, make_engine, args, first, targets) for c in candidates}
    for done, frame in enumerate(frames[1:], 1):
        for runner in runners.values():
            runner.next(frame)
        figures = {name: runner.figures(still_frames) for name, runner in runners.items()}
        shape = "x".join(map(str, first.result.shape[1::-1]))
        table = table_of(figures, f"{args.clip.name}, {shape}, after {done} later frames, the "
                                  f"first frame {args.steps_first} Adam steps")  # fmt: skip
        print(table, flush=True)
    harness.finish(args, "frames", harness.precision_label(args.precision), [table], figures)


if __name__ == "__main__":
    main()
