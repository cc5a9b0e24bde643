"""The frame loop of a clip: warm start, temporal loss, shot cuts, a resumable work folder, the
quality report, and the final encode (Ruder, Dosovitskiy, Brox, "Artistic style transfer for
videos", 2016).

Each finished frame is saved as a PNG in a work folder beside the output
(:mod:`vidstyle.pipeline.workdir`), with a manifest of what was done. A rerun of the same command
continues after the last finished frame; the final video is written to a temporary name and
renamed only when complete, then the work folder goes. Long-term temporal terms are built in
:mod:`vidstyle.pipeline.temporal`, the passes after the first run in
:mod:`vidstyle.pipeline.passes`, the encode and report in :mod:`vidstyle.pipeline.clipout`.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vidstyle.config import VideoConfig
from vidstyle.engine.request import Request, Stop
from vidstyle.errors import DecodeError, UsageError
from vidstyle.fsutil import check_writable, same_file
from vidstyle.media import flow as flowlib
from vidstyle.media import video as videolib
from vidstyle.media.encode import OUTPUT_FORMATS
from vidstyle.media.images import fit_longest, fitted_size, load_image, save_image
from vidstyle.pipeline import clipout
from vidstyle.pipeline import fingerprint as fingerprints
from vidstyle.pipeline import passes as passeslib
from vidstyle.pipeline import temporal as temporallib
from vidstyle.pipeline.clipout import write_report
from vidstyle.pipeline.image import targets_for
from vidstyle.pipeline.previous import Previous
from vidstyle.pipeline.workdir import WorkDir
from vidstyle.progress import NullReporter, Reporter, level_callback, step_callback

SEQUENCE_FPS = Fraction(25)


@dataclass(frozen=True)
class Clip:
    """A video file or a folder of images taken as a sequence."""

    path: Path
    is_sequence: bool
    fps: Fraction
    frame_count: int | None
    size: tuple[int, int]  # (width, height) of the source


def open_clip(path: Path) -> Clip:
    """Probe a clip. Raises InputError or DecodeError naming the file."""
    if path.is_dir():
        frames = videolib.list_sequence(path)
        first = load_image(frames[0]).rgb
        return Clip(path, True, SEQUENCE_FPS, len(frames), (first.shape[1], first.shape[0]))
    info = videolib.probe(path)
    return Clip(path, False, info.fps, info.frame_count, (info.width, info.height))


def check_outputs(source: Path, output: Path, config: VideoConfig) -> None:
    """Refuse outputs that could not be written, before any work is spent on them.

    Args:
        source: the clip: a video file, or a folder of images (which gives a folder of PNGs).
        output: the video file, or the folder of frames for a sequence.
        config: its ``frames_dir``, when given, is checked too.

    Raises:
        UsageError: a video suffix that cannot be written, or ``frames_dir`` is the source.
        EncodeError: an output that is a file where a folder is wanted (or the reverse), or
            lies under a file or an unwritable folder.
    """
    if source.is_dir():
        check_writable(output, folder=True)
    elif output.suffix.lower() not in OUTPUT_FORMATS:
        raise UsageError(output, f"cannot write '{output.suffix or '(none)'}' videos",
                         hint="end {output} in .mp4, .mov or .mkv")  # fmt: skip
    else:
        check_writable(output)
    if config.frames_dir is not None:
        if same_file(source, config.frames_dir):
            raise UsageError(config.frames_dir, "would overwrite the input frames",
                             hint="choose another {frames_dir}")  # fmt: skip
        check_writable(config.frames_dir, folder=True)


def frames_of(clip: Clip, config: VideoConfig) -> Iterator[videolib.Frame]:
    """The clip's frames in presentation order, within --start/--end and --max-frames."""
    if not clip.is_sequence:
        yield from videolib.read_frames(clip.path, config.start, config.end, config.max_frames)
        return
    files = videolib.list_sequence(clip.path)[: config.max_frames]
    for index, file in enumerate(files):
        yield videolib.Frame(index, float(index / clip.fps), load_image(file).rgb)


