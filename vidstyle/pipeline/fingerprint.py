"""Fingerprints of what decides an output: the input file, the style's pixels and the options.

One definition serves the clip's resumable work folder and the folder command's manifest, so both
agree on what counts as "the same run": the same input (path, size and modification time), the
same style pixels and the same method options. ``memory_limit`` is left out: it decides whether
an image is attempted, not what comes out; so are options added later while at their defaults
(:data:`LATER_OPTIONS`), so that older outputs keep their fingerprints.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np


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


# Options added after outputs were first fingerprinted: left out at their defaults, so outputs
# made before they existed (with what is still their default) keep their fingerprints.
LATER_OPTIONS = {"preserve_colors": "none", "style_blend": ()}


def _method_part(method) -> dict:
    options = dataclasses.asdict(method) | {"memory_limit": None}
    for name, default in LATER_OPTIONS.items():
        if options.get(name) == default:
            del options[name]
    return options
