"""`vidstyle folder` end to end (real weights, tiny size): tree, resume, failures, exit codes."""

import hashlib

import numpy as np
import pytest
from conftest import textured
from PIL import Image
from typer.testing import CliRunner

from vidstyle.cli import app

pytestmark = pytest.mark.real_weights
FAST = ["--max-size", "32", "--steps", "2", "--quiet"]
runner = CliRunner()


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def tree(tmp_path, real_weights):
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
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _digests(root):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


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
