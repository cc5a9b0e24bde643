"""`vidstyle video` end to end on a small panning clip with a tone: the mechanics with the tiny
random-weight engine, steadiness and the temporal term with the real weights."""

import json

import av
import numpy as np
import pytest
from clipmaker import audio_duration, make_audio_only, write_clip
from conftest import textured
from PIL import Image
from tinyvgg import tiny_engine
from typer.testing import CliRunner

from vidstyle._cli import app
from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.errors import ResumeError
from vidstyle.media.images import load_image
from vidstyle.media.video import probe, read_frames
from vidstyle.pipeline.video import stylize_clip

SAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2] / "samples"
FRAMES, FPS, SIZE = 8, 12, (96, 64)
runner = CliRunner()


def pan_over_photo(frames: int = FRAMES) -> np.ndarray:
    """A 96x64 window moving right 3 px and down 1 px per frame across a sample photo."""
    photo = np.asarray(Image.open(SAMPLES / "photos" / "coffee.jpg").convert("RGB"))
    return np.stack([photo[100 + i : 164 + i, 150 + 3 * i : 246 + 3 * i] for i in range(frames)])


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    write_clip(path, pan_over_photo(), fps=FPS, audio_codec="aac")
    return path


@pytest.fixture(scope="module")
def engine(real_engine):
    return real_engine(MethodConfig(max_size=96))


@pytest.fixture(scope="module")
def tiny():
    return tiny_engine(MethodConfig(max_size=96))


@pytest.fixture(scope="module")
def style():
    return load_image(SAMPLES / "swirls.jpg").rgb


def _frames(path):
    return np.stack([frame.rgb for frame in read_frames(path)])


def test_video_keeps_frames_rate_duration_and_sound(clip, tmp_path, tiny, style):
    out = tmp_path / "styled.mp4"
    config = VideoConfig(steps_first=20, steps_next=10)
    result = stylize_clip(tiny, clip, style, out, config)
    source, made = probe(clip), probe(out)
    assert made.codec == "h264" and made.has_audio
    assert made.fps == source.fps == FPS
    assert len(_frames(out)) == FRAMES
    assert abs(made.duration - source.duration) <= 1 / FPS
    assert abs(audio_duration(out) - audio_duration(clip)) < 0.05
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    report = json.loads(result.report_path.read_text())
    assert report["summary"]["frames"] == FRAMES and len(report["frames"]) == FRAMES
    assert report["summary"]["temporal_share_of_loss"] > 0
    assert not (tmp_path / "styled.mp4.vidstyle-work").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["styled.mp4", "styled.mp4.report.json"]


@pytest.mark.real_weights
def test_flow_warm_start_is_3x_steadier_than_independent_frames(clip, tmp_path, engine, style):
    # 3 frames of 20 steps: 18x steadier (4 frames of 30 steps: 39x, with twice the steps)
    equal = dict(steps_first=20, steps_next=20, max_frames=3)
    flow = stylize_clip(engine, clip, style, tmp_path / "flow.mp4", VideoConfig(**equal))
    alone = stylize_clip(engine, clip, style, tmp_path / "none.mp4",
                         VideoConfig(warm_start="none", **equal))  # fmt: skip
    assert flow.summary["temporal_error"] * 3 <= alone.summary["temporal_error"]
    assert flow.summary["content_temporal_error"] < flow.summary["temporal_error"]


@pytest.mark.real_weights
def test_temporal_term_changes_the_result(clip, tmp_path, engine, style):
    # 3 frames (20 steps, then 10): the temporal error 15% lower, the last frames 4.9 grey
    # levels apart on average (4 frames of 20 and 15 steps: 24% and 12.0, with 1.6x the steps)
    base = dict(steps_first=20, steps_next=10, max_frames=3)
    runs = {}
    for weight in (0.0, 1e5):
        frames = tmp_path / f"w{weight:g}"
        config = VideoConfig(temporal_weight=weight, frames_dir=frames, **base)
        runs[weight] = stylize_clip(engine, clip, style, tmp_path / f"w{weight:g}.mp4", config)
    assert runs[1e5].summary["temporal_error"] < runs[0.0].summary["temporal_error"]
    assert runs[1e5].summary["temporal_share_of_loss"] > runs[0.0].summary["temporal_share_of_loss"]
    last = sorted((tmp_path / "w0").iterdir())[-1].name
    a, b = (np.asarray(Image.open(tmp_path / f"w{w}" / last), int) for w in ("0", "100000"))
    assert np.abs(a - b).mean() > 1.0


class _StopAfter:
    """A reporter that presses Ctrl-C after ``n`` finished frames."""

    def __init__(self, n):
        self.n = n

    def begin(self, total, unit):
        pass

    def start_item(self, name, steps):
        pass

    def step(self, done, loss):
        pass

    def end_item(self, name, status, seconds):
        self.n -= status == "done"
        if self.n == 0:
            raise KeyboardInterrupt

    def end(self):
        pass


