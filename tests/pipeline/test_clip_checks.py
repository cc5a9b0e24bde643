"""The clip pipeline's checks before any work, and image sequences of every readable format
(tiny random-weight model; the method itself is tested with real weights in test_clip.py)."""

import numpy as np
import pytest
from conftest import textured
from PIL import Image
from tinyvgg import tiny_engine
from typer.testing import CliRunner

from vidstyle._cli import app
from vidstyle._cli import common as cli
from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.errors import EncodeError, InputError, UsageError, flag
from vidstyle.media.images import load_image
from vidstyle.pipeline.video import check_outputs, stylize_clip

runner = CliRunner()


@pytest.fixture
def no_engine(monkeypatch):
    """Fail the test if the CLI builds an engine (the refusal must come first)."""

    def build(*args):
        raise AssertionError("an engine was built")

    monkeypatch.setattr(cli, "engine_for", build)


@pytest.fixture
def clip_and_frames(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not decoded before the outputs are checked")
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(3):
        Image.fromarray(textured(18, 24, seed=index)).save(frames / f"f{index}.ppm")
    return clip, frames


def test_check_outputs_accepts_usual_outputs_and_creates_nothing(tmp_path, clip_and_frames):
    clip, frames = clip_and_frames
    check_outputs(clip, tmp_path / "new" / "out.MKV", VideoConfig(frames_dir=tmp_path / "keep"))
    check_outputs(frames, tmp_path / "styled frames", VideoConfig())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "frames"]


def test_check_outputs_refuses_what_could_not_be_written(tmp_path, clip_and_frames):
    clip, frames = clip_and_frames
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    with pytest.raises(UsageError, match="cannot write '.gif' videos") as info:
        check_outputs(clip, tmp_path / "out.gif", VideoConfig())
    assert "--output" in info.value.message(flag)
    with pytest.raises(EncodeError, match="blocker is a file"):
        check_outputs(clip, blocker / "out.mp4", VideoConfig())
    with pytest.raises(EncodeError, match="is a file, not a folder"):
        check_outputs(frames, blocker, VideoConfig())  # a sequence gives a folder of PNGs
    with pytest.raises(EncodeError, match="is a file, not a folder"):
        check_outputs(clip, tmp_path / "out.mp4", VideoConfig(frames_dir=blocker))
    with pytest.raises(UsageError, match="would overwrite the input frames") as info:
        check_outputs(frames, tmp_path / "out", VideoConfig(frames_dir=frames))
    assert "--frames-dir" in info.value.message(flag)


def test_the_cli_refuses_unwritable_video_outputs_before_building_an_engine(
    tmp_path, clip_and_frames, no_engine
):
    clip, frames = clip_and_frames
    style = tmp_path / "style.png"
    Image.fromarray(textured(20, 20, seed=5)).save(style)
    base = ["video", str(clip), "-s", str(style), "--quiet"]
    gif = runner.invoke(app, [*base, "-o", str(tmp_path / "out.gif")])
    assert gif.exit_code == 2 and "cannot write '.gif' videos" in gif.output
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    under = runner.invoke(app, [*base, "-o", str(blocker / "out.mp4")])
    assert under.exit_code == 1 and "blocker is a file, not a folder" in under.output
    same = runner.invoke(app, ["video", str(frames), "-s", str(style), "-o",
                               str(tmp_path / "o"), "--frames-dir", str(frames)])  # fmt: skip
    assert same.exit_code == 2 and "--frames-dir" in same.output


def test_a_sequence_of_ppm_and_pgm_frames_is_stylized(tmp_path, clip_and_frames):
    _, frames = clip_and_frames
    Image.fromarray(textured(18, 24, seed=7)).convert("L").save(frames / "f3.pgm")
    engine = tiny_engine(MethodConfig(max_size=24, steps=2))
    out = tmp_path / "styled"
    config = VideoConfig(steps_first=2, steps_next=1)
    result = stylize_clip(engine, frames, textured(20, 20, seed=5), out, config)
    assert result.summary["frames"] == 4
    assert sorted(p.name for p in out.iterdir()) == [f"{i:06d}.png" for i in range(1, 5)]
    assert load_image(out / "000004.png").rgb.shape == (18, 24, 3)


def test_a_sequence_with_a_bomb_frame_is_refused_from_its_header(tmp_path):
    from conftest import png_header_only

    frames = tmp_path / "frames"
    frames.mkdir()
    png_header_only(frames / "0001.png", 60000, 60000)
    engine = tiny_engine(MethodConfig(max_size=24, steps=2))
    with pytest.raises(InputError, match="too large: 3600 MP"):
        stylize_clip(engine, frames, np.zeros((8, 8, 3), np.uint8), tmp_path / "o", VideoConfig())
