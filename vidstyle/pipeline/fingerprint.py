"""Fingerprints of what decides an output: the input file, the style's pixels and the options.

One definition serves the clip's resumable work folder and the folder command's manifest, so both
agree on what counts as "the same run": the same input (path, size and modification time), the
same style pixels and the same method options. Which options count comes from their
declarations (:mod:`vidstyle.options`): one that does not change the output (``memory_limit``
decides whether an image is attempted, not what comes out) is left out, and so is one added
later while at its default, so that older outputs keep their fingerprints.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from vidstyle.options import identity


def pixels_digest(pixels: np.ndarray | list[np.ndarray]) -> str:
    """The SHA-256 of an image's pixels (hex), computed once per style and reused per item; of
    several styles (a blend), the SHA-256 of their digests in order (one is its own digest)."""
    if isinstance(pixels, (list, tuple)):
        digests = [pixels_digest(one) for one in pixels]
        return (
            digests[0]
            if len(digests) == 1
            else hashlib.sha256(" ".join(digests).encode()).hexdigest()
        )
    return hashlib.sha256(np.ascontiguousarray(pixels)).hexdigest()


def fingerprint(source: Path, style_digest: str, method, options: dict | None = None) -> str:
    """A short digest of everything that decides an output.

    Args:
        source: the input file or folder (its resolved path, size and modification time count).
        style_digest: :func:`pixels_digest` of the style image.
        method: the :class:`vidstyle.config.MethodConfig` (every field but ``memory_limit``).
        options: further options that change the output (e.g. the video options), or None.

    Returns:
        16 hex digits.

    Raises:
        OSError: ``source`` cannot be read.
    """
    stat = source.stat()
    parts = [str(source.resolve()), stat.st_size, stat.st_mtime_ns, style_digest,
             _method_part(method)]  # fmt: skip
    if options is not None:
        parts.append(options)
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def _method_part(method) -> dict:
    return identity(method)


def folder_part(config) -> dict | None:
    """What of a :class:`vidstyle.config.FolderConfig` decides an image's output, or None when
    nothing does (no folder option changes the output today, so prints stay as they were)."""
    return identity(config, unused="drop") or None


def task_video_part(config) -> dict:
    """What of a :class:`vidstyle.config.VideoConfig` decides a batch task's output (options
    that change no output left out)."""
    return identity(config, unused="drop")


def frames_video_part(config) -> dict:
    """What of a :class:`vidstyle.config.VideoConfig` decides a clip's frames (its work
    folder): options that change no output, or only the final video, are None."""
    return identity(config, frames=True)
