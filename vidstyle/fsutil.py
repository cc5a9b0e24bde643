"""Atomic file output: write to a temporary name beside the destination, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
