"""Still-image input and output: decoding any colour mode to 8-bit RGB, resizing, atomic saving.

Loading goes through Pillow: EXIF orientation is applied and every mode (bilevel, grey, palette,
CMYK, 16-bit and float grey, with or without alpha) becomes an HxWx3 ``uint8`` array plus an
optional HxW ``uint8`` alpha plane. Files Pillow cannot identify (float or exotic TIFFs, Radiance
HDR) are retried with OpenCV. Saving picks the format from the extension and writes through
:func:`vidstyle.fsutil.atomic_path`, so a failed save never leaves a partial file behind.
What is read and written, and the largest picture read, are defined in
:mod:`vidstyle.media.formats`.

This module never imports TensorFlow.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vidstyle.errors import DecodeError, EncodeError, InputError, UsageError
from vidstyle.fsutil import atomic_path, check_input_file, same_file
from vidstyle.media.formats import check_pixels, pillow_format, too_large

_ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})
_WIDE_GREY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
_LANCZOS = Image.Resampling.LANCZOS


@dataclass(frozen=True)
class Picture:
    """A decoded image: 8-bit RGB colour and, when the file has transparency, 8-bit alpha.

    Attributes:
        rgb: HxWx3 ``uint8`` colour.
        alpha: HxW ``uint8`` opacity (255 is opaque), or None when the file has no transparency.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None


def load_image(path: str | Path) -> Picture:
    """Decode an image file to upright 8-bit RGB and optional alpha; the file is only read.

    Truncated files are reported, not padded: this relies on Pillow's
    ``ImageFile.LOAD_TRUNCATED_IMAGES`` keeping its default, False.

    Args:
        path: the image file.

    Returns:
        The picture, rotated or mirrored as its EXIF orientation asks.

    Raises:
        InputError: the path does not exist, is a folder, or cannot be read.
        DecodeError: the file is empty, truncated, corrupt or not an image.
    """
    path = Path(path)
    _check_readable(path)
    try:
        with _open(path) as image:
            check_pixels(path, *image.size)
            image.load()
            return _picture_from_pillow(_upright(image))
    except UnidentifiedImageError as exc:
        return _load_with_opencv(path, exc)
    except PermissionError as exc:
        raise InputError(path, "cannot read file: permission denied") from exc
    except Image.DecompressionBombError as exc:
        raise _bomb(path, exc) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise DecodeError(path, f"cannot decode image: {_short_reason(exc)}") from exc


def check_image(path: str | Path) -> None:
    """Refuse from its header alone, before any work, an image :func:`load_image` would refuse
    without decoding it: missing, a folder, empty, or larger than ``MAX_PIXELS``. A header that
    cannot be read is left for :func:`load_image` to report.

    Raises:
        InputError, DecodeError: as :func:`load_image` does for these.
    """
    path = Path(path)
    _check_readable(path)
    try:
        with _open(path) as image:
            size = image.size
    except Image.DecompressionBombError as exc:
        raise _bomb(path, exc) from exc
    except Exception:  # noqa: BLE001 - the full load gives the reason
        return
    check_pixels(path, *size)


def _bomb(path: Path, exc: Image.DecompressionBombError) -> InputError:
    """Pillow's refusal of more than 2 x ``Image.MAX_IMAGE_PIXELS`` (so more than MAX_PIXELS)."""
    pixels = re.search(r"\((\d+) pixels\)", str(exc))
    return too_large(path, int(pixels[1]) if pixels else None)


def probe_size(path: str | Path) -> tuple[int, int] | None:
    """An image's upright (width, height) from its header, without decoding it; None when the
    header cannot be read (:func:`load_image` then gives the reason).

    A PNG's orientation is read from an eXIf chunk before its pixels only: Pillow's
    ``getexif()`` decodes a PNG's every pixel to look for one after them.
    """
    try:
        with _open(Path(path)) as image:
            width, height = image.size
            if image.format == "PNG":
                exif = Image.Exif()
                exif.load(image.info.get("exif", b""))
            else:
                exif = image.getexif()
            turned = exif.get(_EXIF_ORIENTATION) in (5, 6, 7, 8)
    except Exception:  # noqa: BLE001 - any unreadable header: the full load reports it
        return None
    return (height, width) if turned else (width, height)


