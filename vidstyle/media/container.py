"""Opening media files with PyAV, and FFmpeg's errors in a few words."""

from __future__ import annotations

from pathlib import Path

import av

from vidstyle.errors import DecodeError, InputError


def open_input(path: Path) -> av.container.InputContainer:
    """Open a media file for reading.

    Raises:
        InputError: when it is missing or a folder.
        DecodeError: when it is empty or FFmpeg cannot open it.
    """
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a folder, not a video file")
    if path.stat().st_size == 0:
        raise DecodeError(path, "cannot read video: the file is empty")
    try:
        return av.open(str(path), metadata_errors="replace")
    except av.error.FFmpegError as exc:
        raise DecodeError(path, f"cannot read video: {ffmpeg_reason(exc)}") from exc


def ffmpeg_reason(exc: Exception) -> str:
    """The short reason of an FFmpeg error."""
    return getattr(exc, "strerror", None) or str(exc)
