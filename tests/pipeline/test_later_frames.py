"""Later video frames run with their own optimizer (``optimizer_next``, default L-BFGS), the
first frame and the frame after a cut with the method's (vidstyle.pipeline.video)."""

import numpy as np
import pytest
from clipmaker import pan_frames, write_clip
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.pipeline.video import later_engine, stylize_clip

STYLE = np.full((20, 20, 3), 80, np.uint8)


@pytest.fixture(scope="module")
def engine():
    return tiny_engine(MethodConfig(steps=2))


def _spy(engine, calls: list, name: str):
    """Record which engine optimized each frame (by name), and its steps."""
    original = engine.stylize

    def stylize(request, *args, **kwargs):
        calls.append((name, request.steps))
        return original(request, *args, **kwargs)

    engine.stylize = stylize


def test_later_frames_take_the_later_optimizer_and_the_first_the_methods(engine, tmp_path):
    assert engine.method.optimizer == "adam"
    twin = later_engine(engine, "lbfgs")
    assert twin.method.optimizer == "lbfgs" and twin.extractor is engine.extractor
    assert later_engine(engine, "lbfgs") is twin  # made once: its compiled steps are kept
    assert later_engine(engine, "adam") is engine
    calls = []
    _spy(engine, calls, "adam")
    _spy(twin, calls, "lbfgs")
    try:
        source = tmp_path / "pan.mp4"
        write_clip(source, pan_frames((64, 48), 4), fps=12)
        config = VideoConfig(steps_first=3, steps_next=2)
        stylize_clip(engine, source, STYLE, tmp_path / "out.mp4", config)
        assert calls == [("adam", 3), ("lbfgs", 2), ("lbfgs", 2), ("lbfgs", 2)]
        calls.clear()
        adam = VideoConfig(steps_first=3, steps_next=2, optimizer_next="adam")
        stylize_clip(engine, source, STYLE, tmp_path / "adam.mp4", adam)
        assert calls == [("adam", 3), ("adam", 2), ("adam", 2), ("adam", 2)]
    finally:
        del engine.stylize, twin.stylize


def test_the_defaults_are_20_lbfgs_iterations_for_later_frames():
    config = VideoConfig()
    assert (config.steps_next, config.optimizer_next) == (20, "lbfgs")


def test_the_frame_after_a_shot_cut_takes_steps_first_and_the_methods_optimizer(engine, tmp_path):
    """Two shots (a pan over a texture, then one over an unrelated blue texture): the first
    frame of the second shot starts over as the clip's first does."""
    twin = later_engine(engine, "lbfgs")
    calls = []
    _spy(engine, calls, "adam")
    _spy(twin, calls, "lbfgs")
    try:
        first = pan_frames((64, 48), 3, seed=0)
        second = pan_frames((64, 48), 3, seed=7, colors=[(10, 20, 120), (40, 90, 250)])
        source = tmp_path / "cut.mp4"
        write_clip(source, np.concatenate([first, second]), fps=12)
        config = VideoConfig(steps_first=3, steps_next=2)
        stylize_clip(engine, source, STYLE, tmp_path / "out.mp4", config)
        assert calls == [("adam", 3), ("lbfgs", 2), ("lbfgs", 2)] * 2
    finally:
        del engine.stylize, twin.stylize
