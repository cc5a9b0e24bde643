"""`vidstyle folder` end to end: tree, resume, failures, exit codes (one test with the real
weights, the others with the tiny random-weight model); formats, names, the manifest and outputs
checked before work (tiny random-weight model)."""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import png_header_only, shared_tiny_engine, textured
from PIL import Image
from typer.testing import CliRunner

from vidstyle._cli import app
from vidstyle._cli import common as cli
from vidstyle.config import FolderConfig, MethodConfig
from vidstyle.pipeline import folder as folder_pipeline

FAST = ["--max-size", "32", "--steps", "2", "--quiet"]
runner = CliRunner()


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def tree(tmp_path, request):
    """A photo tree and a style; the engine is the tiny one unless the test is real_weights."""
    if request.node.get_closest_marker("real_weights"):
        request.getfixturevalue("real_weights")
    else:  # the folder's mechanics: the tiny random-weight engine does
        request.getfixturevalue("tiny_cli")
    photos = tmp_path / "photos"
    _save(photos / "a.png", textured(40, 50, seed=1))
    _save(photos / "trip" / "b.jpg", textured(30, 30, seed=2))
    _save(photos / "trip" / "deep" / "c.webp", textured(20, 36, seed=3))
    (photos / "notes.txt").write_text("not an image")
    _save(photos / ".hidden" / "x.png", textured(8, 8))
    style = tmp_path / "style.png"
    _save(style, textured(48, 48, seed=4))
    return photos, style, tmp_path / "styled"


def _run(photos, style, out, *extra):
    args = ["folder", str(photos), "-s", str(style), "-o", str(out), *FAST, *extra]
    return runner.invoke(app, args)


def _files(root):
    """The visible files below ``root`` (the manifest is hidden)."""
    found = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return sorted(name for name in found if not name.startswith("."))


def _digests(root):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


@pytest.mark.real_weights
def test_output_tree_mirrors_input_and_inputs_are_untouched(tree):
    photos, style, out = tree
    before = _digests(photos)
    result = _run(photos, style, out)
    assert result.exit_code == 0, result.output
    assert _files(out) == ["a.png", "trip/b.jpg", "trip/deep/c.webp"]
    assert Image.open(out / "trip" / "deep" / "c.webp").size == (32, 18)  # longest side 32
    assert "3 done, 0 skipped, 0 failed" in result.output
    assert _digests(photos) == before


def test_rerun_skips_finished_outputs_and_overwrite_redoes_them(tree):
    photos, style, out = tree
    assert _run(photos, style, out).exit_code == 0
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.*")}
    again = _run(photos, style, out)
    assert again.exit_code == 0
    assert "0 done, 3 skipped" in again.output
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.*")} == stamps
    redo = _run(photos, style, out, "--overwrite", "--format", "png")
    assert "3 done" in redo.output
    assert (out / "trip" / "b.png").is_file()


