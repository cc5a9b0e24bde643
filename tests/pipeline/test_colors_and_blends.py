"""Original colours and blended styles through the image, folder and video pipelines and the CLI
(tiny random-weight model; one real-weights test at a small size)."""

from dataclasses import replace

import numpy as np
import pytest
from conftest import textured
from PIL import Image
from tinyvgg import tiny_engine
from typer.testing import CliRunner

from vidstyle._cli import app
from vidstyle._cli import common as cli
from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.engine import colors
from vidstyle.media.images import load_image
from vidstyle.pipeline.fingerprint import _method_part, fingerprint, pixels_digest
from vidstyle.pipeline.image import stylize_files
from vidstyle.pipeline.video import stylize_clip

runner = CliRunner()


def _muted(height, width, seed):
    return (64 + textured(height, width, seed) // 2).astype(np.uint8)


def _chroma_gap(a, b):
    return np.abs(colors.to_yiq(a)[..., 1:] - colors.to_yiq(b)[..., 1:]).max()


def _gap(a, b):
    """The largest pixel difference (more than 2: the picture changed, not just rounding)."""
    return np.abs(a.astype(int) - b.astype(int)).max()


@pytest.fixture
def no_engine(monkeypatch):
    def build(*args):
        raise AssertionError("an engine was built")

    monkeypatch.setattr(cli, "engine_for", build)


@pytest.mark.parametrize("mode", ["histogram", "luminance"])
def test_a_folder_batch_gets_the_results_its_images_get_alone(tmp_path, mode):
    method = MethodConfig(max_size=32, steps=10, preserve_colors=mode, style_blend=(0.6, 0.4))
    styles = [textured(32, 32, seed=8), textured(40, 24, seed=9)]
    photos = []
    for seed in (1, 2):
        photos.append(tmp_path / f"p{seed}.png")
        Image.fromarray(_muted(24, 32, seed)).save(photos[-1])
    jobs = [(p, tmp_path / f"out_{p.name}") for p in photos]
    engine = tiny_engine(method)  # one engine: its steps compiled once per batch size
    together = stylize_files(engine, jobs, styles)
    single_style = tiny_engine(replace(method, style_blend=()))
    for (photo, _), (result, error) in zip(jobs, together, strict=True):
        assert error is None
        alone = stylize_files(engine, [(photo, tmp_path / "one.png")], styles)[0][0]
        assert np.abs(result.astype(int) - alone.astype(int)).max() <= 1
        assert _gap(result, load_image(photo).rgb) > 2  # it did change the picture
        for single in styles:  # and the blend is neither style alone
            one = stylize_files(single_style, [(photo, tmp_path / "one.png")], [single])
            assert _gap(result, one[0][0]) > 1  # more than a batch may differ by
        if mode == "luminance":
            assert _chroma_gap(result, load_image(photo).rgb) < 1.0


def test_a_clip_in_luminance_mode_keeps_every_frames_chroma(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(3):
        Image.fromarray(_muted(24, 32, seed=index)).save(frames / f"f{index}.png")
    engine = tiny_engine(MethodConfig(max_size=32, steps=8, preserve_colors="luminance"))
    out = tmp_path / "styled"
    styles = [textured(32, 32, seed=8), textured(32, 32, seed=9)]
    stylize_clip(engine, frames, styles, out, VideoConfig(steps_next=4))
    singles = []
    for seed, style in enumerate(styles):
        singles.append(tmp_path / f"single{seed}")
        stylize_clip(engine, frames, [style], singles[-1], VideoConfig(steps_next=4))
    for index in range(3):
        name = f"{index + 1:06d}.png"
        result, frame = load_image(out / name).rgb, load_image(frames / f"f{index}.png").rgb
        assert _chroma_gap(result, frame) < 1.0
        assert _gap(result, frame) > 2  # it did change the picture
        for single in singles:  # with the blend, not one style alone
            assert _gap(result, load_image(single / name).rgb) > 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--style-blend", "0.7,0.4"], "--style-blend weights must add up to 1, got 0.7,0.4"),
        (["--style-blend", "1"], "--style-blend gives 1 weights for 2 style images"),
        (["--preserve-colors", "chroma"], "--preserve-colors must be one of none, luminance"),
    ],
)
def test_bad_blends_and_colour_modes_are_one_line_before_any_work(tmp_path, no_engine, extra,
                                                                  message):  # fmt: skip
    paths = []
    for name, seed in (("photo.png", 1), ("a.png", 2), ("b.png", 3)):
        paths.append(tmp_path / name)
        Image.fromarray(textured(20, 20, seed)).save(paths[-1])
    args = ["image", str(paths[0]), "-s", str(paths[1]), "-s", str(paths[2]),
            "-o", str(tmp_path / "out.png"), *extra]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.real_weights
def test_image_blend_of_two_styles_in_original_colours_from_the_cli(tmp_path, monkeypatch,
                                                                    real_weights):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    Image.fromarray(_muted(30, 40, seed=1)).save("photo.png")
    Image.fromarray(textured(40, 40, seed=2)).save("starry.png")
    Image.fromarray(textured(40, 30, seed=3)).save("scream.png")
    result = runner.invoke(app, ["image", "photo.png", "-s", "starry.png", "-s", "scream.png",
                                 "--style-blend", "0.7,0.3", "--preserve-colors", "luminance",
                                 "--max-size", "40", "--steps", "3", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = load_image(tmp_path / "photo_starry+scream.png").rgb
    assert out.shape == (30, 40, 3)
    photo = load_image(tmp_path / "photo.png").rgb
    assert _chroma_gap(out, photo) < 1.0
    assert _gap(out, photo) > 2  # it did change the picture


def test_older_outputs_keep_their_fingerprints_and_the_new_options_count(tmp_path):
    source = tmp_path / "photo.png"
    Image.fromarray(textured(8, 8, seed=1)).save(source)
    plain = fingerprint(source, "d", MethodConfig())
    assert not {"preserve_colors", "style_blend"} & set(_method_part(MethodConfig()))
    assert fingerprint(source, "d", MethodConfig(preserve_colors="luminance")) != plain
    assert fingerprint(source, "d", MethodConfig(style_blend=(0.5, 0.5))) != plain
    a, b = textured(8, 8, seed=2), textured(8, 8, seed=3)
    assert pixels_digest([a]) == pixels_digest(a)
    assert pixels_digest([a, b]) not in (pixels_digest([b, a]), pixels_digest(a))
