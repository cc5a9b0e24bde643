"""The engine's request object, its stop callable and the planner."""

import numpy as np
import pytest
from conftest import textured
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine import planner
from vidstyle.engine.request import Request
from vidstyle.errors import TooLargeError


class Halt(Exception):
    pass


def test_stylize_takes_one_request_and_nothing_else():
    engine = tiny_engine(MethodConfig(learning_rate=0.05))
    content, start = textured(32, 40, seed=1), textured(32, 40, seed=2)
    targets = engine.style_targets(textured(32, 32, seed=3))
    asked = engine.stylize(Request(content, targets, start=start, steps=12, learning_rate=0.01))
    assert asked.dtype == np.uint8 and asked.shape == content.shape
    with pytest.raises(TypeError):  # the fields as keywords: gone, a Request is the one form
        engine.stylize(content, targets, init=start, steps=12)


def test_stop_is_called_between_chunks_and_what_it_raises_ends_the_run():
    engine = tiny_engine()
    targets = engine.style_targets(textured(32, 32, seed=3))
    calls = []

    def stop():
        calls.append(len(calls))
        if len(calls) == 2:
            raise Halt

    with pytest.raises(Halt):
        engine.stylize(Request(textured(32, 32, seed=1), targets, steps=50, stop=stop))
    assert calls == [0, 1]  # after the first chunk of 10 steps, then the second
    ran = []
    engine.stylize(Request(textured(32, 32, seed=1), targets, steps=25,
                           stop=lambda: ran.append(1)))  # fmt: skip
    assert len(ran) == 3  # 10, 10 and 5 steps


def test_the_planner_gives_the_levels_and_tiles_the_engine_runs(monkeypatch):
    monkeypatch.setattr(planner, "MIN_TILE", 8)
    method = MethodConfig(content_layers=("block2_conv1",),
                          style_layers=("block1_conv1", "block2_conv1"), scales=2)  # fmt: skip
    engine = tiny_engine(method)
    engine.memory_budget = int(0.02 * 2**30)
    assert engine.planner.budget == engine.memory_budget
    seen = []
    engine.stylize(Request(textured(96, 128, seed=1), engine.style_targets(textured(32, 32)),
                           steps=4, on_level=lambda i, works: seen.append(works)))  # fmt: skip
    plan = planner.Planner(method, engine.memory_budget).plan(96, 128, 4)
    assert seen == [plan, plan] and plan[0].tile is None and plan[1].tile is not None
    assert engine.planner.plan(96, 128, 4, batch=2)[1].tile is None  # a batch is never tiled
    engine.memory_budget = int(0.001 * 2**30)
    with pytest.raises(TooLargeError, match="needs about"):
        engine.check_fits(None, 96, 128)


def test_the_image_pipeline_passes_the_stop_to_the_engine(tmp_path):
    from vidstyle.media.images import save_image
    from vidstyle.pipeline.image import stylize_file

    save_image(tmp_path / "in.png", textured(32, 32, seed=1))
    calls = []
    stylize_file(tiny_engine(MethodConfig(steps=20)), tmp_path / "in.png", textured(32, 32),
                 tmp_path / "out.png", stop=lambda: calls.append(1))  # fmt: skip
    assert len(calls) == 2 and (tmp_path / "out.png").is_file()
