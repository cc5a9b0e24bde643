"""The share of each frame's pixels held by the temporal term in the report, and the warning for
a run of frames whose flow could not be trusted (vidstyle.pipeline.temporal)."""

import json

import numpy as np
import pytest
from clipmaker import pan_frames, write_clip
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.pipeline.temporal import held_share, unreliable_runs
from vidstyle.pipeline.video import stylize_clip

STYLE = np.full((20, 20, 3), 80, np.uint8)


@pytest.fixture(scope="module")
def engine():
    return tiny_engine(MethodConfig(steps=2))


def test_held_share_counts_the_weighted_pixels():
    weights = np.zeros((4, 5), np.float32)
    weights[:2] = 1.0
    weights[2, 0] = 0.4  # under half: not held
    assert held_share(weights) == pytest.approx(0.5)


def test_unreliable_runs_needs_enough_frames_in_a_row_within_a_shot():
    def records(*held, cut_at=None):
        return [{"index": i, "cut": i == cut_at} | ({} if h is None else {"temporal_held": h})
                for i, h in enumerate(held)]  # fmt: skip

    assert unreliable_runs(records(None, 0.9, 0.1, 0.2, 0.9)) is None
    warning = unreliable_runs(records(None, 0.1, 0.2, 0.3, 0.9, 0.1, 0.1, 0.1))
    assert "frames 1-3, 5-7" in warning
    assert unreliable_runs(records(None, 0.1, 0.1, 0.1, cut_at=2)) is None


def test_the_report_gives_the_held_share_and_warns_on_unrelated_frames(engine, tmp_path):
    source = tmp_path / "pan.mp4"
    write_clip(source, pan_frames((64, 48), 5), fps=12)
    result = stylize_clip(engine, source, STYLE, tmp_path / "out.mp4", VideoConfig(steps_next=1))
    frames = json.loads(result.report_path.read_text())["frames"]
    assert "temporal_held" not in frames[0]
    assert all(0.7 < f["temporal_held"] <= 1.0 for f in frames[1:])
    assert result.summary["temporal_held"] == np.mean([f["temporal_held"] for f in frames[1:]])
    assert "flow_warning" not in result.summary

    noise = np.random.default_rng(0).integers(0, 256, (5, 48, 64, 3)).astype(np.uint8)
    source = tmp_path / "noise.mkv"
    write_clip(source, noise, fps=12, codec="ffv1")
    result = stylize_clip(engine, source, STYLE, tmp_path / "noise.mp4", VideoConfig(steps_next=1))
    frames = json.loads(result.report_path.read_text())["frames"]
    assert all(f["temporal_held"] < 0.5 for f in frames[1:])
    assert result.summary["temporal_held"] < 0.5
    assert "frames 1-4" in result.summary["flow_warning"]
