"""Reading video with PyAV: probe a clip, decode its frames, list an image sequence.

Writing is :mod:`vidstyle.media.encode`.

Conventions shared with the writing side:

- Frame times are presentation times in seconds relative to the video stream's start time, so
  the first frame of an ordinary clip is at 0.0. Frames come in presentation order, each once.
- Rotation: phones store portrait clips as landscape pictures plus a display matrix (or, in
  older files, a ``rotate`` tag). :attr:`VideoInfo.rotation` is the clockwise angle a player
  turns the picture by, the meaning of FFmpeg's ``rotate`` tag and of its autorotate
  (``-av_display_rotation_get``). Frames are returned already turned; flips are ignored.
- Colour: decoding honours the stream's colour tags (untagged video is taken as BT.601, as
  FFmpeg does). Encoding writes BT.709 limited range and tags it, which browsers expect.
- Pixels are taken as square; a non-square sample aspect ratio is not corrected.
- Truncated input: an mp4/mov cut short is refused up front (its index is lost, or points past
  the end of the file); formats read front to back (mkv, webm, avi, gif) end at their last
  whole frame.
- Odd output sizes: H.264 4:2:0 needs even sizes, so the last column/row is repeated once.
- Size: a clip whose header claims frames of more than
  :data:`vidstyle.media.formats.MAX_PIXELS` is refused before a frame is decoded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidstyle.errors import DecodeError, InputError
from vidstyle.media.container import ffmpeg_reason, open_input
from vidstyle.media.formats import IMAGE_SUFFIXES, check_pixels

_SEEK_MIN = 2.0  # seconds; earlier starts are reached by decoding from the beginning
_SEEK_MARGIN = 1.0  # seconds before ``start`` to seek to


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns about a clip.

    Attributes:
        path: the file.
        width: frame width in pixels, after rotation is applied.
        height: frame height in pixels, after rotation is applied.
        fps: the average frame rate.
        time_base: the video stream's time base.
        frame_count: frames according to the container; None when it does not say (mkv, webm),
            and only approximate for some formats.
        duration: seconds, or None when unknown.
        rotation: clockwise degrees (0, 90, 180 or 270) the frames are turned by on reading.
        has_audio: whether the file has an audio stream.
        codec: the video codec's name, e.g. ``h264``, ``vp9``, ``gif``.
    """

    path: Path
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frame_count: int | None
    duration: float | None
    rotation: int
    has_audio: bool
    codec: str


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        index: position among the frames yielded by :func:`read_frames`, from 0.
        time: presentation time in seconds relative to the stream start.
        rgb: HxWx3 uint8 picture with rotation applied.
    """

    index: int
    time: float
    rgb: np.ndarray


def probe(path: str | Path) -> VideoInfo:
    """Read a clip's properties; decodes its first frame to be sure the video is readable.

    Args:
        path: a video file (mp4, mov, mkv, webm, avi, animated gif, ...).

    Returns:
        The clip's :class:`VideoInfo`.

    Raises:
        InputError: the file does not exist or is a folder, or its frames are larger than
            :data:`vidstyle.media.formats.MAX_PIXELS`.
        DecodeError: the file is empty, corrupt, not media, has no video stream or no frames.
    """
    path = Path(path)
    with open_input(path) as container:
        stream = _video_stream(container, path)
        _check_complete(container, stream, path)
        check_pixels(path, stream.codec_context.width, stream.codec_context.height)
        first = next(_decode(container, stream, path), None)
        if first is None:
            raise DecodeError(path, "contains no video frames")
        check_pixels(path, first.width, first.height)
        rotation = _rotation(first, stream)
        size = (first.height, first.width) if rotation % 180 else (first.width, first.height)
        frames = stream.frames or None
        duration = _duration(container, stream)
        return VideoInfo(
            path=path,
            width=size[0],
            height=size[1],
            fps=_rate(stream, frames, duration),
            time_base=Fraction(stream.time_base),
            frame_count=frames,
            duration=duration,
            rotation=rotation,
            has_audio=len(container.streams.audio) > 0,
            codec=stream.codec_context.codec.canonical_name,
        )


def read_frames(
    path: str | Path,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
) -> Iterator[Frame]:
    """Decode the first video stream in presentation order, each frame once, rotation applied.

    Truncated files: an mp4/mov cut short raises DecodeError before any frame is yielded (its
    index is lost or points past the end of the file). Formats read front to back (mkv, webm,
    avi, gif) simply end at the last complete frame. An error FFmpeg reports while
    decoding raises DecodeError when the iteration reaches it (the frames before it were
    valid). All errors are raised on the first ``next()``, not when the generator is made.

    Args:
        path: the video file.
        start: first time (seconds) to include; starts from 2 s on are reached by seeking.
        end: time (seconds) at which to stop, exclusive.
        max_frames: yield at most this many frames.

    Yields:
        :class:`Frame` objects, ``index`` counting from 0, ``time`` increasing.

    Raises:
        InputError: the file does not exist.
        DecodeError: the file cannot be decoded, breaks off with an error, or has no frames
            (in the requested range).
        ValueError: ``end <= start`` or ``max_frames < 1``.
    """
    path = Path(path)
    _check_range(start, end, max_frames)
    count = 0
    for time, frame, rotation in _timed_frames(path, start):
        if start is not None and time < start:
            continue
        if end is not None and time >= end:
            break
        rgb = frame.to_ndarray(format="rgb24")
        yield Frame(count, time, np.ascontiguousarray(np.rot90(rgb, k=-rotation // 90)))
        count += 1
        if max_frames is not None and count >= max_frames:
            return
    if count == 0:
        window = "" if start is None and end is None else f" between {start or 0} s and {end} s"
        raise DecodeError(path, f"contains no video frames{window}")


def list_sequence(folder: str | Path) -> list[Path]:
    """The image files directly in a folder, in natural order (frame2 before frame10).

    Sorting ignores case; hidden files (including unfinished outputs) are skipped.

    Args:
        folder: the folder of an image sequence.

    Returns:
        Paths of the readable images
        (:data:`vidstyle.media.formats.IMAGE_SUFFIXES`, any case).

    Raises:
        InputError: the folder does not exist, is not a folder, or contains no images.
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputError(folder, "no such folder")
    if not folder.is_dir():
        raise InputError(folder, "is not a folder")
    images = [
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    ]
    if not images:
        raise InputError(folder, "contains no images")
    return sorted(images, key=_natural_key)


