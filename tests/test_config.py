"""The options' defaults and checks live in the library, not in the CLI."""

import pytest

from vidstyle.config import (
    LBFGS_STEPS,
    FolderConfig,
    MethodConfig,
    VideoConfig,
    folder_config,
    video_config,
)
from vidstyle.errors import UsageError, flag


def test_steps_default_follows_the_optimizer_in_the_library():
    assert MethodConfig().steps == 1000
    assert MethodConfig(optimizer="lbfgs").steps == LBFGS_STEPS == 250
    assert MethodConfig(optimizer="lbfgs", steps=7).steps == 7
    assert MethodConfig(optimizer="lbfgs") == MethodConfig(optimizer="lbfgs", steps=250)


@pytest.mark.parametrize(
    ("make", "library", "cli"),
    [
        (lambda: MethodConfig(max_size=8), "max_size must be", "--max-size must be"),
        (lambda: MethodConfig(memory_limit=-1), "memory_limit must", "--memory-limit must"),
        (lambda: VideoConfig(steps_next=-1), "steps_next and steps_pass must", "--steps-next and"),
        (lambda: VideoConfig(steps_pass=-1), "steps_pass must be 0", "--steps-pass must"),
        (lambda: VideoConfig(start=3, end=1), "end (1) must come after start", "--end (1)"),
    ],
)
def test_errors_name_parameters_and_only_the_cli_names_flags(make, library, cli):
    with pytest.raises(UsageError) as caught:
        make()
    assert library in caught.value.message() and "--" not in caught.value.message()
    assert cli in caught.value.message(flag)


@pytest.mark.parametrize(
    ("make", "library", "cli"),
    [
        (lambda: VideoConfig(long_term=(0, 1)), "long_term offsets must be 1 or more, got 0,1",
         "--long-term offsets must be 1 or more"),
        (lambda: VideoConfig(long_term=(2, 4)), "long_term must include 1", "--long-term must"),
        (lambda: VideoConfig(passes=0), "passes must be at least 1, got 0", "--passes must be"),
        (lambda: VideoConfig(passes=2, warm_start="prev"), "long_term and passes need warm_start",
         "--long-term and --passes need --warm-start flow"),
        (lambda: video_config({"long_term": "1,x"}), "cannot read long_term '1,x'",
         "cannot read --long-term"),
    ],
)  # fmt: skip
def test_long_term_and_passes_are_checked_in_the_library(make, library, cli):
    with pytest.raises(UsageError) as caught:
        make()
    assert library in caught.value.message() and "--" not in caught.value.message()
    assert cli in caught.value.message(flag)


def test_long_term_offsets_are_read_from_text_or_numbers_and_sorted():
    assert video_config({"long_term": "4, 1,2"}).long_term == (1, 2, 4)
    assert video_config({"long_term": 1}).long_term == (1,)
    assert VideoConfig(long_term=[2, 1, 2]).long_term == (1, 2)
    assert VideoConfig().long_term == (1,) and VideoConfig().passes == 1