def _open(path: Path) -> Image.Image:
    """Open an image (header only); sizes up to ``MAX_PIXELS`` are checked by us, so Pillow's
    warning for those above ``Image.MAX_IMAGE_PIXELS`` is not passed on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(path)


def fit_longest(rgb: np.ndarray, max_size: int) -> np.ndarray:
    """Shrink an image so its longest side is at most ``max_size``; never enlarge it.

    Args:
        rgb: HxWx3 ``uint8`` image.
        max_size: the largest allowed side in pixels, at least 1; 0 keeps the image's size.

    Returns:
        The resized ``uint8`` image (Lanczos, aspect kept, each side at least 1 pixel), or
        ``rgb`` itself when it already fits.

    Raises:
        ValueError: ``max_size`` is below 1 or ``rgb`` is not ``uint8``.
    """
    if max_size < 0:
        raise ValueError(f"max_size must be 0 or more, got {max_size}")
    _require_uint8(rgb)
    height, width = rgb.shape[:2]
    size = fitted_size(width, height, max_size)
    return rgb if size == (width, height) else resize_to(rgb, *size)


def fitted_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    """(width, height) shrunk so the longest side is at most ``max_size``, aspect kept; ``max_size``
    0 keeps the size."""
    longest = max(height, width)
    if longest <= max_size or max_size == 0:
        return width, height
    scale = max_size / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_to(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a ``uint8`` HxW or HxWxC array to exactly ``height`` x ``width`` with Lanczos.

    Channels are resampled independently (no alpha premultiplication), so this suits colour,
    alpha planes and masks alike.

    Args:
        array: HxW or HxWxC ``uint8`` array.
        width: the new width in pixels, at least 1.
        height: the new height in pixels, at least 1.

    Returns:
        The resized array with the same number of channels, or ``array`` itself when its size
        already matches.

    Raises:
        ValueError: a size below 1, or an array that is not ``uint8`` HxW / HxWxC.
    """
    if width < 1 or height < 1:
        raise ValueError(f"size must be at least 1x1, got {width}x{height}")
    _require_uint8(array)
    if array.shape[:2] == (height, width):
        return array
    if array.ndim == 2 or array.shape[2] == 3:
        return np.array(Image.fromarray(array).resize((width, height), _LANCZOS))
    planes = [resize_to(array[..., i], width, height) for i in range(array.shape[2])]
    return np.stack(planes, axis=2)


def save_image(
    path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None, quality: int = 95
) -> None:
    """Write an image atomically, choosing the format from the extension.

    Alpha is kept for PNG, WebP and TIFF (LZW-compressed) and dropped for JPEG; an alpha plane
    of another size is resized to match ``rgb``. Parent folders are created. On failure nothing
    is left at ``path`` (an existing file there stays as it was) and no temporary file remains.

    Args:
        path: destination ending in .png, .jpg, .jpeg, .webp, .tif or .tiff (any case).
        rgb: HxWx3 ``uint8`` colour.
        alpha: optional HxW ``uint8`` opacity.
        quality: JPEG/WebP quality, 1 to 100; ignored for PNG.

    Raises:
        EncodeError: the extension is not supported, or the file cannot be written.
        ValueError: ``rgb``, ``alpha`` or ``quality`` are malformed.
    """
    path = Path(path)
    fmt = _output_format(path)
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be between 1 and 100, got {quality}")
    image = _compose(rgb, alpha if fmt in _ALPHA_FORMATS else None)
    try:
        with atomic_path(path) as tmp:
            image.save(tmp, format=fmt, **_encoder_options(fmt, quality))
    except (OSError, ValueError) as exc:
        raise EncodeError(path, f"cannot write image: {_short_reason(exc)}") from exc


def check_distinct(inputs: Iterable[Path], output: Path) -> None:
    """Refuse an output path that names one of the inputs (also through links or `..`).

    Args:
        inputs: the files that will be read.
        output: the file that will be written.

    Raises:
        UsageError: ``output`` is the same file as one of ``inputs``.
    """
    for source in inputs:
        if same_file(source, output):
            raise UsageError(output, "output would overwrite an input",
                             hint="choose another {output}")  # fmt: skip


def _check_readable(path: Path) -> None:
    """Raise the input or decode error for a path that cannot possibly hold an image."""
    check_input_file(path, "an image", "cannot decode image: empty file")


_EXIF_ORIENTATION = 0x0112


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a malformed EXIF block leaves the image as stored."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - bad metadata must not make a decodable image unusable
        return image


def _picture_from_pillow(image: Image.Image) -> Picture:
    """Convert a loaded Pillow image of any mode to a :class:`Picture`."""
    if image.mode in _WIDE_GREY_MODES:
        grey = _to_uint8(np.asarray(image))
        return Picture(np.repeat(grey[..., None], 3, axis=2), None)
    if _has_alpha(image):
        rgba = np.asarray(image.convert("RGBA"))
        return Picture(np.ascontiguousarray(rgba[..., :3]), rgba[..., 3].copy())
    return Picture(np.array(image.convert("RGB")), None)


