"""A clip cut at its shot cuts, for a cluster: each shot is an independent range of the clip's
frames, a unit of work of its own.

The warm start of a clip's frames begins afresh after a shot cut, and a later pass never holds a
frame to one across a cut (see :mod:`vidstyle.pipeline.video` and :mod:`vidstyle.pipeline.passes`),
so the shots of a clip can run on different workers, every pass each, and give the frames the
one-machine run gives. The driver decodes the clip, finds the cuts the way the frame loop does
(:func:`vidstyle.pipeline.clip.working_frames`), sends each shot's working-size frames to a
worker (:meth:`vidstyle.jobs.executor.Executor.run_range`), keeps the stylized frames it gets
back in the clip's work folder and, when every shot is in, joins them in order with the source's
sound.

Finished shots are recorded in ``shots.json`` in the work folder, so a rerun after the driver
died does only the shots not yet finished. A clip of one pass also gets ``manifest.json`` with
its finished frames from the first on, so the one-process runner can continue it; the final
frames of several passes are not the first pass's that runner would go on from, so those are
kept apart (in the last pass's folder) and left out of its manifest.

A clip rendered by a trained network (``render = "network"`` with a ``network`` file) has no
frame that depends on another: :func:`pieces` cuts it into runs of CHUNK_FRAMES frames instead,
so that its frames spread over every worker however few its shots.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidstyle.config import VideoConfig
from vidstyle.errors import DecodeError
from vidstyle.fsutil import atomic_path
from vidstyle.jobs.plan import Task
from vidstyle.media.images import load_image, save_image
from vidstyle.pipeline import clip as cliplib
from vidstyle.pipeline import netmeasure
from vidstyle.pipeline import video as videopipe
from vidstyle.pipeline.workdir import WorkDir

CHUNK_FRAMES = 24  # a network-rendered clip's frames per unit of work


def split(clip: cliplib.Clip, config: VideoConfig, max_size: int) -> list[tuple]:
    """The clip's frames at the working size, grouped into shots.

    Args:
        clip: the clip (see :func:`vidstyle.pipeline.clip.open_clip`).
        config: the video options (``start``, ``end``, ``max_frames``, ``shot_threshold``).
        max_size: the working size's longest side.

    Returns:
        One tuple of :class:`vidstyle.media.video.Frame` per shot, in order.

    Raises:
        DecodeError: when the clip holds no frames (or cannot be decoded).
    """
    shots: list[list] = []
    frames = cliplib.frames_of(clip, config)
    for frame, cut in cliplib.working_frames(frames, max_size, config.shot_threshold):
        if cut or not shots:
            shots.append([])
        shots[-1].append(frame)
    if not shots:
        raise DecodeError(clip.path, "contains no video frames")
    return [tuple(shot) for shot in shots]


def pieces(shots: list[tuple], config: VideoConfig) -> tuple[list[tuple], set[int]]:
    """The units of a clip's work: its shots, or for a network-rendered clip runs of
    CHUNK_FRAMES frames; and the frames (by index) that follow a shot cut.

    Args:
        shots: the clip's shots (:func:`split`).
        config: the video options (``render``).

    Returns:
        The units in order, and the indices of the frames that begin a shot after the first.
    """
    cuts = {shot[0].index for shot in shots[1:]}
    if config.render != "network":
        return shots, cuts
    frames = [frame for shot in shots for frame in shot]
    return [tuple(frames[i : i + CHUNK_FRAMES]) for i in range(0, len(frames), CHUNK_FRAMES)], cuts


class ShotBook:
    """The finished shots of one clip, in its work folder.

    Args:
        output: the clip's output.
        fingerprint: what decides the frames (:func:`vidstyle.pipeline.video.fingerprint`); a
            work folder left with another one is cleared.
        passes: the clip's passes (see the module's docstring).
    """

    def __init__(self, output: Path, fingerprint: str, passes: int = 1):
        self.work = WorkDir(output, fingerprint)
        self.work.final = passes
        self.path = self.work.root / "shots.json"
        self.records: dict[int, dict] = {}  # frame index -> record
        if self.work.root.exists() and not self._load():
            shutil.rmtree(self.work.root)

    def _load(self) -> bool:
        """Read what is finished; False when the folder belongs to another fingerprint."""
        books = (self.work.manifest, self.path) if self.work.final == 1 else (self.path,)
        for path in books:
            if not path.is_file():
                continue
            saved = json.loads(path.read_text())
            if saved.get("fingerprint") != self.work.fingerprint:
                return False
            self.records |= {r["index"]: r for r in saved["frames"]}
        return True

    def done(self, shot: tuple) -> bool:
        """Whether every frame of the shot is finished."""
        return all(f.index in self.records for f in shot)

    def add(self, frames: list[np.ndarray], records: list[dict], cut: bool) -> None:
        """Keep a finished shot: its frames as PNGs, then its records (``cut`` marks its first
        frame as following a shot cut)."""
        for record, rgb in zip(records, frames):
            save_image(self.work.frame(record["index"]), rgb)
        records = [dict(r) for r in records]
        records[0]["cut"] = cut
        self.records |= {r["index"]: r for r in records}
        ordered = [self.records[i] for i in sorted(self.records)]
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps({"fingerprint": self.work.fingerprint, "frames": ordered}))
        if self.work.final == 1:
            self.work.save([r for i, r in enumerate(ordered) if r["index"] == i])  # from 0 on

    def finish(self, clip: cliplib.Clip, config: VideoConfig, output: Path,
               precision: str | None = None):  # fmt: skip
        """Join every frame in order with the sound into ``output`` (see
        :func:`vidstyle.pipeline.video.finish_clip`). Returns its :class:`VideoResult`."""
        records = [self.records[i] for i in sorted(self.records)]
        extra = netmeasure.summary(records, []) if config.render == "network" else None
        return videopipe.finish_clip(clip, config, self.work, records, output, precision,
                                     extra=extra)  # fmt: skip


@dataclass
class ClipRun:
    """A clip under way on a cluster: its shots, which are done, running or waiting."""

    task: Task
    clip: cliplib.Clip
    book: ShotBook
    shots: list[tuple]
    waiting: list[int] = field(default_factory=list)
    running: int = 0
    seconds: float = 0.0
    stopped: str | None = None
    failed: bool = False
    workers: dict = field(default_factory=dict)  # shot -> lane
    cuts: set = field(default_factory=set)  # the frames that follow a shot cut, by index

    @classmethod
    def open(cls, task: Task) -> ClipRun:
        """Check the clip's outputs, open it once, find its shots and those already finished.

        Raises:
            VidstyleError: an unusable clip, style or output.
        """
        cliplib.check_outputs(task.source, task.output, task.video)
        clip = cliplib.open_clip(task.source)
        style = [load_image(path).rgb for path in task.styles]
        print_ = videopipe.fingerprint(clip, style if task.blend else style[0], task.method,
                                       task.video)  # fmt: skip
        book = ShotBook(task.output, print_, task.video.passes)
        shots, cuts = pieces(split(clip, task.video, task.method.max_size), task.video)
        run = cls(task, clip, book, shots, cuts=cuts)
        run.waiting = [i for i, shot in enumerate(shots) if not book.done(shot)]
        return run

    def after_cut(self, part: int) -> bool:
        """Whether unit ``part``'s first frame follows a shot cut."""
        return self.shots[part][0].index in self.cuts

    @property
    def frames(self) -> int:
        """The clip's frames in all."""
        return sum(map(len, self.shots))

    def finish(self) -> dict:
        """Join the finished shots into the clip's output. Returns what the report shows of it.

        Raises:
            EncodeError: when the output cannot be written.
        """
        task = self.task
        done = self.book.finish(self.clip, task.video, task.output, task.method.precision)
        shots = [{"first": shot[0].index, "frames": len(shot), "worker": self.workers.get(i)}
                 for i, shot in enumerate(self.shots)]  # fmt: skip
        return {"report": str(done.report_path), "summary": done.summary, "shots": shots}