@pytest.mark.parametrize("offsets", ["0", "-1", "a", "1,,2", "1.5"])
def test_bad_long_term_offsets_are_one_line_and_exit_2(tmp_path, offsets):
    from PIL import Image
    from typer.testing import CliRunner

    from vidstyle._cli import app

    clip = tmp_path / "clip"
    clip.mkdir()
    Image.new("RGB", (8, 8)).save(clip / "1.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "style.png")
    args = ["video", str(clip), "-s", str(tmp_path / "style.png"), "-o", str(tmp_path / "out"),
            "--long-term", offsets]  # fmt: skip
    result = CliRunner().invoke(app, args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "--long-term" in lines[0], result.output
    assert not (tmp_path / "out").exists()
    passes = CliRunner().invoke(app, [*args[:-2], "--passes", "0"])
    assert passes.exit_code == 2 and "--passes must be at least 1" in passes.output


def test_job_file_keys_and_types_come_from_the_declarations():
    from vidstyle.jobs.jobfile import FOLDER_OPTIONS, METHOD_OPTIONS, VIDEO_OPTIONS

    assert set(METHOD_OPTIONS) == {
        "max_size", "steps", "optimizer", "scales", "tol", "content_weight", "style_weight",
        "tv_weight", "lr", "content_layers", "style_layers", "style_scale", "init", "seed",
        "precision", "tf32", "memory_limit", "preserve_colors", "style_blend",
    }  # fmt: skip
    assert set(VIDEO_OPTIONS) == {
        "steps_first", "steps_next", "warm_start", "temporal_weight", "start", "end",
        "max_frames", "keep_size", "long_term", "passes", "steps_pass", "optimizer_next",
        "temporal_warp", "new_content", "render", "keyframes", "keyframe_every", "train_minutes",
        "network",
    }  # fmt: skip
    assert METHOD_OPTIONS["tol"] == (int, float) and METHOD_OPTIONS["seed"] == (int,)
    assert METHOD_OPTIONS["tf32"] == (bool,)
    assert VIDEO_OPTIONS["start"] == (int, float, str) and VIDEO_OPTIONS["keep_size"] == (bool,)
    assert FOLDER_OPTIONS == {"format": (str,)}  # --overwrite and --batch are the command's


def test_folder_options_are_declared_once_for_the_command_and_the_library():
    """``vidstyle folder``'s own options are FolderConfig's declarations: the command's flags,
    its defaults (``--batch`` 0: 4 with a GPU, else 1) and the library's are one."""
    import inspect

    from vidstyle._cli.commands import folder
    from vidstyle.options import declared

    keys = [one.key for one in declared(FolderConfig)]
    assert keys == ["overwrite", "format", "batch"]
    parameters = inspect.signature(folder).parameters
    assert {key: parameters[key].default for key in keys} == {
        "overwrite": False, "format": None, "batch": 0,
    }  # fmt: skip
    assert FolderConfig() == folder_config({key: parameters[key].default for key in keys})
    given = folder_config({"overwrite": True, "format": "JPG", "batch": 3, "lr": 0.5})
    assert given == FolderConfig(overwrite=True, suffix=".jpg", batch=3)
    with pytest.raises(UsageError, match="batch must be 0"):
        FolderConfig(batch=-1)


def test_batch_zero_is_four_images_with_a_gpu_and_one_on_the_cpu(monkeypatch):
    from vidstyle.engine import device

    assert FolderConfig(batch=2).batch_size() == 2
    monkeypatch.setattr(device, "gpu_present", lambda: False)
    assert FolderConfig().batch_size() == 1
    monkeypatch.setattr(device, "gpu_present", lambda: True)
    assert FolderConfig().batch_size() == 4 and FolderConfig(batch=1).batch_size() == 1


def test_options_are_read_from_their_command_line_names():
    given = {"lr": 0.5, "style_layers": "block1_conv1, block2_conv1", "style_blend": "0.7,0.3",
             "memory_limit": None}  # fmt: skip
    method = MethodConfig.from_options(given)
    assert method.learning_rate == 0.5 and method.style_blend == (0.7, 0.3)
    assert method.style_layers == ("block1_conv1", "block2_conv1")
    assert MethodConfig.from_options({"style_blend": [0.5, 0.5]}).style_blend == (0.5, 0.5)
    video = video_config({"start": "1:02.5", "end": 70, "long_term": [4, 1], "other": 1})
    assert (video.start, video.end, video.long_term) == (62.5, 70, (1, 4))


@pytest.mark.parametrize(
    "change", [{"optimizer": "sgd"}, {"scales": -1}, {"tol": -1e-3}, {"tol": float("nan")}]
)
def test_invalid_options_are_usage_errors(change):
    with pytest.raises(UsageError):
        MethodConfig(**change)


def test_tf32_is_an_option_off_by_default_on_the_command_line_and_in_the_fingerprint(tmp_path):
    """Issue 32, item 3: the TF32 opt-in is declared once: a flag, a job-file key, and the
    output's fingerprint records it when on (off leaves every earlier fingerprint as it was)."""
    from typer.testing import CliRunner

    from vidstyle._cli.app import app
    from vidstyle.options import identity
    from vidstyle.pipeline.fingerprint import fingerprint

    assert MethodConfig().tf32 is False and MethodConfig.from_options({"tf32": True}).tf32
    assert "tf32" not in identity(MethodConfig()) and identity(MethodConfig(tf32=True))["tf32"]
    source = tmp_path / "a.png"
    source.write_bytes(b"x")
    off, on = (fingerprint(source, "d", MethodConfig(tf32=flag_)) for flag_ in (False, True))
    assert off != on
    shown = CliRunner().invoke(app, ["image", "--help"], env={"COLUMNS": "200"}).output
    assert "--tf32" in shown and "--no-tf32" in shown