def _has_alpha(image: Image.Image) -> bool:
    """True for an alpha band, a transparency key, or a palette with alpha entries."""
    bands = image.getbands()
    if "A" in bands or "a" in bands or "transparency" in image.info:
        return True
    return image.mode == "P" and image.palette is not None and image.palette.mode == "RGBA"


def _load_with_opencv(path: Path, cause: Exception) -> Picture:
    """Decode a file Pillow could not identify with OpenCV, or raise a DecodeError."""
    reason = "cannot decode image: not a recognised image format"
    try:
        decoded = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except (OSError, cv2.error) as exc:
        raise DecodeError(path, reason) from exc
    if decoded is None or decoded.size == 0 or decoded.ndim not in (2, 3):
        raise DecodeError(path, reason) from cause
    return _picture_from_opencv(_to_uint8(decoded))


def _picture_from_opencv(decoded: np.ndarray) -> Picture:
    """Turn an OpenCV grey, BGR or BGRA ``uint8`` array into a :class:`Picture`."""
    if decoded.ndim == 2 or decoded.shape[2] == 1:
        grey = decoded.reshape(decoded.shape[:2])
        return Picture(np.repeat(grey[..., None], 3, axis=2), None)
    rgb = np.ascontiguousarray(decoded[..., 2::-1])
    alpha = decoded[..., 3].copy() if decoded.shape[2] >= 4 else None
    return Picture(rgb, alpha)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Scale samples of any depth to ``uint8``.

    Integers in 0..65535 are taken as 16-bit (divided by 257, rounded); other integer ranges are
    stretched from their minimum to their maximum. Floats up to 1.0 are taken as 0..1, larger
    ones as Pillow's 0..255 convention, and clipped.
    """
    if values.dtype == np.uint8:
        return values
    if values.dtype.kind == "f":
        return _float_to_uint8(values)
    low, high = int(values.min()), int(values.max())
    if low >= 0 and high <= 65535:
        return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)
    spread = max(high - low, 1)
    return np.round((values.astype(np.float64) - low) * (255 / spread)).astype(np.uint8)


def _float_to_uint8(values: np.ndarray) -> np.ndarray:
    """Map float samples (0..1, or 0..255 when any exceeds 1) to ``uint8``; NaN becomes 0."""
    finite = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
    if finite.max(initial=0.0) <= 1.0:
        finite = finite * 255.0
    return np.round(np.clip(finite, 0.0, 255.0)).astype(np.uint8)


def _output_format(path: Path) -> str:
    """The Pillow format name for an output path, or an EncodeError for other extensions."""
    fmt = pillow_format(path)
    if fmt is None:
        suffix = path.suffix or "(none)"
        raise EncodeError(
            path, f"unsupported output format '{suffix}'", hint="use .png, .jpg, .webp or .tif"
        )
    return fmt


def _compose(rgb: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    """Build the Pillow image to save: RGB, or RGBA with alpha resized to the colour's size."""
    _require_uint8(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be HxWx3, got shape {rgb.shape}")
    image = Image.fromarray(np.ascontiguousarray(rgb))
    if alpha is not None:
        height, width = rgb.shape[:2]
        image.putalpha(Image.fromarray(_alpha_plane(alpha, width, height)))
    return image


def _alpha_plane(alpha: np.ndarray, width: int, height: int) -> np.ndarray:
    """An HxW (or HxWx1) ``uint8`` alpha as a contiguous plane of the given size."""
    _require_uint8(alpha)
    if alpha.ndim == 3:
        if alpha.shape[2] != 1:
            raise ValueError(f"alpha must be HxW, got shape {alpha.shape}")
        alpha = alpha[..., 0]
    return np.ascontiguousarray(resize_to(alpha, width, height))


def _encoder_options(fmt: str, quality: int) -> dict[str, object]:
    """Pillow save options: quality for JPEG/WebP, and full-resolution chroma for good JPEGs."""
    if fmt == "JPEG":
        return {"quality": quality, "optimize": True, "subsampling": 0 if quality >= 90 else 2}
    if fmt == "WEBP":
        return {"quality": quality}
    if fmt == "TIFF":
        return {"compression": "tiff_lzw"}
    return {}


def _require_uint8(array: np.ndarray) -> None:
    """Raise ValueError unless ``array`` is a 2-D or 3-D ``uint8`` array."""
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim not in (2, 3):
        kind = getattr(array, "dtype", type(array).__name__)
        raise ValueError(f"expected a 2-D or 3-D uint8 array, got {kind}")


def _short_reason(exc: BaseException) -> str:
    """A short, path-free description of an exception for an error message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
