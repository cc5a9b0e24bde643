"""A clip as a source: a video file or a folder of images taken as a sequence, probed
(:class:`Clip`), its frames within the range asked for, its outputs checked before any work, and
its shot cuts (:func:`working_frames`, the one place they are found).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from vidstyle.config import VideoConfig
from vidstyle.errors import InputError, UsageError
from vidstyle.fsutil import check_writable, same_file
from vidstyle.media import flow as flowlib
from vidstyle.media import video as videolib
from vidstyle.media.encode import OUTPUT_FORMATS
from vidstyle.media.images import fit_longest, load_image

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
        InputError: a ``network`` file that is not there.
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
    if config.network is not None and not config.network.is_file():
        raise InputError(config.network, "no such network file")


def frames_of(clip: Clip, config: VideoConfig) -> Iterator[videolib.Frame]:
    """The clip's frames in presentation order, within --start/--end and --max-frames."""
    if not clip.is_sequence:
        yield from videolib.read_frames(clip.path, config.start, config.end, config.max_frames)
        return
    files = videolib.list_sequence(clip.path)[: config.max_frames]
    for index, file in enumerate(files):
        yield videolib.Frame(index, float(index / clip.fps), load_image(file).rgb)


def working_frames(frames: Iterable[videolib.Frame], max_size: int,
                   threshold: float) -> Iterator[tuple[videolib.Frame, bool]]:  # fmt: skip
    """The frames at the working size, each with whether a shot cut lies just before it: the one
    place cuts are found (colour histograms of consecutive working-size frames,
    :func:`vidstyle.media.flow.is_shot_cut`), for the frame loop and for a clip split into shots.

    Args:
        frames: a clip's frames (or a range of them), in order.
        max_size: the working size's longest side.
        threshold: the ``shot_threshold`` option.
    """
    previous = None
    for frame in frames:
        work = fit_longest(frame.rgb, max_size)
        cut = previous is not None and flowlib.is_shot_cut(previous, work, threshold)
        yield videolib.Frame(frame.index, frame.time, work), cut
        previous = work


def expected_frames(clip: Clip, config: VideoConfig) -> int:
    """How many frames the clip gives within --start/--end and --max-frames (0: unknown)."""
    count = clip.frame_count or 0
    if config.start is not None or config.end is not None:
        span = (config.end or count / clip.fps) - (config.start or 0.0)
        count = min(count, round(span * clip.fps)) if count else round(span * clip.fps)
    return min(count, config.max_frames) if config.max_frames else count
