"""What is read and what is written: image suffixes, the mapping from one to the other, the
largest picture read, and the checks made on inputs' headers and on outputs before any work.

One definition of what is readable (:data:`IMAGE_SUFFIXES`) serves the folder walk and image
sequences alike; every suffix read maps to one written (:func:`output_suffix`).
"""

from __future__ import annotations

from pathlib import Path

from vidstyle.errors import EncodeError, InputError, UsageError
from vidstyle.fsutil import check_writable

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
    | {".ppm", ".pgm", ".pnm", ".pbm", ".tga"}
)
"""Lower-case suffixes of the images read, in folders and image sequences alike (Pillow decodes
each; a GIF is read as its first frame)."""

OUTPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
"""Suffixes :func:`vidstyle.media.images.save_image` can write."""

MAX_PIXELS = 160_000_000
"""The largest picture read, in pixels (160 MP, 480 MB as 8-bit RGB). Above the largest camera
sensors (Phase One IQ4: 151 MP; Fujifilm GFX100: 102 MP), so no real photo is refused, and below
Pillow's own decompression-bomb error (2 x ``Image.MAX_IMAGE_PIXELS``, 179 MP), so a file whose
header claims more is always refused by this check, before any pixel is decoded."""

PILLOW_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP",
                  ".tif": "TIFF", ".tiff": "TIFF"}  # fmt: skip
SIDE_LIMITS = {"WEBP": 16383, "JPEG": 65535}  # the encoders' largest width or height


def pillow_format(path: Path) -> str | None:
    """The Pillow format an output path is written in (``PNG``, ``JPEG``, ``WEBP``, ``TIFF``),
    or None when its suffix is not one written."""
    return PILLOW_FORMATS.get(path.suffix.lower())


def output_suffix(source: str | Path) -> str:
    """The output suffix for an input image: its own (lower case) when it is written, otherwise
    ``.png`` (lossless, keeps alpha): BMP, GIF (its first frame), PPM, PGM, PNM, PBM and TGA
    become PNG."""
    suffix = Path(source).suffix.lower()
    return suffix if suffix in OUTPUT_SUFFIXES else ".png"


def format_suffix(name: str) -> str:
    """The suffix for an output format name (``png``, ``jpg``, ``jpeg``, ``webp``, ``tif``,
    ``tiff``, any case, with or without a dot).

    Raises:
        UsageError: for any other name.
    """
    suffix = "." + name.lower().lstrip(".")
    if suffix not in OUTPUT_SUFFIXES:
        choices = ", ".join(s[1:] for s in OUTPUT_SUFFIXES)
        raise UsageError(None, f"{{format}} {name} is not one of {choices}")
    return suffix


def check_output(path: Path, width: int | None = None, height: int | None = None) -> None:
    """Refuse an output image that could not be written, before any work is spent on it.

    Args:
        path: the output file.
        width, height: its size when known, checked against the format's limits.

    Raises:
        UsageError: the suffix is not one :func:`~vidstyle.media.images.save_image` writes.
        EncodeError: the path is a folder or lies under a file or an unwritable folder, or the
            size is more than the format can hold.
    """
    fmt = pillow_format(path)
    if fmt is None:
        raise UsageError(path, f"cannot write '{path.suffix or '(none)'}' images",
                         hint="end {output} in .png, .jpg, .webp or .tif")  # fmt: skip
    check_writable(path)
    limit = SIDE_LIMITS.get(fmt)
    if limit and width is not None and height is not None and max(width, height) > limit:
        reason = f"{fmt} holds at most {limit} pixels a side, not {width}x{height}"
        raise EncodeError(path, reason, hint="lower {max_size} or pick another format")


def check_pixels(path: Path, width: int, height: int) -> None:
    """Refuse a picture (or a video frame) larger than :data:`MAX_PIXELS`, from its header.

    Raises:
        InputError: ``width`` x ``height`` is more than :data:`MAX_PIXELS`.
    """
    if width * height > MAX_PIXELS:
        raise too_large(path, width * height, f"{width}x{height}")


def too_large(path: Path, pixels: int | None, size: str | None = None) -> InputError:
    """The error for a picture of ``pixels`` (None: unknown, but too many) pixels."""
    limit = f"the {MAX_PIXELS // 1_000_000} MP vidstyle reads"
    if pixels is None:
        return InputError(path, f"too large: more than {limit}", hint="shrink it first")
    what = f"{size} is " if size else ""
    reason = f"too large: {what}{pixels / 1e6:.0f} MP, more than {limit}"
    return InputError(path, reason, hint="shrink it first")