# --- reading -----------------------------------------------------------------------------------


def _video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:  # not cover art
            return stream
    raise DecodeError(path, "has no video stream")


def _check_complete(container, stream, path: Path) -> None:
    """Raise when the container's index points past the end of the file (a cut-off mp4/mov)."""
    size = path.stat().st_size
    if any(entry.pos + entry.size > size for entry in stream.index_entries):
        hint = "the file is incomplete; copy or download it again"
        raise DecodeError(path, "is truncated: frames are missing at the end", hint=hint)


def _decode(container, stream, path: Path) -> Iterator[av.VideoFrame]:
    count = 0
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                count += 1
                yield frame
    except av.error.FFmpegError as exc:
        where = f" after {count} frames" if count else ""
        raise DecodeError(path, f"cannot read video{where}: {ffmpeg_reason(exc)}") from exc


def _timed_frames(path: Path, start: float | None) -> Iterator[tuple[float, av.VideoFrame, int]]:
    """(time, frame, clockwise rotation) from a keyframe at or before ``start``."""
    if start is not None and start >= _SEEK_MIN:
        with open_input(path) as container:
            frames = _decode_from(container, path, start - _SEEK_MARGIN)
            first = next(frames, None)
            if first is not None and first[0] <= start:  # the seek did not overshoot
                yield first
                yield from frames
                return
    with open_input(path) as container:
        yield from _decode_from(container, path, None)


def _decode_from(container, path: Path, seek: float | None):
    stream = _video_stream(container, path)
    _check_complete(container, stream, path)
    check_pixels(path, stream.codec_context.width, stream.codec_context.height)
    stream.thread_type = "AUTO"
    tb = stream.time_base
    origin = stream.start_time or 0
    if seek is not None:
        try:
            container.seek(origin + int(seek / tb), stream=stream, backward=True)
        except av.error.FFmpegError:
            return  # unseekable: the caller decodes from the beginning
    step = 1 / float(_rate(stream, None, None))
    time = -step
    for frame in _decode(container, stream, path):
        time = float((frame.pts - origin) * tb) if frame.pts is not None else time + step
        yield time, frame, _rotation(frame, stream)


def _rotation(frame: av.VideoFrame, stream) -> int:
    ccw = frame.rotation  # from the display matrix: counter-clockwise degrees
    if ccw:
        return round(-float(ccw) / 90) % 4 * 90
    tags = {key.lower(): value for key, value in stream.metadata.items()}
    try:
        return round(float(tags.get("rotate", 0)) / 90) % 4 * 90  # legacy tag: clockwise
    except ValueError:
        return 0


def _rate(stream, frames: int | None, duration: float | None) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    if frames and duration:
        return Fraction(frames / duration).limit_denominator(1001)
    return Fraction(25)  # no timing at all: FFmpeg's default


def _duration(container, stream) -> float | None:
    if stream.duration:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _check_range(start: float | None, end: float | None, max_frames: int | None) -> None:
    if start is not None and end is not None and end <= start:
        raise ValueError(f"end ({end}) must be after start ({start})")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, not {max_frames}")


def _natural_key(path: Path) -> tuple:
    parts = re.split(r"(\d+)", path.name.lower())  # text, digits, text, ...
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), path.name


# --- writing -----------------------------------------------------------------------------------
