"""Tests for vidstyle.media.images: colour modes, orientation, alpha, resizing, errors, saving."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import peak_growth_mib, png_header_only
from PIL import Image

from vidstyle.errors import DecodeError, EncodeError, InputError, UsageError, flag
from vidstyle.fsutil import is_temporary
from vidstyle.media.formats import (
    IMAGE_SUFFIXES,
    MAX_PIXELS,
    OUTPUT_SUFFIXES,
    check_output,
    check_pixels,
    format_suffix,
    output_suffix,
)
from vidstyle.media.images import (
    Picture,
    check_distinct,
    check_image,
    fit_longest,
    load_image,
    probe_size,
    resize_to,
    save_image,
)

RED, BLUE = (255, 0, 0), (0, 0, 255)


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A reproducible random HxWx3 uint8 image (incompressible, so truncation hits pixel data)."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def saved(image: Image.Image, path: Path, expect_mode: str | None = None, **options) -> Path:
    """Save ``image`` and check the file really reopens in the mode the test is about."""
    image.save(path, **options)
    if expect_mode is not None:
        with Image.open(path) as reopened:
            assert reopened.mode == expect_mode
    return path


def single(picture: Picture) -> tuple[int, int, int]:
    """The colour of a uniform picture, checking it is uniform."""
    first = picture.rgb[0, 0]
    assert (picture.rgb == first).all()
    return tuple(int(v) for v in first)


# --- colour modes -------------------------------------------------------------------------------


def test_rgb_png_round_trips_exactly(tmp_path):
    pixels = noise(7, 5)
    path = saved(Image.fromarray(pixels), tmp_path / "rgb.png", "RGB")
    picture = load_image(path)
    assert picture.rgb.dtype == np.uint8 and picture.rgb.shape == (7, 5, 3)
    np.testing.assert_array_equal(picture.rgb, pixels)
    assert picture.alpha is None


def test_grey_l(tmp_path):
    path = saved(Image.new("L", (4, 3), 77), tmp_path / "l.png", "L")
    picture = load_image(path)
    assert picture.rgb.shape == (3, 4, 3)
    assert single(picture) == (77, 77, 77)
    assert picture.alpha is None


def test_grey_with_alpha_la(tmp_path):
    path = saved(Image.new("LA", (4, 3), (200, 100)), tmp_path / "la.png", "LA")
    picture = load_image(path)
    assert single(picture) == (200, 200, 200)
    assert picture.alpha is not None and picture.alpha.shape == (3, 4)
    assert (picture.alpha == 100).all()


def test_bilevel(tmp_path):
    image = Image.new("1", (8, 2), 0)
    image.putpixel((3, 1), 1)
    picture = load_image(saved(image, tmp_path / "bits.png", "1"))
    assert tuple(picture.rgb[1, 3]) == (255, 255, 255)
    assert tuple(picture.rgb[0, 0]) == (0, 0, 0)
    assert picture.alpha is None


def palette_image() -> Image.Image:
    """A 4x2 palette image: index 0 (green) on the left half, index 1 (red) on the right."""
    image = Image.new("P", (4, 2), 0)
    image.putpalette([0, 255, 0, 255, 0, 0] + [0] * 762)
    for x in (2, 3):
        for y in (0, 1):
            image.putpixel((x, y), 1)
    return image


def test_palette_without_transparency(tmp_path):
    picture = load_image(saved(palette_image(), tmp_path / "p.png", "P"))
    assert tuple(picture.rgb[0, 0]) == (0, 255, 0)
    assert tuple(picture.rgb[1, 3]) == RED
    assert picture.alpha is None


def test_palette_with_transparency(tmp_path):
    path = saved(palette_image(), tmp_path / "pt.png", "P", transparency=0)
    picture = load_image(path)
    assert tuple(picture.rgb[1, 3]) == RED
    assert picture.alpha is not None
    np.testing.assert_array_equal(picture.alpha, [[0, 0, 255, 255], [0, 0, 255, 255]])


def test_rgba(tmp_path):
    image = Image.new("RGBA", (3, 3), (10, 20, 30, 40))
    picture = load_image(saved(image, tmp_path / "rgba.png", "RGBA"))
    assert single(picture) == (10, 20, 30)
    assert picture.alpha is not None and (picture.alpha == 40).all()


def test_rgb_with_transparent_colour_key(tmp_path):
    image = Image.new("RGB", (2, 1), RED)
    image.putpixel((1, 0), BLUE)
    picture = load_image(saved(image, tmp_path / "key.png", "RGB", transparency=RED))
    assert picture.alpha is not None
    np.testing.assert_array_equal(picture.alpha, [[0, 255]])


@pytest.mark.parametrize("suffix", [".tif", ".jpg"])
def test_cmyk_cyan_becomes_rgb_cyan(tmp_path, suffix):
    path = saved(Image.new("CMYK", (8, 8), (255, 0, 0, 0)), tmp_path / f"c{suffix}", "CMYK")
    r, g, b = load_image(path).rgb[4, 4]
    assert r <= 10 and g >= 245 and b >= 245


GREY16 = np.array([[65535, 32768, 1000, 257, 0]], dtype=np.uint16)
GREY16_EXPECTED = [255, 128, 4, 1, 0]  # rounded v / 257, not clipped


@pytest.mark.parametrize(
    ("values", "name", "mode"),
    [
        (GREY16, "g16.png", "I;16"),
        (GREY16.astype(">u2"), "g16b.tif", "I;16B"),
        (GREY16.astype(np.int32), "g32.tif", "I"),
    ],
)
def test_wide_grey_is_scaled_not_clipped(tmp_path, values, name, mode):
    picture = load_image(saved(Image.fromarray(values), tmp_path / name, mode))
    np.testing.assert_array_equal(picture.rgb[0, :, 0], GREY16_EXPECTED)
    np.testing.assert_array_equal(picture.rgb[..., 0], picture.rgb[..., 2])
    assert picture.alpha is None


def test_float_grey(tmp_path):
    values = np.array([[1.0, 0.5, 0.0]], dtype=np.float32)
    picture = load_image(saved(Image.fromarray(values), tmp_path / "f.tif", "F"))
    np.testing.assert_array_equal(picture.rgb[0, :, 1], [255, 128, 0])


def bgr16(height: int = 3, width: int = 5) -> np.ndarray:
    """A uniform 16-bit BGR array: red full, green half, blue zero."""
    pixels = np.zeros((height, width, 3), np.uint16)
    pixels[..., 2], pixels[..., 1] = 65535, 32768
    return pixels


def test_sixteen_bit_rgb_png(tmp_path):
    path = tmp_path / "rgb16.png"
    assert cv2.imwrite(str(path), bgr16())
    picture = load_image(path)
    r, g, b = single(picture)
    assert r == 255 and abs(g - 128) <= 1 and b == 0
    assert picture.alpha is None


def test_sixteen_bit_rgba_png(tmp_path):
    path = tmp_path / "rgba16.png"
    alpha = np.full((3, 5, 1), 32768, np.uint16)
    assert cv2.imwrite(str(path), np.concatenate([bgr16(), alpha], axis=2))
    picture = load_image(path)
    assert single(picture)[0] == 255 and picture.alpha is not None
    assert abs(int(picture.alpha[0, 0]) - 128) <= 1


def test_float_rgb_tiff_falls_back_to_opencv(tmp_path):
    path = tmp_path / "float.tif"
    pixels = np.zeros((2, 3, 3), np.float32)
    pixels[..., 2], pixels[..., 1] = 1.0, 0.5  # BGR: red full, green half
    assert cv2.imwrite(str(path), pixels)
    with pytest.raises(OSError):
        Image.open(path)  # the case the fallback exists for
    assert single(load_image(path)) == (255, 128, 0)


def test_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (6, 4), colour) for colour in (RED, BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    with Image.open(path) as image:
        assert image.n_frames == 2
    assert single(load_image(path)) == RED


@pytest.mark.parametrize("suffix", [".bmp", ".webp", ".tiff", ".jpeg"])
def test_other_formats(tmp_path, suffix):
    options = {"lossless": True} if suffix == ".webp" else {}
    path = saved(Image.new("RGB", (9, 5), (40, 160, 220)), tmp_path / f"x{suffix}", **options)
    r, g, b = single(load_image(path))
    assert abs(r - 40) <= 3 and abs(g - 160) <= 3 and abs(b - 220) <= 3


def test_image_suffixes():
    photos = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
    assert photos | {".ppm", ".pgm", ".pnm", ".pbm", ".tga"} == IMAGE_SUFFIXES
    assert all(s == s.lower() for s in IMAGE_SUFFIXES)
    assert OUTPUT_SUFFIXES == (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")


# --- orientation --------------------------------------------------------------------------------


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high: left half red, right blue
    stored[:, :20], stored[:, 20:] = RED, BLUE
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    picture = load_image(path)
    assert picture.rgb.shape == (40, 20, 3)
    top, bottom = picture.rgb[5, 10].astype(int), picture.rgb[35, 10].astype(int)
    assert top[0] > 200 and top[2] < 60  # the left (red) side is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_no_exif_keeps_shape(tmp_path):
    path = saved(Image.fromarray(noise(20, 40)), tmp_path / "plain.jpg")
    assert load_image(path).rgb.shape == (20, 40, 3)


# --- errors on load -----------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file") as info:
        load_image(tmp_path / "ghost.png")
    assert "ghost.png" in str(info.value)


def test_folder(tmp_path):
    folder = tmp_path / "album.png"
    folder.mkdir()
    with pytest.raises(InputError, match="folder") as info:
        load_image(folder)
    assert "album.png" in str(info.value)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(DecodeError, match="empty") as info:
        load_image(path)
    assert "empty.png" in str(info.value)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF")
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.png", b"hello, this is not an image\n"),
        ("random.jpg", np.random.default_rng(1).bytes(4096)),
        ("fake.tif", b"II*\x00" + b"\xff" * 64),
    ],
)
def test_not_an_image(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DecodeError, match="cannot decode image") as info:
        load_image(path)
    assert name in str(info.value)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_file(tmp_path, suffix):
    whole = saved(Image.fromarray(noise(96, 96)), tmp_path / f"whole{suffix}")
    load_image(whole)  # sanity: the intact file decodes
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match="truncated") as info:
        load_image(cut)
    assert cut.name in str(info.value)


def test_loading_leaves_the_file_untouched(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = saved(Image.fromarray(noise(10, 30)), tmp_path / "keep.jpg", exif=exif)
    past = 1_600_000_000
    os.utime(path, (past, past))
    before = path.read_bytes()
    load_image(path)
    assert path.read_bytes() == before
    assert path.stat().st_mtime == past
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.jpg"]


# --- resizing -----------------------------------------------------------------------------------


def test_fit_longest_shrinks_keeping_aspect():
    out = fit_longest(noise(300, 600), 200)
    assert out.shape == (100, 200, 3) and out.dtype == np.uint8
    tall = fit_longest(noise(1000, 10), 100)
    assert tall.shape == (100, 1, 3)


def test_fit_longest_never_enlarges():
    small = noise(30, 50)
    assert fit_longest(small, 50) is small
    assert fit_longest(small, 4000) is small
    assert fit_longest(noise(300, 5000), 0).shape == (300, 5000, 3)  # 0: the image's own size


def test_fit_longest_keeps_at_least_one_pixel():
    assert fit_longest(noise(1, 5000), 64).shape == (1, 64, 3)


def test_fit_longest_keeps_colour():
    flat = np.full((400, 300, 3), (12, 130, 250), np.uint8)
    out = fit_longest(flat, 100)
    assert out.shape == (100, 75, 3)
    assert np.abs(out.astype(int) - (12, 130, 250)).max() <= 1


def test_fit_longest_rejects_bad_input():
    with pytest.raises(ValueError):
        fit_longest(noise(4, 4), -1)
    with pytest.raises(ValueError):
        fit_longest(noise(40, 40).astype(np.float32), 10)


@pytest.mark.parametrize("shape", [(40, 60), (40, 60, 3), (40, 60, 4), (40, 60, 1)])
def test_resize_to_exact_size(shape):
    array = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    out = resize_to(array, 25, 10)
    assert out.shape == (10, 25) + shape[2:]
    assert out.dtype == np.uint8


def test_resize_to_keeps_constant_planes():
    plane = np.full((7, 9), 200, np.uint8)
    np.testing.assert_array_equal(resize_to(plane, 30, 12), np.full((12, 30), 200))


# --- saving -------------------------------------------------------------------------------------


def test_save_png_round_trip_with_alpha(tmp_path):
    rgb, alpha = noise(12, 8), np.random.default_rng(3).integers(0, 256, (12, 8), dtype=np.uint8)
    path = tmp_path / "out.png"
    save_image(path, rgb, alpha)
    picture = load_image(path)
    np.testing.assert_array_equal(picture.rgb, rgb)
    np.testing.assert_array_equal(picture.alpha, alpha)


def test_save_webp_keeps_alpha(tmp_path):
    rgb = np.full((16, 16, 3), (0, 200, 0), np.uint8)
    alpha = np.zeros((16, 16), np.uint8)
    alpha[:, 8:] = 255
    path = tmp_path / "out.webp"
    save_image(path, rgb, alpha, quality=90)
    with Image.open(path) as image:
        assert image.format == "WEBP" and image.mode == "RGBA"
    picture = load_image(path)
    assert picture.alpha is not None
    assert picture.alpha[:, :6].max() <= 10 and picture.alpha[:, 10:].min() >= 245


@pytest.mark.parametrize("name", ["out.jpg", "OUT.JPEG"])
def test_save_jpeg_drops_alpha(tmp_path, name):
    rgb = np.full((16, 16, 3), (200, 30, 30), np.uint8)
    path = tmp_path / name
    save_image(path, rgb, np.zeros((16, 16), np.uint8))
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
    picture = load_image(path)
    assert picture.alpha is None
    assert np.abs(picture.rgb.astype(int) - (200, 30, 30)).max() <= 4


def test_save_resizes_alpha_to_rgb(tmp_path):
    alpha = np.zeros((4, 4), np.uint8)
    alpha[:, 2:] = 255
    path = tmp_path / "scaled.png"
    save_image(path, noise(40, 40), alpha)
    picture = load_image(path)
    assert picture.alpha is not None and picture.alpha.shape == (40, 40)
    left, right = picture.alpha[:, :10].mean(), picture.alpha[:, 30:].mean()
    assert left < 20 and right > 235  # Lanczos rings a little near the edge


def test_save_quality_changes_jpeg_size(tmp_path):
    rgb = noise(64, 64)
    save_image(tmp_path / "low.jpg", rgb, quality=20)
    save_image(tmp_path / "high.jpg", rgb, quality=95)
    assert (tmp_path / "low.jpg").stat().st_size < (tmp_path / "high.jpg").stat().st_size


def test_save_creates_parent_folders(tmp_path):
    path = tmp_path / "a" / "b" / "c.png"
    save_image(path, noise(3, 3))
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["c.png"]


def test_save_replaces_existing_file(tmp_path):
    path = tmp_path / "x.png"
    save_image(path, np.zeros((2, 2, 3), np.uint8))
    save_image(path, np.full((2, 2, 3), 255, np.uint8))
    assert single(load_image(path)) == (255, 255, 255)


@pytest.mark.parametrize("name", ["out.gif", "out.bmp", "out.ppm", "out"])
def test_save_unsupported_suffix(tmp_path, name):
    with pytest.raises(EncodeError, match="unsupported output format") as info:
        save_image(tmp_path / name, noise(3, 3))
    assert name in str(info.value) and info.value.hint
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_malformed_arrays(tmp_path):
    with pytest.raises(ValueError):
        save_image(tmp_path / "a.png", noise(3, 3).astype(np.float32))
    with pytest.raises(ValueError):
        save_image(tmp_path / "b.png", np.zeros((3, 3, 4), np.uint8))
    with pytest.raises(ValueError):
        save_image(tmp_path / "c.png", noise(3, 3), np.zeros((3, 3, 2), np.uint8))
    with pytest.raises(ValueError):
        save_image(tmp_path / "d.jpg", noise(3, 3), quality=0)
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    def broken_save(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    path = tmp_path / "out" / "result.png"
    with pytest.raises(EncodeError, match="No space left") as info:
        save_image(path, noise(8, 8))
    assert "result.png" in str(info.value)
    assert not path.exists()
    assert list(path.parent.iterdir()) == []


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "result.jpg"
    save_image(path, noise(8, 8))
    before = path.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"partial")
        raise OSError("encoder exploded")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(EncodeError):
        save_image(path, noise(8, 8, seed=5))
    assert path.read_bytes() == before
    assert not any(is_temporary(p) for p in tmp_path.iterdir())


def test_save_encoder_limit_is_an_encode_error(tmp_path):
    path = tmp_path / "huge.webp"
    with pytest.raises(EncodeError, match="cannot write image"):
        save_image(path, np.zeros((1, 16400, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_save_under_a_file_is_an_encode_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(EncodeError) as info:
        save_image(blocker / "out.png", noise(3, 3))
    assert "out.png" in str(info.value)
    assert blocker.read_text() == "not a folder"


# --- check_distinct -----------------------------------------------------------------------------


def test_check_distinct_accepts_other_output(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(b"x")
    check_distinct([a], b)
    b.write_bytes(b"y")
    check_distinct([a], b)


def test_check_distinct_refuses_same_path(tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    with pytest.raises(UsageError, match="overwrite an input") as info:
        check_distinct([tmp_path / "other.png", a], a)
    assert info.value.message().endswith("(choose another output)")
    assert info.value.message(flag).endswith("(choose another --output)")
    assert "a.png" in str(info.value)


def test_check_distinct_refuses_other_spelling(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(UsageError):
        check_distinct([a], Path("../sub/../a.png"))
    with pytest.raises(UsageError):
        check_distinct([Path("../a.png")], a)


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_check_distinct_refuses_symlink(tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    link = tmp_path / "link.png"
    link.symlink_to(a)
    with pytest.raises(UsageError):
        check_distinct([a], link)
    with pytest.raises(UsageError):
        check_distinct([link], a)


# --- what is read maps to what is written ------------------------------------------------------


def _sample(suffix: str) -> Image.Image:
    """A small picture in a mode the format holds."""
    image = Image.fromarray(noise(6, 9, seed=7))
    return {".pgm": image.convert("L"), ".pbm": image.convert("1")}.get(suffix, image)


@pytest.mark.parametrize("suffix", sorted(IMAGE_SUFFIXES))
def test_every_readable_suffix_decodes_and_maps_to_a_written_one(tmp_path, suffix):
    path = tmp_path / f"in{suffix}"
    _sample(suffix).save(path)
    picture = load_image(path)
    assert picture.rgb.shape == (6, 9, 3)
    out = tmp_path / f"out{output_suffix(path)}"
    assert out.suffix in OUTPUT_SUFFIXES
    check_output(out)
    save_image(out, picture.rgb, picture.alpha)
    assert load_image(out).rgb.shape == (6, 9, 3)


def test_output_suffix_keeps_written_formats_and_makes_the_others_png():
    kept = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"}
    for suffix in IMAGE_SUFFIXES:
        assert output_suffix(f"a{suffix.upper()}") == (suffix if suffix in kept else ".png")
    assert output_suffix("café au lait.TIF") == ".tif"


def test_sixteen_bit_tiff_comes_out_as_eight_bit_tiff_with_alpha(tmp_path):
    grey = np.linspace(0, 65535, 12, dtype=np.uint16).reshape(3, 4)
    source = tmp_path / "deep.tif"
    Image.fromarray(grey).save(source)
    picture = load_image(source)
    assert picture.rgb.dtype == np.uint8 and picture.rgb[-1, -1, 0] == 255
    out = tmp_path / "out.tiff"
    alpha = np.full((3, 4), 100, np.uint8)
    save_image(out, picture.rgb, alpha)
    with Image.open(out) as written:
        assert written.format == "TIFF" and written.mode == "RGBA"
        assert written.info.get("compression") == "tiff_lzw"
    assert np.array_equal(load_image(out).rgb, picture.rgb)


@pytest.mark.parametrize("name, suffix", [("tif", ".tif"), ("TIFF", ".tiff"), (".jpg", ".jpg"),
                                          ("webp", ".webp"), ("Png", ".png")])  # fmt: skip
def test_format_suffix(name, suffix):
    assert format_suffix(name) == suffix


@pytest.mark.parametrize("name", ["gif", "bmp", "ppm", ""])
def test_format_suffix_refuses_unwritten_formats_naming_the_parameter(name):
    with pytest.raises(UsageError) as info:
        format_suffix(name)
    assert "{format}" in info.value.reason and "tif" in info.value.reason
    assert "--format" in info.value.message(flag)


# --- outputs checked before any work -----------------------------------------------------------


def test_check_output_accepts_a_new_file_in_a_new_folder(tmp_path):
    check_output(tmp_path / "new" / "deeper" / "ünïcode name.tif", 500, 400)
    assert list(tmp_path.iterdir()) == []  # checking creates nothing


@pytest.mark.parametrize("name", ["out.gif", "out.bmp", "out.ppm", "out"])
def test_check_output_refuses_an_unwritten_suffix(tmp_path, name):
    with pytest.raises(UsageError, match="cannot write") as info:
        check_output(tmp_path / name)
    assert name in str(info.value) and "--output" in info.value.message(flag)


def test_check_output_refuses_a_path_under_a_file_or_a_folder_in_the_way(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(EncodeError, match="blocker is a file"):
        check_output(blocker / "deeper" / "out.png")
    (tmp_path / "taken.png").mkdir()
    with pytest.raises(EncodeError, match="is a folder"):
        check_output(tmp_path / "taken.png")
    assert blocker.read_text() == "not a folder"


def test_check_output_refuses_an_unwritable_folder(tmp_path):
    """Checked by a user the folder denies: as root (CI runs as root, and root writes anywhere),
    in a forked child that drops to ``nobody`` first; in a folder ``nobody`` can reach."""
    reachable = Path(tempfile.mkdtemp(prefix="vidstyle-locked-"))
    locked, out = reachable / "locked", reachable / "locked" / "out.png"
    try:
        reachable.chmod(0o755)
        locked.mkdir(mode=0o555)
        said = _as_nobody(lambda: check_output(out))
    finally:
        shutil.rmtree(reachable)
    assert said == f"{out}: cannot write in {locked}: permission denied"


def _as_nobody(check) -> str:
    """The message of the EncodeError ``check()`` raises, run as ``nobody`` when we are root
    (in a forked child: no new interpreter, nothing to import); "" when it raises none."""
    if os.geteuid() != 0:
        try:
            check()
        except EncodeError as error:
            return error.message()
        return ""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        message = "child failed"
        try:
            os.setgid(65534)
            os.setuid(65534)
            check()
            message = ""
        except EncodeError as error:
            message = error.message()
        finally:
            os.write(write, message.encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        said = pipe.read()
    os.waitpid(child, 0)
    return said


def test_check_output_knows_the_encoders_size_limits(tmp_path):
    check_output(tmp_path / "ok.webp", 16383, 100)
    with pytest.raises(EncodeError, match="16383") as info:
        check_output(tmp_path / "huge.webp", 16400, 1)
    assert "--max-size" in info.value.message(flag)
    check_output(tmp_path / "huge.png", 70000, 1)  # PNG has no such limit


# --- decompression bombs ------------------------------------------------------------------------


@pytest.mark.parametrize("width, height, megapixels, probed", [
    (60000, 60000, 3600, None),  # Pillow refuses to open it: no size, load_image gives the reason
    (13000, 13000, 169, (13000, 13000)),  # Pillow opens the header: the size, undecoded
])  # fmt: skip
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path, width, height, megapixels,
                                                         probed):  # fmt: skip
    """3600 MP is over Pillow's own error; 169 MP is where Pillow only warns: ours refuses both."""
    import time
    import warnings

    path = png_header_only(tmp_path / "bomb.png", width, height)
    started = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Pillow warning gets through
        with pytest.raises(InputError) as info:
            load_image(path)
    assert time.process_time() - started < 2  # CPU seconds: another worker's load is not ours
    imports = "from vidstyle.media.images import load_image"
    grown, raised = peak_growth_mib(imports, f"load_image({str(path)!r})")  # fresh peak
    assert raised == "InputError" and grown < 50, (grown, raised)
    message = info.value.message()
    assert "\n" not in message and str(path) in message
    assert f"too large: {megapixels} MP" in message or f"is {megapixels} MP" in message
    assert f"{MAX_PIXELS // 1_000_000} MP vidstyle reads" in message
    assert probe_size(path) == probed


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_probe_size_reads_the_orientation_from_the_header(tmp_path, suffix):
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees: upright, 3 wide and 5 high
    path = tmp_path / f"turned{suffix}"
    Image.new("RGB", (5, 3)).save(path, exif=exif.tobytes())
    assert probe_size(path) == (3, 5)
    assert probe_size(saved(Image.new("RGB", (5, 3)), tmp_path / f"plain{suffix}")) == (5, 3)


def test_check_pixels_allows_the_largest_camera_photos():
    check_pixels(Path("x.tif"), 14204, 10652)  # a 151 MP Phase One IQ4 frame
    with pytest.raises(InputError, match="16000x12000 is 192 MP"):
        check_pixels(Path("x.tif"), 16000, 12000)


def test_check_image_refuses_from_the_header_and_leaves_the_rest_to_the_load(tmp_path):
    check_image(saved(Image.new("RGB", (4, 3)), tmp_path / "fine.png"))
    with pytest.raises(InputError, match="too large: 3600 MP"):
        check_image(png_header_only(tmp_path / "bomb.png", 60000, 60000))
    with pytest.raises(InputError, match="13000x13000 is 169 MP"):
        check_image(png_header_only(tmp_path / "big.png", 13000, 13000))
    with pytest.raises(InputError, match="no such file"):
        check_image(tmp_path / "gone.png")
    (tmp_path / "odd.png").write_bytes(b"not an image at all")
    check_image(tmp_path / "odd.png")  # load_image gives the reason
