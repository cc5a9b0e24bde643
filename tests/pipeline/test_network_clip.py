"""``render = "network"``: keyframes, a painter trained on them, every frame rendered, the same
outputs as the frame loop's (H.264 with sound, or numbered PNGs, and the report); a stopped run
resumed without redoing what was finished; a saved network reused on another clip. The tiny
random-weight VGG19 and a tiny painter, at tiny sizes."""

import json

import numpy as np
import pytest
from clipmaker import audio_duration, make_pan_clip
from conftest import shared_tiny_engine
from PIL import Image

from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.engine import painter as painterlib
from vidstyle.engine.painter import Architecture, Painter
from vidstyle.errors import UsageError
from vidstyle.media.images import load_image
from vidstyle.media.video import probe, read_frames
from vidstyle.pipeline import network as netpath
from vidstyle.pipeline import teaching
from vidstyle.pipeline.video import stylize_clip

FRAMES, SIZE = 9, (48, 32)
NETWORK = dict(render="network", steps_first=5, train_minutes=0.01, keyframes=2)


@pytest.fixture(autouse=True)
def tiny_painter(monkeypatch):
    monkeypatch.setattr(painterlib, "ARCHITECTURE", Architecture(width=4, blocks=1))
    monkeypatch.setattr(teaching, "CHECKPOINT_SECONDS", 0.0)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    make_pan_clip(path, size=SIZE, frames=FRAMES, shift=(2, 1))
    return path


@pytest.fixture(scope="module")
def engine():
    return shared_tiny_engine(MethodConfig(max_size=48))


@pytest.fixture(scope="module")
def style():
    return np.asarray(Image.new("RGB", (20, 20), (200, 40, 90)))  # anything: a flat colour


class Counted:
    """Counts calls of an object's method (the object's own method still runs)."""

    def __init__(self, monkeypatch, owner, name: str, fail_after: int | None = None):
        self.calls, self.fail_after, original = 0, fail_after, getattr(owner, name)

        def counted(*args, **kwargs):
            self.calls += 1
            if self.fail_after is not None and self.calls > self.fail_after:
                raise KeyboardInterrupt  # the run stops there, as a kill would
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)


