"""Atomic file output (write to a temporary name beside the destination, then rename), and the
checks that an input can be read and an output written before any work starts."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vidstyle.errors import DecodeError, EncodeError, InputError

TEMP_MARKER = ".vidstyle-tmp-"


@contextlib.contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it onto ``dest`` only if the block succeeds.

    The temporary name keeps the destination's suffix so that writers choosing a format from the
    extension (Pillow, FFmpeg) still do. On any exception, including KeyboardInterrupt, the
    temporary file is removed and ``dest`` is left as it was.

    Args:
        dest: the final path.

    Yields:
        The temporary path to write to.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_MARKER, suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes it private; outputs are ordinary files
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def is_temporary(path: Path) -> bool:
    """True for a leftover temporary file of :func:`atomic_path`."""
    return path.name.startswith(TEMP_MARKER)


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when two paths name the same file (following links), even if ``b`` does not exist."""
    a, b = Path(a).resolve(), Path(b).resolve()
    if a == b:
        return True
    return a.exists() and b.exists() and os.path.samefile(a, b)


def check_input_file(path: Path, what: str, empty: str) -> None:
    """Refuse a path that cannot possibly hold an input: missing, a folder, or an empty file.

    Args:
        path: the input.
        what: what it should be, for the folder message (``"an image"``, ``"a video file"``).
        empty: the reason given for an empty file.

    Raises:
        InputError: when it is missing or a folder; DecodeError: when it is empty.
    """
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, f"is a folder, not {what}")
    if path.stat().st_size == 0:
        raise DecodeError(path, empty)


def check_writable(path: Path, folder: bool = False) -> None:
    """Refuse an output that cannot be created, before any work is spent on it.

    Args:
        path: the file (or, with ``folder``, the folder) that will be written; it need not exist.
        folder: whether the output is a folder.

    Raises:
        EncodeError: ``path`` exists as a folder (a file is wanted) or as a file (a folder is
            wanted), its nearest existing parent is a file, or that parent is not writable.
    """
    if path.is_dir() and not folder:
        raise EncodeError(path, "is a folder, not a file")
    if path.exists() and not path.is_dir() and folder:
        raise EncodeError(path, "is a file, not a folder")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise EncodeError(path, f"cannot create it: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise EncodeError(path, f"cannot write in {parent}: permission denied")