def test_a_corrupt_file_fails_alone_with_its_reason_and_exit_code_1(tree):
    photos, style, out = tree
    (photos / "trip" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    result = _run(photos, style, out)
    assert result.exit_code == 1
    assert "3 done, 0 skipped, 1 failed" in result.output
    assert "broken.jpg" in result.output and "cannot decode image" in result.output
    assert _files(out) == ["a.png", "trip/b.jpg", "trip/deep/c.webp"]


def test_an_image_too_large_for_the_memory_limit_fails_alone_with_a_size_that_fits(tree):
    photos, style, out = tree
    _save(photos / "big.png", textured(160, 200, seed=5))  # 32000 pixels, about 98 MiB
    result = _run(photos, style, out, "--max-size", "200", "--memory-limit", "0.05")  # 51 MiB
    assert result.exit_code == 1
    assert "3 done, 0 skipped, 1 failed" in result.output
    assert f"{photos / 'big.png'}: 200x160 needs about 98 MiB" in result.output
    assert "use --max-size 144 or less" in result.output
    assert _files(out) == ["a.png", "trip/b.jpg", "trip/deep/c.webp"]


def test_batch_gives_the_results_of_one_image_at_a_time(tree, tmp_path):
    photos, style, out = tree
    _save(photos / "trip" / "a2.png", textured(40, 50, seed=6))  # a.png's size
    assert _run(photos, style, out, "--batch", "1").exit_code == 0
    batched = tmp_path / "batched"
    result = _run(photos, style, batched, "--batch", "2")
    assert result.exit_code == 0, result.output
    assert "4 done, 0 skipped, 0 failed" in result.output
    assert _files(batched) == _files(out)
    for name in ("a.png", "trip/a2.png", "trip/deep/c.webp"):
        one, two = (np.asarray(Image.open(root / name), int) for root in (out, batched))
        assert np.abs(one - two).max() <= 1, name


def test_usage_errors_exit_2(tree):
    photos, style, out = tree
    assert _run(photos, style, out, "--steps", "-1").exit_code == 2
    assert _run(photos, style, out, "--memory-limit", "-1").exit_code == 2
    assert _run(photos, style, out, "--batch", "-1").exit_code == 2
    assert _run(photos, style, out, "--format", "gif").exit_code == 2
    assert runner.invoke(app, ["folder", str(photos)]).exit_code == 2  # no --style / -o
    assert _run(photos, style, photos).exit_code == 2  # output folder is the input folder


def test_missing_folder_and_missing_style_name_the_file(tree, tmp_path):
    photos, style, out = tree
    missing = _run(tmp_path / "nowhere", style, out)
    assert missing.exit_code == 1 and "nowhere: no such folder" in missing.output
    no_style = _run(photos, tmp_path / "nostyle.png", out)
    assert no_style.exit_code == 1 and "nostyle.png" in no_style.output


def test_interrupted_write_leaves_nothing_half_written_and_rerun_resumes(tree, monkeypatch):
    photos, style, out = tree
    real_save = Image.Image.save
    calls = []

    def save_then_interrupt(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == 2:  # the second output: write part of it, then Ctrl-C
            with open(fp, "wb") as f:
                f.write(b"\x89PNG partial")
            raise KeyboardInterrupt
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save_then_interrupt)
    result = _run(photos, style, out)
    assert result.exit_code == 130
    assert _files(out) == ["a.png"]  # the finished one only; no partial or temporary file
    monkeypatch.setattr(Image.Image, "save", real_save)
    resumed = _run(photos, style, out)
    assert "2 done, 1 skipped" in resumed.output
    assert _files(out) == ["a.png", "trip/b.jpg", "trip/deep/c.webp"]
    assert np.asarray(Image.open(out / "trip" / "b.jpg")).shape == (30, 30, 3)


# --- tiny random-weight model: formats, names, manifest, outputs checked before work -----------

TINY = ["--max-size", "24", "--steps", "2", "--batch", "1", "--quiet"]


class _Counting:
    """A shared tiny engine (conftest's :func:`shared_tiny_engine`, its steps compiled once per
    session) that counts the images it optimizes in ``stylized``, for one build."""

    def __init__(self, engine):
        self.engine, self.stylized = engine, []

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def stylize(self, request):
        self.stylized.append(request.shape)
        return self.engine.stylize(request)


@pytest.fixture
def tiny(monkeypatch):
    """``vidstyle._cli.common`` builds the tiny random-weight engine; the list holds each one built,
    and the engine counts the images it optimizes in ``engine.stylized``."""
    built = []

    def build(method, weights, quiet):
        built.append(_Counting(shared_tiny_engine(method)))
        return built[-1]

    monkeypatch.setattr(cli, "engine_for", build)
    return built


def _tiny(photos, style, out, *extra):
    args = ["folder", str(photos), "-s", str(style), "-o", str(out), *TINY, *extra]
    return runner.invoke(app, args)


def _mixed_folder(tmp_path):
    """Photos in every kind of file a camera, scanner or editor leaves, with awkward names."""
    photos = tmp_path / "photos"
    (photos / "été 2024").mkdir(parents=True)
    rgb = Image.fromarray(textured(20, 28, seed=1))
    rgb.save(photos / "café au lait.tif")
    Image.fromarray(np.linspace(0, 65535, 20 * 28, dtype=np.uint16).reshape(20, 28)).save(
        photos / "scan 16-bit.tiff"
    )
    rgb.save(photos / "über 2.bmp")
    frames = [rgb, Image.fromarray(textured(20, 28, seed=2))]
    frames[0].save(photos / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    rgb.save(photos / "été 2024" / "plage 日本.png")
    rgb.save(photos / "été 2024" / "ñandú.jpg")
    rgb.save(photos / "été 2024" / "x.JPEG")
    rgb.save(photos / "web photo.webp")
    rgb.save(photos / "old.ppm")
    rgb.convert("L").save(photos / "grey.pgm")
    rgb.convert("RGBA").save(photos / "game.tga")
    style = tmp_path / "style.png"
    Image.fromarray(textured(24, 24, seed=4)).save(style)
    return photos, style


MIXED_OUTPUTS = ["anim.png", "café au lait.tif", "game.png", "grey.png", "old.png",
                 "scan 16-bit.tiff", "web photo.webp", "über 2.png", "été 2024/plage 日本.png",
                 "été 2024/x.jpeg", "été 2024/ñandú.jpg"]  # fmt: skip


def test_every_kind_of_photo_and_name_gives_one_output_and_exit_0(tmp_path, tiny):
    photos, style = _mixed_folder(tmp_path)
    out = tmp_path / "styled"
    result = _tiny(photos, style, out)
    assert result.exit_code == 0, result.output
    assert "11 done, 0 skipped, 0 failed" in result.output
    assert _files(out) == sorted(MIXED_OUTPUTS)
    with Image.open(out / "café au lait.tif") as tif:
        assert tif.format == "TIFF" and tif.size == (24, 17)
    with Image.open(out / "game.png") as tga:
        assert tga.mode == "RGBA"  # the TGA's alpha carried over
    assert len(tiny[0].stylized) == 11


def test_format_tif_and_unwritten_formats(tmp_path, tiny):
    photos, style = _mixed_folder(tmp_path)
    result = _tiny(photos, style, tmp_path / "tif", "--format", "TIF")
    assert result.exit_code == 0, result.output
    assert {Path(name).suffix for name in _files(tmp_path / "tif")} == {".tif"}
    for bad in ("gif", "bmp", "ppm"):
        refused = _tiny(photos, style, tmp_path / "bad", "--format", bad)
        assert refused.exit_code == 2 and "--format" in refused.output
    assert len(tiny) == 1  # no engine for the refused runs


def test_rerun_skips_only_what_the_same_input_style_and_options_made(tmp_path, tiny):
    photos, style = _mixed_folder(tmp_path)
    out = tmp_path / "styled"
    assert _tiny(photos, style, out).exit_code == 0
    assert (out / folder_pipeline.MANIFEST_NAME).is_file()
    same = _tiny(photos, style, out)
    assert "0 done, 11 skipped, 0 failed" in same.output and len(tiny) == 1  # no engine needed
    other = tmp_path / "other style.jpg"
    Image.fromarray(textured(24, 24, seed=9)).save(other)
    restyled = _tiny(photos, other, out)
    assert restyled.exit_code == 0, restyled.output
    assert "11 done, 0 skipped" in restyled.output
    assert "11 redone: made with another input, style or options" in restyled.output
    more_steps = _tiny(photos, other, out, "--steps", "3")
    assert "11 done, 0 skipped" in more_steps.output and "11 redone" in more_steps.output
    back = _tiny(photos, other, out, "--steps", "3", "--memory-limit", "4")  # not in the print
    assert "0 done, 11 skipped" in back.output
    touched = photos / "old.ppm"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    one = _tiny(photos, other, out, "--steps", "3")
    assert "1 done, 10 skipped" in one.output and "1 redone" in one.output


def test_outputs_with_no_record_are_redone_never_skipped(tmp_path, tiny):
    photos, style = _mixed_folder(tmp_path)
    out = tmp_path / "styled"
    (out / "été 2024").mkdir(parents=True)
    (out / "old.png").write_bytes(b"made by hand")
    Image.new("RGB", (5, 5)).save(out / "été 2024" / "ñandú.jpg")  # an older version's output
    result = _tiny(photos, style, out)
    assert result.exit_code == 0, result.output
    assert "11 done, 0 skipped" in result.output
    assert "2 redone: no record of how it was made" in result.output
    assert Image.open(out / "old.png").size == (24, 17)
    edited = out / "web photo.webp"  # changed by hand after it was made
    Image.new("RGB", (5, 5)).save(edited)
    (out / "café au lait.tif").unlink()
    again = _tiny(photos, style, out)
    assert "2 done, 9 skipped" in again.output and "1 redone: no record" in again.output
    (out / folder_pipeline.MANIFEST_NAME).write_text("{not json")
    broken = _tiny(photos, style, out)
    assert "11 done, 0 skipped" in broken.output and "11 redone: no record" in broken.output
    recorded = json.loads((out / folder_pipeline.MANIFEST_NAME).read_text())["outputs"]
    assert sorted(recorded) == sorted(MIXED_OUTPUTS)


def test_overwrite_redoes_everything(tmp_path, tiny):
    photos, style = _mixed_folder(tmp_path)
    out = tmp_path / "styled"
    assert _tiny(photos, style, out).exit_code == 0
    again = _tiny(photos, style, out, "--overwrite")
    assert "11 done, 0 skipped" in again.output and "redone:" not in again.output


def test_an_output_that_cannot_be_written_fails_at_once_and_alone(tmp_path, tiny):
    photos, style = _mixed_folder(tmp_path)
    out = tmp_path / "styled"
    out.mkdir()
    (out / "été 2024").write_text("a file where a folder goes")
    (out / "anim.png").mkdir()  # a folder where a file goes
    result = _tiny(photos, style, out)
    assert result.exit_code == 1
    assert "7 done, 0 skipped, 4 failed" in result.output
    assert "été 2024 is a file, not a folder" in result.output
    assert "anim.png: is a folder, not a file" in result.output
    assert len(tiny[0].stylized) == 7  # the four were never optimized
    everything_blocked = tmp_path / "blocked"
    everything_blocked.write_text("a file")
    blocked = _tiny(photos, style, everything_blocked / "sub")
    assert blocked.exit_code == 1 and "0 done, 0 skipped, 11 failed" in blocked.output
    assert len(tiny) == 1  # no engine built when nothing can be written


def test_inputs_sharing_an_output_name_get_one_each(tmp_path, tiny):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "a.bmp", "a.gif", "b.jpg", "b.jpeg"):
        Image.fromarray(textured(16, 16, seed=len(name))).save(photos / name)
    style = tmp_path / "style.png"
    Image.fromarray(textured(24, 24, seed=4)).save(style)
    result = _tiny(photos, style, tmp_path / "out", "--format", "png")
    assert result.exit_code == 0, result.output
    assert _files(tmp_path / "out") == ["a.bmp.png", "a.gif.png", "a.png", "b.jpeg.png",
                                        "b.jpg.png"]  # fmt: skip


def test_a_decompression_bomb_fails_alone_in_seconds(tmp_path, tiny):
    import time

    photos, style = _mixed_folder(tmp_path)
    png_header_only(photos / "bomb.png", 60000, 60000)
    started = time.process_time()
    result = _tiny(photos, style, tmp_path / "out")
    assert time.process_time() - started < 60  # CPU seconds: another worker's load is not ours
    assert result.exit_code == 1 and "11 done, 0 skipped, 1 failed" in result.output
    assert "bomb.png: too large: 3600 MP, more than the 160 MP vidstyle reads" in result.output


def test_prepare_decides_before_any_work(tmp_path):
    photos, style_path = _mixed_folder(tmp_path)
    out = tmp_path / "styled"
    config = FolderConfig()
    items = folder_pipeline.plan(photos, out, config)
    style = np.asarray(Image.open(style_path))
    method = MethodConfig(max_size=24, steps=2)
    job = folder_pipeline.prepare(items, out, config, style, method)
    assert [task.action for task in job.decisions] == ["run"] * 11 and not out.exists()
    first = job.decisions[0]
    first.item.output.parent.mkdir(parents=True, exist_ok=True)
    first.item.output.write_bytes(b"x")
    job.manifest.record(first.item.output, first.fingerprint)
    again = folder_pipeline.prepare(items, out, config, style, method)
    assert [task.action for task in again.decisions].count("skip") == 1
    other = folder_pipeline.prepare(items, out, config, style, method.replace(seed=5))
    assert other.decisions[0].action == "run" and other.decisions[0].redo == "changed"
    limit = folder_pipeline.prepare(items, out, config, style, method.replace(memory_limit=2))
    assert limit.decisions[0].action == "skip"
    batched = FolderConfig(batch=3, suffix=".png")  # neither is in the print
    assert folder_pipeline.prepare(items, out, batched, style, method).decisions[0].action == "skip"


def test_a_folder_option_that_changes_the_output_counts_in_the_print_once_set():
    """The folder's options reach the fingerprint by their declarations: none changes an output
    today (so no print changed); one declared later that does counts once set."""
    from dataclasses import dataclass

    from vidstyle.options import option
    from vidstyle.pipeline.fingerprint import folder_part

    @dataclass(frozen=True)
    class Wider(FolderConfig):
        sharpen: float = option(0.0, "Sharpen the outputs.", later=True)

    assert folder_part(FolderConfig(overwrite=True, suffix=".jpg", batch=3)) is None
    assert folder_part(Wider()) is None and folder_part(Wider(sharpen=0.5)) == {"sharpen": 0.5}


def test_an_output_edited_after_a_run_with_other_options_counts_as_unrecorded(tmp_path, tiny):
    photos, style = _mixed_folder(tmp_path)
    out = tmp_path / "styled"
    assert _tiny(photos, style, out).exit_code == 0
    Image.new("RGB", (5, 5)).save(out / "grey.png")  # edited by hand since
    result = _tiny(photos, style, out, "--steps", "3")
    assert "10 redone: made with another input" in result.output
    assert "1 redone: no record of how it was made" in result.output
