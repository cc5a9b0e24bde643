"""The frame loop of a clip: warm start, temporal loss, shot cuts, a resumable work folder, the
quality report, and the final encode (Ruder, Dosovitskiy, Brox, "Artistic style transfer for
videos", 2016). The clip as a source (probing, frames, shot cuts) is :mod:`vidstyle.pipeline.clip`.

One loop runs a clip's frames, :func:`stylize_frames`: for a whole clip (:func:`stylize_clip`)
and for a range of its frames on its own (:func:`stylize_range`, a shot sent to a worker).

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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidstyle.config import VideoConfig
from vidstyle.engine.request import Request, Stop
from vidstyle.errors import DecodeError
from vidstyle.media import flow as flowlib
from vidstyle.media import video as videolib
from vidstyle.media.images import fit_longest, fitted_size, load_image, save_image
from vidstyle.pipeline import clipout
from vidstyle.pipeline import fingerprint as fingerprints
from vidstyle.pipeline import network as netpath
from vidstyle.pipeline import passes as passeslib
from vidstyle.pipeline import temporal as temporallib
from vidstyle.pipeline.clip import (
    Clip,
    check_outputs,
    expected_frames,
    frames_of,
    open_clip,
    working_frames,
)
from vidstyle.pipeline.clipout import write_report
from vidstyle.pipeline.image import targets_for
from vidstyle.pipeline.previous import Previous, shot_start
from vidstyle.pipeline.workdir import WorkDir
from vidstyle.progress import NullReporter, Reporter, level_callback, step_callback


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
        frame_stop: called as each frame's optimization starts; raises to stop between frames
            (at a deadline).
        first: the index the progress gives the frame numbered 0 here (a range of a clip's
            frames, numbered from 0).
    """

    def __init__(self, engine, style: np.ndarray, config: VideoConfig, reporter: Reporter,
                 flows: temporallib.FlowCache | None = None, stop: Stop | None = None,
                 frame_stop: Stop | None = None, first: int = 0):  # fmt: skip
        self.engine = engine
        self.stop, self.frame_stop, self.first = stop, frame_stop, first
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
        sweep = f" (pass {self.sweep}/{passes})" if passes > 1 else ""
        return f"frame {index + self.first}{sweep}"

    def run(self, frame: videolib.Frame, previous: Previous | None,
            cut: bool = False) -> tuple[Previous, dict]:  # fmt: skip
        """Stylize one frame (``cut``: a shot cut lies before it, see :func:`working_frames`).
        Returns its content and result (working size, uint8), the next frame's ``previous``,
        and its record."""
        started = time.monotonic()
        work = self.working(frame.rgb)
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
        if self.frame_stop is not None:
            self.frame_stop()
        self.reporter.start_item(self.name(index), steps)
        request = Request(work, self.targets, start=init, steps=steps, temporal=temporal,
                          learning_rate=learning_rate, on_step=step_callback(self.reporter),
                          on_level=level_callback(self.reporter), stop=self.stop)  # fmt: skip
        return (engine or self.engine).stylize(request)

    def follow(self, previous: Previous | None, index: int, work, result, cut: bool,
               detail: float | None = None) -> Previous:  # fmt: skip
        """The next frame's ``previous``: this frame, with the earlier ones that the long-term
        offsets reach (none after a shot cut), and its shot's first frame's result's detail
        (``detail`` when given, else this frame's when it begins a shot, else
        ``previous``'s)."""
        if previous is None or cut:
            first = flowlib.detail(result) if detail is None else detail
            return Previous(work, result, index, detail=first)
        earlier = (dataclasses.replace(previous, earlier=()), *previous.earlier)
        first = previous.detail if detail is None else detail
        return Previous(work, result, index, earlier[: max(self.config.long_term) - 1], first)

    def _start(self, index: int, work: np.ndarray, previous: Previous | None):
        if previous is None:
            return None, None, self.steps_first, None
        if self.config.warm_start == "prev":
            return previous.result, None, self.config.steps_next, None
        near = [temporallib.Neighbour(j, p.index, p.content, p.result)
                for j in self.config.long_term if (p := previous.back(j)) is not None]  # fmt: skip
        start = temporallib.start_from(index, work, near, self.flows, self.config.temporal_warp,
                                       self.config.new_content == "content",
                                       previous.detail)  # fmt: skip
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
        if previous is None or previous.content.shape != work.shape:  # no flow joins two sizes
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
    frame_stop: Stop | None = None,
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
        frame_stop: called as each frame starts; raises to stop between frames (a deadline).

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
    if config.render == "network":  # a network trained on stylized keyframes renders each frame
        frames = netpath.Source(lambda: frames_of(clip, config), expected_frames(clip, config),
                                output)  # fmt: skip
        records, extra = netpath.run(engine, style, config, work, records, frames, reporter, stop,
                                     frame_stop)  # fmt: skip
        return finish_clip(clip, config, work, records, output, engine.method.precision,
                           engine.device.label, extra)  # fmt: skip
    loop = clip_loop(engine, style, config, reporter, work, stop, frame_stop)
    reporter.begin(expected_frames(clip, config) * config.passes or None, "frames")
    try:
        records = stylize_frames(loop, frames_of(clip, config), work, records)
    finally:
        reporter.end()
    if not records:
        raise DecodeError(source, "contains no video frames")
    return finish_clip(clip, config, work, records, output, engine.method.precision,
                       engine.device.label)  # fmt: skip


