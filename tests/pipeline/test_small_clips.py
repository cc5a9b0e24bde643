"""Clips of frames smaller than the network takes (1x1, 1xN, 15x15) come out whole: the same
frames and rate, H.264 (odd sizes padded to even), with the tiny random-weight model."""

import numpy as np
import pytest
from clipmaker import write_clip
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.media.video import probe
from vidstyle.pipeline.video import stylize_clip


@pytest.fixture(scope="module")
def engine():
    return tiny_engine(MethodConfig(steps=2))


@pytest.mark.parametrize(("height", "width"), [(1, 1), (1, 9), (15, 15)])
def test_tiny_clips_are_stylized_frame_by_frame(engine, tmp_path, height, width):
    frames = np.random.default_rng(0).integers(0, 256, (4, height, width, 3)).astype(np.uint8)
    source = tmp_path / "tiny.mkv"
    write_clip(source, frames, fps=12, codec="ffv1")  # lossless: any size
    out = tmp_path / "out.mp4"
    result = stylize_clip(engine, source, np.full((20, 20, 3), 80, np.uint8), out,
                          VideoConfig(steps_next=1))  # fmt: skip
    info = probe(out)
    assert (info.codec, info.frame_count) == ("h264", 4)
    assert (info.width, info.height) == (width + width % 2, height + height % 2)
    assert result.summary["frames"] == 4


def test_the_report_gives_each_frames_crispness_and_style_loss(engine, tmp_path):
    import json

    from clipmaker import pan_frames

    source = tmp_path / "pan.mp4"
    write_clip(source, pan_frames((48, 32), 8), fps=12)
    out = tmp_path / "out.mp4"
    result = stylize_clip(engine, source, np.full((20, 20, 3), 80, np.uint8), out,
                          VideoConfig(steps_next=1))  # fmt: skip
    frames = json.loads(result.report_path.read_text())["frames"]
    assert all(f["crispness"] > 0 and f["style_loss"] > 0 for f in frames)
    drops = [f["content_style_loss"] / f["style_loss"] for f in frames]
    assert result.summary["style_drop"] == pytest.approx(np.mean(drops))
    crisp = [f["crispness"] for f in frames]
    assert result.summary["crispness_kept"] == pytest.approx(min(crisp[1:]) / crisp[0])


def test_a_stop_ends_a_clip_between_chunks_and_keeps_the_frames_done(engine, tmp_path):
    from clipmaker import pan_frames

    class Halt(Exception):
        pass

    source, out = tmp_path / "pan.mp4", tmp_path / "out.mp4"
    write_clip(source, pan_frames((48, 32), 4), fps=12)
    calls = []

    def stop():  # one chunk per frame: the third frame's stops the run
        calls.append(1)
        if len(calls) == 3:
            raise Halt

    with pytest.raises(Halt):
        stylize_clip(engine, source, np.full((20, 20, 3), 80, np.uint8), out,
                     VideoConfig(steps_next=1), stop=stop)  # fmt: skip
    frames = out.with_name(out.name + ".vidstyle-work") / "frames"
    assert sorted(p.name for p in frames.iterdir()) == ["000000.png", "000001.png"]
