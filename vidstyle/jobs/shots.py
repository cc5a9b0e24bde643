"""A clip cut at its shot cuts, for a cluster: each shot is an independent piece of work.

The warm start of a clip's frames begins afresh after a shot cut (see
:mod:`vidstyle.pipeline.video`), so the shots of a clip can run on different workers and give
the frames the one-machine run gives. The driver decodes the clip, finds the cuts the way the
frame loop does (:func:`vidstyle.media.flow.is_shot_cut` on working-size frames), sends each
shot's frames to a worker, keeps the stylized frames it gets back in the clip's work folder and,
when every shot is in, joins them in order with the source's sound.

Finished shots are recorded in ``shots.json`` in the work folder, so a rerun after the driver
died does only the shots not yet finished; ``manifest.json`` gets the finished frames from the
first on, so the one-process runner can continue the clip as well.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from vidstyle.config import VideoConfig
from vidstyle.errors import DecodeError
from vidstyle.fsutil import atomic_path
from vidstyle.media import flow as flowlib
from vidstyle.media import video as videolib
from vidstyle.media.images import fit_longest, save_image
from vidstyle.pipeline import video as videopipe


def split(clip: videopipe.Clip, config: VideoConfig, max_size: int) -> list[tuple]:
    """The clip's frames at the working size, grouped into shots.

    Args:
        clip: the clip (see :func:`vidstyle.pipeline.video.open_clip`).
        config: the video options (``start``, ``end``, ``max_frames``, ``shot_threshold``).
        max_size: the working size's longest side.

    Returns:
        One tuple of :class:`vidstyle.media.video.Frame` per shot, in order.

    Raises:
        DecodeError: when the clip holds no frames (or cannot be decoded).
    """
    shots: list[list] = []
    previous = None
    for frame in videopipe.frames_of(clip, config):
        work = fit_longest(frame.rgb, max_size)
        if previous is None or flowlib.is_shot_cut(previous, work, config.shot_threshold):
            shots.append([])
        shots[-1].append(videolib.Frame(frame.index, frame.time, work))
        previous = work
    if not shots:
        raise DecodeError(clip.path, "contains no video frames")
    return [tuple(shot) for shot in shots]


class ShotBook:
    """The finished shots of one clip, in its work folder.

    Args:
        output: the clip's output.
        fingerprint: what decides the frames (:func:`vidstyle.pipeline.video.fingerprint`); a
            work folder left with another one is cleared.
    """

    def __init__(self, output: Path, fingerprint: str):
        self.work = videopipe.WorkDir(output, fingerprint)
        self.path = self.work.root / "shots.json"
        self.records: dict[int, dict] = {}  # frame index -> record
        if self.work.root.exists() and not self._load():
            shutil.rmtree(self.work.root)

    def _load(self) -> bool:
        """Read what is finished; False when the folder belongs to another fingerprint."""
        for path in (self.work.manifest, self.path):
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
        prefix = [r for i, r in enumerate(ordered) if r["index"] == i]  # from frame 0 on
        self.work.save(prefix)

    def finish(self, clip: videopipe.Clip, config: VideoConfig, output: Path,
               precision: str | None = None):  # fmt: skip
        """Join every frame in order with the sound into ``output`` (see
        :func:`vidstyle.pipeline.video.finish_clip`). Returns its :class:`VideoResult`."""
        records = [self.records[i] for i in sorted(self.records)]
        return videopipe.finish_clip(clip, config, self.work, records, output, precision)
