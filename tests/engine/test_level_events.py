"""The engine's level events (tiny model): each level of a coarse-to-fine or tiled run is told as
it starts, with every level's size, tiles and memory; a run of one untiled level tells nothing."""

import numpy as np
import pytest
from conftest import textured
from PIL import Image
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine import planner
from vidstyle.engine.request import Request
from vidstyle.pipeline.image import stylize_file

SHALLOW = MethodConfig(content_layers=("block3_conv2",),
                       style_layers=("block1_conv1", "block2_conv1", "block3_conv1"))  # fmt: skip


class Spy:
    """A reporter that keeps every call, in order."""

    def __init__(self):
        self.calls = []

    def begin(self, total, unit):
        self.calls.append(("begin", total))

    def start_item(self, name, steps, lane=None):
        self.calls.append(("start", name, steps))

    def step(self, done, loss, lane=None):
        self.calls.append(("step", done))

    def level(self, index, works, lane=None):
        self.calls.append(("level", index, [(w.height, w.width, w.steps, w.tiles) for w in works]))

    def end_item(self, name, status, seconds):
        self.calls.append(("end", name, status))

    def end(self):
        pass

    def remaining(self, seconds):
        pass


def _stylize(engine, content, **kwargs):
    events = []
    targets = engine.style_targets(textured(40, 40, seed=5))
    engine.stylize(Request(content, targets,
                           on_step=lambda done, loss: events.append(("step", done)),
                           on_level=lambda i, works: events.append(("level", i, works)),
                           **kwargs))  # fmt: skip
    return events


def test_each_level_is_told_as_it_starts_with_every_levels_size():
    engine = tiny_engine(MethodConfig(scales=3, steps=30, learning_rate=0.05))
    events = _stylize(engine, textured(128, 192, seed=1))
    kinds = [e[0] if e[0] == "step" else f"level {e[1]}" for e in events]
    assert kinds == ["level 0", "step", "level 1", "step", "level 2", "step"]
    assert [e[1] for e in events if e[0] == "step"] == [10, 20, 30]  # counted over all levels
    works = events[0][2]
    assert [(w.height, w.width, w.steps, w.tile, w.tiles) for w in works] == [
        (32, 48, 10, None, 1), (64, 96, 10, None, 1), (128, 192, 10, None, 1)]  # fmt: skip
    assert all(e[2] == works for e in events if e[0] == "level")
    assert works[0].needed < works[1].needed < works[2].needed
    assert planner.level_line(2, works) == "level 3/3 192x128"


def test_a_run_of_one_untiled_level_tells_no_levels():
    engine = tiny_engine(MethodConfig(scales=1, steps=20))
    assert _stylize(engine, textured(96, 128, seed=1)) == [("step", 10), ("step", 20)]
    auto = tiny_engine(MethodConfig(steps=10))  # automatic: one level up to 1024 px
    assert [e[0] for e in _stylize(auto, textured(48, 64, seed=1))] == ["step"]
    batch = np.stack([textured(48, 64, seed=1), textured(48, 64, seed=2)])
    assert [e[0] for e in _stylize(auto, batch)] == ["step"]


def test_a_tiled_level_is_told_with_its_tiles(monkeypatch):
    monkeypatch.setattr(planner, "MIN_TILE", 8)
    engine = tiny_engine(SHALLOW.replace(scales=2, steps=4, learning_rate=0.05))
    engine.memory_budget = int(0.02 * 2**30)  # 96x128 takes tiles of 36 px (see test_tiling)
    events = _stylize(engine, textured(96, 128, seed=1))
    levels = [e for e in events if e[0] == "level"]
    assert [e[1] for e in levels] == [0, 1]
    coarse, fine = levels[0][2]
    assert (coarse.height, coarse.width, coarse.tile, coarse.tiles) == (48, 64, None, 1)
    assert (fine.height, fine.width, fine.tile, fine.tiles) == (96, 128, 36, 3 * 4)
    assert fine.needed <= engine.memory_budget
    assert planner.level_line(1, levels[0][2]) == "level 2/2 128x96, 12 tiles"
    assert planner.plan_line(levels[0][2]).startswith("levels 64,128 px · 12 tiles at 128 · ~")
    one = tiny_engine(SHALLOW.replace(scales=1, steps=2))
    one.memory_budget = engine.memory_budget
    [(kind, index, works)] = [e for e in _stylize(one, textured(96, 128, seed=1)) if e[0] != "step"]
    assert (kind, index, [w.tiles for w in works]) == ("level", 0, [12])  # tiled: told


@pytest.mark.parametrize("colors", ["none", "luminance"])
def test_the_image_pipeline_passes_the_levels_to_its_reporter(tmp_path, colors):
    photo, out = tmp_path / "photo.png", tmp_path / "out.png"
    Image.fromarray(textured(96, 128, seed=1)).save(photo)
    engine = tiny_engine(MethodConfig(scales=2, steps=20, max_size=0, preserve_colors=colors))
    spy = Spy()
    stylize_file(engine, photo, textured(40, 40, seed=5), out, spy)
    assert spy.calls == [
        ("level", 0, [(48, 64, 10, 1), (96, 128, 10, 1)]), ("step", 10),
        ("level", 1, [(48, 64, 10, 1), (96, 128, 10, 1)]), ("step", 20),
    ]  # fmt: skip
    assert out.is_file()
