"""Images smaller than VGG19's four poolings allow are enlarged for the network, then shrunk
back, so every size from 1x1 up gives a result of its own size (tiny random-weight model)."""

import numpy as np
import pytest
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine.inputs import Temporal
from vidstyle.engine.request import Request


@pytest.fixture(scope="module")
def engine():
    return tiny_engine(MethodConfig(steps=3))


def test_the_smallest_side_follows_the_deepest_layer(engine):
    assert engine.extractor.min_side == 16  # block5: after four 2x2 poolings
    shallow = tiny_engine(MethodConfig(content_layers=("block2_conv1",),
                                       style_layers=("block1_conv1",)))  # fmt: skip
    assert shallow.extractor.min_side == 2


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 37, 3), (29, 1, 3), (15, 15, 3), (2, 9, 5, 3)])
def test_small_images_give_a_result_of_their_own_size(engine, shape):
    content = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    targets = engine.style_targets(np.full((3, 5, 3), 90, np.uint8))  # a tiny style too
    result = engine.stylize(Request(content, targets))
    assert result.shape == content.shape and result.dtype == np.uint8
    moved = np.abs(result.astype(int) - content.astype(int)).reshape(-1, *shape[-3:])
    assert all(m.mean() > 1.0 for m in moved), [m.mean() for m in moved]  # each one stylized
    first, first_content = result.reshape(-1, *shape[-3:])[0], content.reshape(-1, *shape[-3:])[0]
    assert all(np.isfinite(v) for v in engine.losses(first, first_content, targets).values())


def test_small_frame_with_a_start_and_a_temporal_term(engine):
    targets = engine.style_targets(np.full((40, 40, 3), 90, np.uint8))
    content = np.zeros((5, 7, 3), np.uint8)
    warped = np.full((5, 7, 3), 0.8, np.float32)
    temporal = Temporal(warped, np.ones((5, 7), np.float32), 1e4)
    result = engine.stylize(Request(content, targets, start=warped * 255, temporal=temporal))
    assert result.shape == (5, 7, 3)
    assert result.mean() > 100  # started from, and held to, the bright warped frame


def test_sixteen_pixels_is_not_resized(engine, monkeypatch):
    called = []
    monkeypatch.setattr(type(engine), "_stylize_enlarged", lambda *a: called.append(a))
    targets = engine.style_targets(np.full((16, 16, 3), 90, np.uint8))
    engine.stylize(Request(np.zeros((16, 40, 3), np.uint8), targets))
    assert not called
