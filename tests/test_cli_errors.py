"""What a user sees when something goes wrong: one line on stderr, a non-zero exit code, and
nothing else there (TensorFlow's own start-up lines included)."""

import os
import subprocess
import sys

import pytest
from conftest import shared_tiny_engine, textured
from PIL import Image
from typer.testing import CliRunner

import vidstyle._cli.common
from vidstyle._cli import app

runner = CliRunner()


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(textured(20, 24, seed=len(name))).save(folder / name)
    Image.fromarray(textured(30, 30, seed=9)).save(tmp_path / "paint.png")
    return folder


@pytest.fixture
def tiny(monkeypatch):
    """The CLI builds the tiny random-weight engine instead of VGG19 (the session's, per method)."""
    monkeypatch.setattr(vidstyle._cli.common, "engine_for",
                        lambda method, *_: shared_tiny_engine(method))  # fmt: skip


def test_unexpected_error_is_one_line_with_exit_1(photos, tmp_path, tiny, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("something deep\nin TensorFlow")

    monkeypatch.setattr("vidstyle.pipeline.image.stylize_file", broken)
    monkeypatch.delenv("VIDSTYLE_DEBUG", raising=False)
    args = ["image", str(photos / "a.png"), "-s", str(tmp_path / "paint.png"),
            "-o", str(tmp_path / "out.png"), "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [f"error: {photos / 'a.png'}: internal error: RuntimeError: something deep "
                     "(rerun with VIDSTYLE_DEBUG=1 for the traceback)"]  # fmt: skip


def test_unexpected_error_in_one_image_lets_the_folder_go_on(photos, tmp_path, tiny, monkeypatch):
    from vidstyle.pipeline import image

    real = image.stylize_files

    def fails_on_b(engine, jobs, *args):
        if jobs[0][0].name == "b.png":
            raise ZeroDivisionError("division by zero")
        return real(engine, jobs, *args)

    monkeypatch.setattr(image, "stylize_files", fails_on_b)
    monkeypatch.delenv("VIDSTYLE_DEBUG", raising=False)
    out = tmp_path / "out"
    args = ["folder", str(photos), "-s", str(tmp_path / "paint.png"), "-o", str(out),
            "--steps", "2", "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["a.png", "c.png"]
    assert f"{photos / 'b.png'}: internal error: ZeroDivisionError" in result.output


def test_a_sticky_gpu_fault_in_a_folder_names_every_image_it_left(photos, tmp_path, tiny,
                                                                   monkeypatch):  # fmt: skip
    import tensorflow as tf

    from vidstyle.jobs.recorder import GPU_FAULT
    from vidstyle.pipeline import image

    def sticky(engine, jobs, *args):
        raise tf.errors.InternalError(None, None, "CUDA_ERROR_ILLEGAL_ADDRESS: illegal address")

    monkeypatch.setattr(image, "stylize_files", sticky)
    out = tmp_path / "out"
    args = ["folder", str(photos), "-s", str(tmp_path / "paint.png"), "-o", str(out),
            "--steps", "2", "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    for name in ("b.png", "c.png"):  # after a.png's fault, on a context every image would fail
        assert f"{photos / name}: not run: stopped by {GPU_FAULT}" in result.output, name
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")]


def _vidstyle(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "VIDSTYLE_DEBUG"}
    return subprocess.run([sys.executable, "-m", "vidstyle", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.mark.real_weights
def test_the_real_program_keeps_stderr_for_its_own_lines(photos, tmp_path, real_weights):
    common = ["-s", str(tmp_path / "paint.png"), "--max-size", "32", "--steps", "2",
              "--weights", str(real_weights.path)]  # fmt: skip
    done = _vidstyle("image", "photos/a.png", "-o", "ok.png", "--quiet", *common, cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == ""
    assert (tmp_path / "ok.png").is_file()
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")  # fails after TF started
    failed = _vidstyle("image", "bad.png", "-o", "no.png", *common, cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [
        "error: bad.png: cannot decode image: not a recognised image format"
    ]
    assert not (tmp_path / "no.png").exists()