def test_interrupted_run_resumes_to_the_same_frames(clip, tmp_path, tiny, style):
    engine = tiny
    config = VideoConfig(steps_first=20, steps_next=10, max_frames=5)
    whole = tmp_path / "whole"
    stylize_clip(engine, clip, style, tmp_path / "a.mp4",
                 VideoConfig(**{**config.__dict__, "frames_dir": whole}))  # fmt: skip
    out = tmp_path / "b.mp4"
    resumed_dir = tmp_path / "resumed"
    resumed = VideoConfig(**{**config.__dict__, "frames_dir": resumed_dir})
    with pytest.raises(KeyboardInterrupt):
        stylize_clip(engine, clip, style, out, resumed, reporter=_StopAfter(3))
    assert not out.exists()
    work = tmp_path / "b.mp4.vidstyle-work"
    assert len(json.loads((work / "manifest.json").read_text())["frames"]) == 3
    with pytest.raises(ResumeError, match="another input, style or options"):
        stylize_clip(engine, clip, style, out, VideoConfig(steps_first=21, steps_next=10))
    stylize_clip(engine, clip, style, out, resumed)
    for name in sorted(p.name for p in whole.iterdir()):
        a = np.asarray(Image.open(whole / name), int)
        b = np.asarray(Image.open(resumed_dir / name), int)
        assert np.abs(a - b).max() <= 1, name
    assert len(_frames(out)) == 5


def test_image_sequence_in_numbered_pngs_out(tmp_path, tiny_cli):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, rgb in enumerate(pan_over_photo(3)):
        Image.fromarray(rgb).save(frames / f"shot{i + 1}.png")
    Image.fromarray(textured(64, 96)).save(frames / "shot10.png")  # natural order: last
    out = tmp_path / "styled"
    args = ["video", str(frames), "-s", str(SAMPLES / "swirls.jpg"), "-o", str(out),
            "--max-size", "48", "--steps-first", "3", "--steps-next", "2", "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [f"{i:06d}.png" for i in range(1, 5)]
    report = json.loads((tmp_path / "styled.report.json").read_text())
    assert report["frames"][3]["cut"] is True  # the unrelated last frame is a shot cut


def test_a_sequence_of_photos_of_different_sizes_gives_each_its_own_size(tmp_path, tiny_cli):
    frames = tmp_path / "photos"
    frames.mkdir()
    photo = pan_over_photo(1)[0]
    Image.fromarray(photo).save(frames / "a1.png")
    Image.fromarray(photo[:, : photo.shape[1] * 2 // 3]).save(frames / "a2.png")  # same colours
    out = tmp_path / "styled"
    args = ["video", str(frames), "-s", str(SAMPLES / "swirls.jpg"), "-o", str(out),
            "--max-size", "48", "--steps-first", "3", "--steps-next", "2", "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    shapes = [load_image(out / f"00000{i}.png").rgb.shape for i in (1, 2)]
    assert shapes[0] != shapes[1] and max(shapes[1][:2]) == 48
    report = json.loads((tmp_path / "styled.report.json").read_text())
    assert report["frames"][1]["cut"] is True  # no flow joins two sizes


def _video(args, tmp_path, name="out.mp4"):
    out = tmp_path / name
    base = ["video", *args, "-s", str(SAMPLES / "swirls.jpg"), "-o", str(out), "--quiet",
            "--max-size", "32", "--steps-first", "2", "--steps-next", "1"]  # fmt: skip
    result = runner.invoke(app, base)
    assert not out.exists()  # a work folder of finished frames may stay, for a resume
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".vidstyle-tmp-")]
    return result


def test_bad_inputs_give_one_error_naming_the_file(tmp_path, tiny_cli):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).bytes(5000))
    sound = tmp_path / "sound.m4a"
    make_audio_only(sound)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    good = tmp_path / "good.mp4"
    write_clip(good, pan_over_photo(6), fps=FPS)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    broken_seq = tmp_path / "seq"
    broken_seq.mkdir()
    Image.fromarray(textured(32, 32)).save(broken_seq / "f1.png")
    (broken_seq / "f2.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    cases = {corrupt: "cannot read video", sound: "has no video stream", empty: "empty.mp4",
             cut: "cut.mp4", broken_seq / "f2.png": "cannot decode image"}  # fmt: skip
    for path, words in cases.items():
        source = broken_seq if path.parent == broken_seq else path
        result = _video([str(source)], tmp_path)
        assert result.exit_code == 1, (path, result.output)
        assert str(path) in result.output and words in result.output, result.output
    too_large = _video([str(good), "--memory-limit", "0.001"], tmp_path, "big.mp4")
    assert too_large.exit_code == 1
    assert f"{good}: 32x21 needs about 2 MiB" in too_large.output
    assert "use --max-size 22 or less" in too_large.output
    assert not list(tmp_path.glob("big.mp4*"))  # refused before any work folder
    after_the_end = _video([str(good), "--start", "10"], tmp_path, "late.mp4")  # no frames
    assert after_the_end.exit_code == 1
    assert f"{good}: contains no video frames" in after_the_end.output
