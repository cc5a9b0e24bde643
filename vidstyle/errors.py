"""Domain errors raised by the library; the CLI turns them into one-line messages and exit codes."""

from __future__ import annotations

from pathlib import Path


class VidstyleError(Exception):
    """An error a user can act on: which file, what went wrong, and how to fix it.

    Args:
        path: the file or folder concerned, or None when no file is involved.
        reason: what went wrong, in a few words.
        hint: an optional suggestion how to fix it.
    """

    kind = "error"

    def __init__(self, path: str | Path | None, reason: str, hint: str | None = None):
        self.path = None if path is None else Path(path)
        self.reason = reason
        self.hint = hint
        super().__init__(self.message())

    def message(self) -> str:
        """One line: ``<path>: <reason> (<hint>)``."""
        text = f"{self.path}: {self.reason}" if self.path is not None else self.reason
        return f"{text} ({self.hint})" if self.hint else text


class UsageError(VidstyleError):
    """An option value that cannot work; the CLI exits with code 2 as for other usage errors."""

    kind = "usage"


class InputError(VidstyleError):
    """An input that cannot be used: missing, unsupported, or equal to an output."""

    kind = "input"


class DecodeError(VidstyleError):
    """An image or video that exists but cannot be decoded."""

    kind = "decode"


class EncodeError(VidstyleError):
    """An output that cannot be written."""

    kind = "encode"


class WeightsError(VidstyleError):
    """VGG19 weights that cannot be found, fetched or trusted."""

    kind = "weights"


class ResumeError(VidstyleError):
    """A work folder left by a run with other inputs or options."""

    kind = "resume"


class TooLargeError(VidstyleError):
    """An image too large for the memory there is; the message gives the largest size that fits."""

    kind = "memory"