def fingerprint(clip: Clip, style: np.ndarray, method, config: VideoConfig) -> str:
    """A digest of everything that decides the frames: input, style and the options that decide
    them, by their declarations (:func:`vidstyle.pipeline.fingerprint.frames_video_part`)."""
    options = fingerprints.frames_video_part(config)
    return fingerprints.fingerprint(clip.path, fingerprints.pixels_digest(style), method, options)


class FrameLoop:
    """Stylizes frames one after the other, each starting from the previous result.

    Args:
        engine: the engine (its method gives the working size and the default steps).
        style: the style painting, HxWx3 uint8 (or a list of them, blended).
        config: the video options.
        reporter: progress.
        flows: where the flows between frames come from (none kept by default).
        stop: called between chunks of steps; raises to stop (see :class:`Request`).
    """

    def __init__(self, engine, style: np.ndarray, config: VideoConfig, reporter: Reporter,
                 flows: temporallib.FlowCache | None = None, stop: Stop | None = None):  # fmt: skip
        self.engine = engine
        self.stop = stop
        self.style = style
        self.config = config
        self.reporter = reporter
        self.steps_first = engine.method.steps if config.steps_first is None else config.steps_first
        self.later = later_engine(engine, config.optimizer_next)
        self.targets = None
        self.flows = flows or temporallib.FlowCache()
        self.sweep = 1  # the pass under way, for the progress

    def name(self, index: int) -> str:
        """The frame's name in the progress (with the pass when there are several)."""
        passes = self.config.passes
        return f"frame {index}" + (f" (pass {self.sweep}/{passes})" if passes > 1 else "")

    def run(self, frame: videolib.Frame, previous: Previous | None) -> tuple[Previous, dict]:
        """Stylize one frame. Returns its content and result (working size, uint8), the next
        frame's ``previous``, and its record."""
        started = time.monotonic()
        work = self.working(frame.rgb)
        cut = previous is not None and flowlib.is_shot_cut(
            previous.content, work, self.config.shot_threshold
        )
        fresh = previous is None or cut or self.config.warm_start == "none"
        init, temporal, steps, start = self._start(frame.index, work, None if fresh else previous)
        result = self.stylize(frame.index, work, init, steps, temporal,
                              engine=self.engine if fresh else self.later)  # fmt: skip
        record = {"index": frame.index, "time": frame.time, "steps": steps, "cut": cut,
                  "seconds": round(time.monotonic() - started, 3)}  # fmt: skip
        flows, mask = (None, None) if start is None else (start.flows, start.mask)
        record |= self.measure(work, result, previous, flows, mask, temporal)
        if start is not None:
            record["temporal_held"] = temporallib.held_share(start.weights)
        return self.follow(previous, frame.index, work, result, cut), record

    def working(self, rgb: np.ndarray) -> np.ndarray:
        """A frame at the working size (the style targets are computed for the first one)."""
        work = fit_longest(rgb, self.engine.method.max_size)
        if self.targets is None:
            self.targets = targets_for(self.engine, self.style, work)  # kept for every frame
        return work

    def stylize(self, index: int, work, init, steps: int, temporal,
                learning_rate: float | None = None, engine=None) -> np.ndarray:  # fmt: skip
        """One optimization of frame ``index``, shown in the progress (``learning_rate``: the
        method's when None; ``engine``: the loop's own, the method's optimizer, when None)."""
        self.reporter.start_item(self.name(index), steps)
        request = Request(work, self.targets, start=init, steps=steps, temporal=temporal,
                          learning_rate=learning_rate, on_step=step_callback(self.reporter),
                          on_level=level_callback(self.reporter), stop=self.stop)  # fmt: skip
        return (engine or self.engine).stylize(request)

    def follow(self, previous: Previous | None, index: int, work, result, cut: bool) -> Previous:
        """The next frame's ``previous``: this frame, with the earlier ones that the long-term
        offsets reach (none after a shot cut)."""
        if previous is None or cut:
            return Previous(work, result, index)
        earlier = (dataclasses.replace(previous, earlier=()), *previous.earlier)
        return Previous(work, result, index, earlier[: max(self.config.long_term) - 1])

    def _start(self, index: int, work: np.ndarray, previous: Previous | None):
        if previous is None:
            return None, None, self.steps_first, None
        if self.config.warm_start == "prev":
            return previous.result, None, self.config.steps_next, None
        near = [temporallib.Neighbour(j, p.index, p.content, p.result)
                for j in self.config.long_term if (p := previous.back(j)) is not None]  # fmt: skip
        start = temporallib.start_from(index, work, near, self.flows, self.config.temporal_warp,
                                       self.config.new_content == "content")  # fmt: skip
        return start.warped, self.temporal(start), self.config.steps_next, start

    def temporal(self, start: temporallib.Start):
        """The engine's temporal term for a :class:`vidstyle.pipeline.temporal.Start`."""
        from vidstyle.engine.inputs import Temporal

        return Temporal(start.target / 255.0, start.weights, self.config.temporal_weight)

    def measure(self, work, result, previous, flows=None, mask=None, temporal=None) -> dict:
        """The result's crispness against its content and its style loss (with the content's
        own style loss, for the drop the optimization made); then against the previous frame
        (flows and mask computed when not given): the temporal errors of the result and of the
        content (the floor), and the temporal term's share of the loss (when there is one)."""
        out = {
            "crispness": flowlib.crispness(result, work),
            "style_loss": self.engine.losses(result, work, self.targets)["style"],
            "content_style_loss": self.engine.losses(work, work, self.targets)["style"],
        }
        if previous is None:
            return out
        flow_ab, flow_ba = flows or _flows(previous.content, work)
        mask = flowlib.reliable_mask(flow_ab, flow_ba) if mask is None else mask
        out["temporal_error"] = flowlib.temporal_error(result, previous.result, flow_ba, mask)
        out["content_error"] = flowlib.temporal_error(work, previous.content, flow_ba, mask)
        if temporal is not None:
            losses = self.engine.losses(result, work, self.targets, temporal)
            weighted = temporal.weight * losses["temporal"]
            out["temporal_share"] = weighted / max(losses["total"], 1e-12)
        return out


