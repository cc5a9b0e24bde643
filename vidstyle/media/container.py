"""Opening media files with PyAV, and FFmpeg's errors in a few words."""

from __future__ import annotations

from pathlib import Path

import av

from vidstyle.errors import DecodeError
from vidstyle.fsutil import check_input_file


def open_input(path: Path) -> av.container.InputContainer:
    """Open a media file for reading.

    Raises:
        InputError: when it is missing or a folder.
        DecodeError: when it is empty or FFmpeg cannot open it.
    """
    check_input_file(path, "a video file", "cannot read video: the file is empty")
    try:
        return av.open(str(path), metadata_errors="replace")
    except av.error.FFmpegError as exc:
        raise DecodeError(path, f"cannot read video: {ffmpeg_reason(exc)}") from exc


def ffmpeg_reason(exc: Exception) -> str:
    """The short reason of an FFmpeg error."""
    return getattr(exc, "strerror", None) or str(exc)