def stylize_range(
    engine,
    frames: list[videolib.Frame],
    style: np.ndarray,
    config: VideoConfig,
    scratch: Path,
    reporter: Reporter | None = None,
    stop: Stop | None = None,
    frame_stop: Stop | None = None,
) -> tuple[list[np.ndarray], list[dict]]:
    """Stylize a range of a clip's frames on its own, every pass, as :func:`stylize_clip` does
    the whole clip: its first frame starts afresh (as after a shot cut, so a shot gives the
    frames the whole clip's run gives it).

    Args:
        engine: the engine.
        frames: the range's frames, in order (any size; a frame's ``index`` is its place in the
            clip).
        style: the style painting (or a list of them, blended).
        config: the video options.
        scratch: a folder for the range's work folder (removed at the end).
        reporter, stop, frame_stop: as for :func:`stylize_clip`.

    Returns:
        The final result of each frame (working size, uint8) and its record, in order.
    """
    reporter = reporter or NullReporter()
    first = frames[0].index
    local = (videolib.Frame(i, frame.time, frame.rgb) for i, frame in enumerate(frames))
    work = WorkDir(scratch / f"range-{first}", "")
    loop = clip_loop(engine, style, config, reporter, work, stop, frame_stop, first)
    try:
        records = stylize_frames(loop, local, work, [])
        results = [load_image(work.frame(record["index"])).rgb for record in records]
    finally:
        shutil.rmtree(work.root, ignore_errors=True)
    return results, [record | {"index": record["index"] + first} for record in records]


def clip_loop(engine, style, config: VideoConfig, reporter: Reporter, work: WorkDir,
              stop: Stop | None = None, frame_stop: Stop | None = None,
              first: int = 0) -> FrameLoop:  # fmt: skip
    """The frame loop of a clip whose work folder is ``work`` (its flows kept there when there
    are several passes, for the later ones)."""
    flows = temporallib.FlowCache(work.root / "flows" if config.passes > 1 else None)
    return FrameLoop(engine, style, config, reporter, flows, stop, frame_stop, first)


def stylize_frames(loop: FrameLoop, frames: Iterable[videolib.Frame], work: WorkDir,
                   records: list[dict]) -> list[dict]:  # fmt: skip
    """The one frame loop: every pass over ``frames`` (numbered from 0, in order) that the work
    folder does not hold yet. Returns every frame's record (of its final result)."""
    records = _first_pass(loop, frames, work, records)
    if records and loop.config.passes > 1:
        records = passeslib.run_passes(loop, work, records, loop.reporter)
    return records


def finish_clip(clip: Clip, config: VideoConfig, work: WorkDir, records: list[dict],
                output: Path, precision: str | None = None, device: str | None = None,
                extra: dict | None = None) -> VideoResult:  # fmt: skip
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
        extra: more of the summary (the network path's, :mod:`vidstyle.pipeline.network`).

    Returns:
        The output, the report's path and its summary.

    Raises:
        EncodeError: when the output cannot be written.
    """
    clipout.deliver(clip, config, work, records, output)
    report_path = _report_path(output)
    summary = write_report(report_path, records, clip, config, precision, device, extra)
    shutil.rmtree(work.root)
    return VideoResult(output, report_path, summary)


def _first_pass(loop: FrameLoop, frames, work: WorkDir, records: list[dict]) -> list[dict]:
    """Run the first pass's frames not yet done; returns every frame's record. The frames done
    that the next one is held to (the previous, and those of the long-term offsets) are read
    back from the work folder."""
    config, reporter = loop.config, loop.reporter
    done, reach = len(records), max(config.long_term)
    previous = None
    for frame, cut in working_frames(frames, loop.engine.method.max_size, config.shot_threshold):
        if frame.index < done:
            if frame.index >= done - reach:
                result = load_image(work.frame(frame.index, 1)).rgb
                cut = records[frame.index]["cut"]
                first = load_image(work.frame(shot_start(records, frame.index), 1)).rgb
                detail = flowlib.detail(first)
                previous = loop.follow(previous, frame.index, frame.rgb, result, cut, detail)
            reporter.end_item(loop.name(frame.index), "skipped", 0.0)
            continue
        previous, record = loop.run(frame, previous, cut)
        save_image(work.frame(frame.index, 1), previous.result)
        if config.passes > 1:
            save_image(work.content(frame.index), previous.content)
        records.append(record)
        work.save(records)
        reporter.end_item(loop.name(frame.index), "done", record["seconds"])
    return records


def _report_path(output: Path) -> Path:
    return output.with_name(output.name + ".report.json")