def later_engine(engine, optimizer: str):
    """The engine of the frames that start from a previous result: ``engine`` itself when its
    optimizer is ``optimizer``, else a twin with that optimizer sharing its network, device and
    memory budget (the style targets are the same), made once per engine so that its compiled
    steps serve every clip and shot."""
    if engine.method.optimizer == optimizer:
        return engine
    from vidstyle.engine.optimize import Engine

    twins = engine.__dict__.setdefault("twins", {})
    if optimizer not in twins:
        method = engine.method.replace(optimizer=optimizer)
        twins[optimizer] = Engine(method, engine.extractor, engine.device)
    twins[optimizer].memory_budget = engine.memory_budget
    return twins[optimizer]


def _flows(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return flowlib.flow(a, b), flowlib.flow(b, a)


@dataclass(frozen=True)
class VideoResult:
    """What a clip run produced: the output, the report's path and its summary."""

    output: Path
    report_path: Path
    summary: dict


def stylize_clip(
    engine,
    source: Path,
    style: np.ndarray,
    output: Path,
    config: VideoConfig,
    reporter: Reporter | None = None,
    restart: bool = False,
    stop: Stop | None = None,
) -> VideoResult:
    """Stylize a clip (video file or image folder) into ``output``, resuming if possible.

    Args:
        engine: the engine.
        source: a video file, or a folder of images taken as a sequence in natural order.
        style: the style painting, HxWx3 uint8 (or a list of them, blended).
        output: a video file (.mp4, .mov, .mkv), or a folder of numbered PNGs for a sequence.
        config: the video options.
        reporter: progress (frames, and steps of the current frame).
        restart: discard a work folder left by an earlier run instead of resuming it.
        stop: called between chunks of steps; raises to stop the run there (the frames done
            are kept in the work folder).

    Returns:
        The output, the report's path and its summary.

    Raises:
        InputError, DecodeError: for unusable input; UsageError, EncodeError when the output cannot
        be written (checked before any work, see :func:`check_outputs`); ResumeError when a work
        folder of another run is in the way; TooLargeError when the frames' working size would
        not fit in memory.
    """
    reporter = reporter or NullReporter()
    check_outputs(source, output, config)
    clip = open_clip(source)
    width, height = fitted_size(*clip.size, engine.method.max_size)
    engine.check_fits(source, height, width)
    work = WorkDir(output, fingerprint(clip, style, engine.method, config))
    records = work.load(restart)
    flows = temporallib.FlowCache(work.root / "flows" if config.passes > 1 else None)
    loop = FrameLoop(engine, style, config, reporter, flows, stop)
    reporter.begin(_expected_frames(clip, config) * config.passes or None, "frames")
    try:
        records = _process(clip, config, loop, work, records, reporter)
        if records and config.passes > 1:
            records = passeslib.run_passes(loop, work, records, reporter)
    finally:
        reporter.end()
    if not records:
        raise DecodeError(source, "contains no video frames")
    return finish_clip(clip, config, work, records, output, engine.method.precision,
                       engine.device.label)  # fmt: skip


def finish_clip(clip: Clip, config: VideoConfig, work: WorkDir, records: list[dict],
                output: Path, precision: str | None = None,
                device: str | None = None) -> VideoResult:  # fmt: skip
    """Join the finished frames of the work folder, in order, with the source's sound into the
    output (or numbered PNGs), write the quality report and remove the work folder.

    Args:
        clip: the source clip.
        config: the video options.
        work: the work folder holding every frame of ``records``.
        records: every frame's record, in order.
        output: the video file, or the folder of frames of a sequence.
        precision: the network's precision, for the report.
        device: the device it ran on ("CPU" or the GPU's UUID and bus), for the report.

    Returns:
        The output, the report's path and its summary.

    Raises:
        EncodeError: when the output cannot be written.
    """
    clipout.deliver(clip, config, work, records, output)
    report_path = _report_path(output)
    summary = write_report(report_path, records, clip, config, precision, device)
    shutil.rmtree(work.root)
    return VideoResult(output, report_path, summary)


def _expected_frames(clip: Clip, config: VideoConfig) -> int:
    count = clip.frame_count or 0
    if config.start is not None or config.end is not None:
        span = (config.end or count / clip.fps) - (config.start or 0.0)
        count = min(count, round(span * clip.fps)) if count else round(span * clip.fps)
    return min(count, config.max_frames) if config.max_frames else count


def _process(clip, config, loop: FrameLoop, work: WorkDir, records, reporter) -> list[dict]:
    """Run the first pass's frames not yet done; returns every frame's record. The frames done
    that the next one is held to (the previous, and those of the long-term offsets) are read
    back from the work folder."""
    done, reach = len(records), max(config.long_term)
    previous = None
    for frame in frames_of(clip, config):
        if frame.index < done:
            if frame.index >= done - reach:
                content = fit_longest(frame.rgb, loop.engine.method.max_size)
                result = load_image(work.frame(frame.index, 1)).rgb
                cut = records[frame.index]["cut"]
                previous = loop.follow(previous, frame.index, content, result, cut)
            reporter.end_item(loop.name(frame.index), "skipped", 0.0)
            continue
        previous, record = loop.run(frame, previous)
        save_image(work.frame(frame.index, 1), previous.result)
        if config.passes > 1:
            save_image(work.content(frame.index), previous.content)
        records.append(record)
        work.save(records)
        reporter.end_item(loop.name(frame.index), "done", record["seconds"])
    return records


def _report_path(output: Path) -> Path:
    return output.with_name(output.name + ".report.json")
