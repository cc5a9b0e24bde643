"""Writing video with PyAV: RGB frames with their times to H.264 (yuv420p), with the sound of a
source carried over (see :mod:`vidstyle.media.audio`), atomically.

The conventions are those of :mod:`vidstyle.media.video`: times in seconds from the video's
start; BT.709 limited range written and tagged; odd sizes padded by repeating the last
column or row.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidstyle.errors import EncodeError
from vidstyle.fsutil import atomic_path
from vidstyle.media.audio import AudioPump, AudioSource
from vidstyle.media.container import ffmpeg_reason

OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
_TIME_BASE = Fraction(1, 90000)  # video ticks: exact for 24, 25, 30, 30000/1001, 50, 60 fps


def write_video(
    dest: str | Path,
    frames: Iterable[tuple[np.ndarray, float]],
    fps: Fraction,
    audio_from: Path | None = None,
    audio_start: float = 0.0,
    audio_end: float | None = None,
    crf: int = 18,
) -> None:
    """Encode RGB frames with their times to H.264 (yuv420p) in mp4, mov or mkv, atomically.

    Each frame keeps its time (90 kHz ticks; mkv stores milliseconds), so variable-rate input
    stays variable and constant-rate input keeps its rate; a time not after the previous one is
    moved one tick later. Odd widths or heights are padded to even by repeating the last
    column or row, so the file may be one pixel wider or taller than the frames. mp4 and mov get
    ``+faststart`` so browsers can play them while loading.

    Audio: the source's first audio stream, from ``audio_start`` to ``audio_end`` of the
    source's timeline (relative to its video start), is placed at output time 0, so frame times
    must be output times (subtract the trim start). It ends with the video (to within one audio
    packet). Packets are copied when nothing is trimmed and the codec suits the container (aac
    or mp3 into mp4/mov, anything into mkv); otherwise the audio is re-encoded to AAC (mono stays
    mono, more channels become stereo).

    Args:
        dest: output path; its suffix picks the container (.mp4, .m4v, .mov, .mkv).
        frames: (rgb, time) pairs: HxWx3 uint8 pictures, all the same size, with increasing
            times in seconds.
        fps: the nominal frame rate, stored as the stream's average rate.
        audio_from: a file whose audio to carry over, or None for a silent video.
        audio_start: source time (seconds) of the first audio sample to keep.
        audio_end: source time (seconds) at which the audio stops, or None for the end.
        crf: x264 constant rate factor (0 lossless, 18 visually lossless, 23 default).

    Raises:
        InputError: ``audio_from`` does not exist.
        DecodeError: ``audio_from`` cannot be read.
        EncodeError: unsupported suffix, no frames, frames of changing size, or the encoder or
            file system failed. Nothing is left at ``dest`` then, nor any temporary file.
        ValueError: a frame is not HxWx3 uint8, ``fps`` is not positive, or ``audio_end`` is
            not after ``audio_start``.
    """
    dest = Path(dest)
    fmt = OUTPUT_FORMATS.get(dest.suffix.lower())
    if fmt is None:
        raise EncodeError(
            dest, f"cannot write '{dest.suffix}' files", hint="use .mp4, .mov or .mkv"
        )
    fps = Fraction(fps)
    if fps <= 0:
        raise ValueError(f"fps must be positive, not {fps}")
    if audio_end is not None and audio_end <= audio_start:
        raise ValueError(f"audio_end ({audio_end}) must be after audio_start ({audio_start})")
    timed = _timed(iter(frames), fps)
    first = next(timed, None)
    if first is None:
        raise EncodeError(dest, "no frames to write")
    audio = AudioSource.open(audio_from, audio_start, audio_end) if audio_from else None
    try:
        _check_folder(dest)
        with atomic_path(dest) as tmp:
            _encode(tmp, fmt, dest, first, timed, fps, audio, crf)
    except av.error.FFmpegError as exc:
        raise EncodeError(dest, f"cannot encode video: {ffmpeg_reason(exc)}") from exc
    finally:
        if audio is not None:
            audio.container.close()


def _check_folder(dest: Path) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EncodeError(dest, f"cannot create the folder: {exc.strerror or exc}") from exc
    if not os.access(dest.parent, os.W_OK):
        raise EncodeError(dest, "cannot write into the folder: permission denied")


def _timed(frames: Iterator[tuple[np.ndarray, float]], fps: Fraction):
    """(rgb, pts, duration) in 90 kHz ticks, looking one frame ahead for the duration."""
    previous = None
    for rgb, time in frames:
        pts = _ticks(time, fps)
        if previous is not None:
            pts = max(pts, previous[1] + 1)
            yield previous[0], previous[1], pts - previous[1]
        previous = (rgb, pts)
    if previous is not None:
        yield previous[0], previous[1], max(1, round(1 / (fps * _TIME_BASE)))


def _ticks(time: float, fps: Fraction) -> int:
    """90 kHz ticks of ``time``, snapped to the frame grid when within a millisecond of it.

    Snapping undoes the millisecond rounding of mkv/webm timestamps, so that a constant rate
    stays exactly constant; genuinely irregular times are kept.
    """
    slot = round(time * fps)
    if abs(time - slot / fps) < 0.001:
        return round(slot / fps / _TIME_BASE)
    return round(time / _TIME_BASE)


def _encode(tmp: Path, fmt: str, dest: Path, first, timed, fps: Fraction, audio, crf: int):
    options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
    with av.open(str(tmp), "w", format=fmt, options=options) as out:
        height, width = _check_rgb(first[0], 0).shape[:2]
        stream = _add_video(out, width + width % 2, height + height % 2, fps, crf)
        pump = audio.pump(out, fmt) if audio is not None else AudioPump.silent(out)
        durations: dict[int, int] = {}
        end = 0
        for index, (rgb, pts, duration) in enumerate(itertools.chain([first], timed)):
            if _check_rgb(rgb, index).shape[:2] != (height, width):
                shape = f"{rgb.shape[1]}x{rgb.shape[0]}"
                raise EncodeError(dest, f"frame {index} is {shape}, not {width}x{height}")
            durations[pts] = duration
            _mux_video(out, stream.encode(_video_frame(rgb, pts)), durations)
            end = pts + duration
            pump.feed(float(pts * _TIME_BASE))
        _mux_video(out, stream.encode(None), durations)
        pump.finish(float(end * _TIME_BASE))


def _check_rgb(rgb: np.ndarray, index: int) -> np.ndarray:
    if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3):
        raise ValueError(f"frame {index} must be an HxWx3 uint8 array")
    if rgb.shape[2] != 3:
        raise ValueError(f"frame {index} must be an HxWx3 uint8 array, not {rgb.shape}")
    return rgb


def _add_video(out, width: int, height: int, fps: Fraction, crf: int):
    stream = out.add_stream("libx264", rate=fps, options={"crf": str(crf)})
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.time_base = _TIME_BASE
    stream.time_base = _TIME_BASE
    ctx = stream.codec_context
    ctx.colorspace = ctx.color_primaries = ctx.color_trc = 1  # BT.709
    ctx.color_range = 1  # limited ("tv") range
    return stream


def _video_frame(rgb: np.ndarray, pts: int) -> av.VideoFrame:
    pad = ((0, rgb.shape[0] % 2), (0, rgb.shape[1] % 2), (0, 0))
    even = np.pad(rgb, pad, mode="edge") if any(p[1] for p in pad) else rgb
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(even), format="rgb24")
    frame = frame.reformat(format="yuv420p", dst_colorspace="itu709", dst_color_range=1)
    for plane in frame.planes:  # the lines' padding is left uninitialised, and x264 reads it
        lines = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size).copy()
        if plane.line_size > plane.width:
            lines[:, plane.width :] = lines[:, plane.width - 1 : plane.width]
            plane.update(lines.tobytes())
    frame.pts = pts
    frame.time_base = _TIME_BASE
    return frame


def _mux_video(out, packets, durations: dict[int, int]) -> None:
    for packet in packets:
        packet.duration = durations.pop(packet.pts, packet.duration)
        out.mux(packet)
