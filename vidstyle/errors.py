"""Domain errors raised by the library; the CLI turns them into one-line messages and exit codes."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

_PARAMETER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def param(name: str) -> str:
    """How a message names a parameter (``param("max_size")`` is ``{max_size}``): the library
    shows it as ``max_size``, the CLI as its flag ``--max-size`` (see :meth:`message`)."""
    return "{" + name + "}"


def flag(name: str) -> str:
    """The command-line flag of a parameter: ``max_size`` is ``--max-size``."""
    return "--" + name.replace("_", "-")


def render(text: str, name: Callable[[str], str] = str) -> str:
    """``text`` with each ``{parameter}`` written as ``name(parameter)`` (the CLI passes
    :func:`flag`)."""
    return _PARAMETER.sub(lambda m: name(m[1]), text)


class VidstyleError(Exception):
    """An error a user can act on: which file, what went wrong, and how to fix it.

    Reasons and hints name parameters as ``{name}`` (see :func:`param`), never as flags.

    Args:
        path: the file or folder concerned, or None when no file is involved.
        reason: what went wrong, in a few words.
        hint: an optional suggestion how to fix it.
    """

    def __init__(self, path: str | Path | None, reason: str, hint: str | None = None):
        self.path = None if path is None else Path(path)
        self.reason = reason
        self.hint = hint
        super().__init__(self.message())

    def message(self, name: Callable[[str], str] = str) -> str:
        """One line: ``<path>: <reason> (<hint>)``, each parameter written as ``name(param)``
        (the parameter's own name by default; the CLI passes :func:`flag`)."""
        reason, hint = (render(t, name) if t else t for t in (self.reason, self.hint))
        text = f"{self.path}: {reason}" if self.path is not None else reason
        return f"{text} ({hint})" if hint else text


class UsageError(VidstyleError):
    """An option value that cannot work, or an output that would overwrite an input; the CLI
    exits with code 2 as for other usage errors."""


class InputError(VidstyleError):
    """An input that cannot be used: missing, unsupported or unreadable."""


class DecodeError(VidstyleError):
    """An image or video that exists but cannot be decoded."""


class EncodeError(VidstyleError):
    """An output that cannot be written."""


class WeightsError(VidstyleError):
    """VGG19 weights that cannot be found, fetched or trusted."""


class ResumeError(VidstyleError):
    """A work folder left by a run with other inputs or options."""


class TooLargeError(VidstyleError):
    """An image too large for the memory there is; the message gives the largest size that fits."""


class DeviceError(VidstyleError):
    """A GPU whose libraries cannot run the network (cuDNN that does not start): the machine's
    set-up, not the input, so another attempt cannot help."""


class InternalError(VidstyleError):
    """An unexpected failure (a bug, or a library's own error): one line instead of a traceback.

    Args:
        path: the item being worked on, when known.
        cause: the exception.
    """

    def __init__(self, path: str | Path | None, cause: BaseException):
        lines = str(cause).strip().splitlines()
        detail = f"{type(cause).__name__}: {lines[0][:200]}" if lines else type(cause).__name__
        super().__init__(path, f"internal error: {detail}",
                         hint="rerun with VIDSTYLE_DEBUG=1 for the traceback")  # fmt: skip


def debugging() -> bool:
    """Whether ``VIDSTYLE_DEBUG`` asks for tracebacks (and TensorFlow's own log lines)."""
    return os.environ.get("VIDSTYLE_DEBUG", "") not in ("", "0")


class NumericError(VidstyleError):
    """An optimization whose loss or gradient went infinite or NaN; no image is returned."""