def test_the_network_path_writes_the_video_with_sound_and_the_report(clip, tmp_path, engine,
                                                                     style):  # fmt: skip
    out = tmp_path / "styled.mp4"
    result = stylize_clip(engine, clip, style, out, VideoConfig(**NETWORK))
    made = probe(out)
    assert made.codec == "h264" and made.has_audio and made.fps == probe(clip).fps
    assert len(list(read_frames(out))) == FRAMES
    assert abs(audio_duration(out) - audio_duration(clip)) < 0.05
    summary = json.loads(result.report_path.read_text())["summary"]
    assert summary["render"] == "network" and summary["frames"] == FRAMES
    assert summary["keyframes"] == 2 and summary["training_steps"] >= 1
    for name in ("crispness", "style_drop", "content_loss"):
        assert summary[f"{name}_vs_keyframes"] > 0, name
    assert summary["network"] == str(netpath.network_file(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "styled.mp4", "styled.mp4.network.npz", "styled.mp4.report.json"]  # fmt: skip


def test_a_frame_folder_gives_numbered_pngs(tmp_path, engine, style):
    source = tmp_path / "frames"
    source.mkdir()
    for i, frame in enumerate(read_frames(make_clip(tmp_path / "c.mp4"))):
        Image.fromarray(frame.rgb).save(source / f"f{i}.png")
    out = tmp_path / "styled"
    stylize_clip(engine, source, style, out, VideoConfig(**NETWORK))
    assert sorted(p.name for p in out.iterdir()) == [f"{i:06d}.png" for i in range(1, 5)]
    assert load_image(out / "000001.png").rgb.shape == (32, 48, 3)


def test_frames_of_different_sizes_are_trained_on_and_rendered_each_at_its_size(tmp_path, engine,
                                                                                style):  # fmt: skip
    source = tmp_path / "photos"
    source.mkdir()
    frames = [frame.rgb for frame in read_frames(make_clip(tmp_path / "c.mp4"))]
    for i, rgb in enumerate(frames):
        Image.fromarray(rgb if i % 2 else rgb[:, :30]).save(source / f"f{i}.png")  # 30x32, 48x32
    out = tmp_path / "styled"
    stylize_clip(engine, source, style, out, VideoConfig(**NETWORK))
    shapes = [load_image(out / f"{i:06d}.png").rgb.shape for i in range(1, 5)]
    assert shapes == [(32, 30, 3), (32, 48, 3), (32, 30, 3), (32, 48, 3)]


def make_clip(path):
    make_pan_clip(path, size=SIZE, frames=4, shift=(1, 1), audio=False)
    return path


def test_a_stopped_training_resumes_and_no_keyframe_is_made_again(clip, tmp_path, engine,
                                                                  style, monkeypatch):  # fmt: skip
    from vidstyle.engine.training import Trainer

    out, config = tmp_path / "styled.mp4", VideoConfig(**NETWORK | {"train_minutes": 5.0})
    stylized = Counted(monkeypatch, engine, "stylize")
    killer = Counted(monkeypatch, Trainer, "step", fail_after=3)
    with pytest.raises(KeyboardInterrupt):
        stylize_clip(engine, clip, style, out, config)
    assert stylized.calls == 2
    work = out.with_name("styled.mp4.vidstyle-work")
    with np.load(work / "train" / "checkpoint.npz") as saved:
        assert int(saved["steps"]) == 3
    killer.fail_after = None
    stylized, steps = Counted(monkeypatch, engine, "stylize"), Counted(monkeypatch, Trainer, "step")
    result = stylize_clip(engine, clip, style, out, config)
    assert stylized.calls == 0  # both keyframes were kept
    assert result.summary["training_steps"] == 3 + steps.calls  # it went on from step 3


def test_a_stopped_rendering_renders_only_the_frames_left(clip, tmp_path, engine, style,
                                                         monkeypatch):  # fmt: skip
    out, config = tmp_path / "styled.mp4", VideoConfig(**NETWORK)
    from vidstyle.engine.training import Trainer

    killer = Counted(monkeypatch, Painter, "render", fail_after=1)  # batches of 4: the second
    with pytest.raises(KeyboardInterrupt):
        stylize_clip(engine, clip, style, out, config)
    killer.fail_after = None
    stylized, steps = Counted(monkeypatch, engine, "stylize"), Counted(monkeypatch, Trainer, "step")
    batches = Counted(monkeypatch, Painter, "render")
    stylize_clip(engine, clip, style, out, config)
    assert stylized.calls == steps.calls == 0
    assert batches.calls == 2  # frames 4-7 and 8: the first four were kept
    assert len(list(read_frames(out))) == FRAMES


def test_a_deadline_stops_it_as_a_keyframe_or_a_batch_of_frames_starts(clip, tmp_path, engine,
                                                                        style):  # fmt: skip
    """``frame_stop`` (a batch's deadline) is asked as each keyframe and each batch of frames
    starts: stopped at the second batch, the first batch's 4 frames are kept."""
    asked = []

    def frame_stop():
        asked.append(len(asked))
        if len(asked) == 4:  # keyframes 1 and 2, frames 0-3, then frames 4-7
            raise TimeoutError("the deadline passed")

    out = tmp_path / "styled.mp4"
    with pytest.raises(TimeoutError):
        stylize_clip(engine, clip, style, out, VideoConfig(**NETWORK), frame_stop=frame_stop)
    manifest = out.with_name("styled.mp4.vidstyle-work") / "manifest.json"
    assert [r["index"] for r in json.loads(manifest.read_text())["frames"]] == [0, 1, 2, 3]


def test_a_saved_network_renders_another_clip_without_keyframes_or_training(
    clip, tmp_path, engine, style, monkeypatch
):
    from vidstyle.engine.training import Trainer

    first = tmp_path / "first.mp4"
    stylize_clip(engine, clip, style, first, VideoConfig(**NETWORK))
    network = netpath.network_file(first)
    stylized, steps = Counted(monkeypatch, engine, "stylize"), Counted(monkeypatch, Trainer, "step")
    other = make_clip(tmp_path / "other.mp4")
    out = tmp_path / "second.mp4"
    result = stylize_clip(engine, other, style, out, VideoConfig(network=network))
    assert stylized.calls == steps.calls == 0
    assert result.summary["network"] == str(network) and "keyframes" not in result.summary
    assert len(list(read_frames(out))) == 4
    assert not netpath.network_file(out).exists()
    alone = Painter.load(network).render(next(iter(read_frames(other))).rgb)
    made = next(iter(read_frames(out))).rgb.astype(int)
    assert np.abs(made - alone).mean() < 4  # the network's rendering, through H.264


def test_a_network_of_another_style_is_refused_naming_it(clip, tmp_path, engine, style):
    first = tmp_path / "first.mp4"
    stylize_clip(engine, clip, style, first, VideoConfig(**NETWORK))
    network = netpath.network_file(first)
    with pytest.raises(UsageError) as caught:
        stylize_clip(engine, clip, 255 - style, tmp_path / "x.mp4", VideoConfig(network=network))
    assert str(network) in caught.value.message() and "another style" in caught.value.reason
    assert not (tmp_path / "x.mp4").exists()


def test_the_command_line_renders_with_a_network_and_reuses_it(clip, tmp_path, tiny_cli, style):
    from typer.testing import CliRunner

    from vidstyle._cli import app

    Image.fromarray(style).save(tmp_path / "style.png")
    out = tmp_path / "out.mp4"
    args = ["video", str(clip), "-s", str(tmp_path / "style.png"), "-o", str(out)]
    first = CliRunner().invoke(app, [*args, "--render", "network", "--keyframes", "1",
                                     "--steps-first", "5", "--train-minutes", "0.01"])  # fmt: skip
    assert first.exit_code == 0, first.output
    assert "render" in first.output and "network" in first.output and out.is_file()
    again = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "again.mp4"), "--network",
                                     str(netpath.network_file(out))])  # fmt: skip
    assert again.exit_code == 0, again.output
    missing = CliRunner().invoke(app, [*args, "--network", str(tmp_path / "none.npz")])
    lines = [line for line in missing.output.splitlines() if line.strip()]
    assert missing.exit_code != 0 and len(lines) == 1, missing.output
    assert "none.npz" in lines[0] and "no such network file" in lines[0]
