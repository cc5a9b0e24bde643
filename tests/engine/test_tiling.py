"""Tiled optimization: the tiled loss and gradient against the untiled ones (tiny model)."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import textured
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine import memory, planner, tiling
from vidstyle.engine.inputs import to_tensor, to_uint8
from vidstyle.engine.request import Request
from vidstyle.errors import TooLargeError

SHALLOW = MethodConfig(content_layers=("block3_conv2",),
                       style_layers=("block1_conv1", "block2_conv1", "block3_conv1"))  # fmt: skip


def _both(engine, tile, shape, temporal_weight=0.0):
    content = to_tensor(np.stack([textured(*shape, seed=1), textured(*shape, seed=4)]))
    x = to_tensor(np.stack([textured(*shape, seed=2), textured(*shape, seed=5)]))
    grams = list(engine.style_targets(textured(40, 48, seed=3)).grams)
    warped = to_tensor(np.stack([textured(*shape, seed=6)] * 2))
    mask = tf.ones(x.shape[:3])
    params = engine._params(temporal_weight)
    untiled = engine._loss_and_grad(x, params, engine._content_targets(content), grams, warped,
                                    mask)  # fmt: skip
    tiled = tiling.Tiled(engine.extractor, len(engine.method.content_layers), tile)
    assert len(tiled.tiles(*shape)) > 4  # really tiled
    found = tiled.value_and_grad(x, params, tiled.content_targets(content), grams, warped, mask)
    return untiled, found


@pytest.mark.parametrize(("method", "tile", "shape"),
                         [(SHALLOW, 32, (88, 120)), (MethodConfig(), 48, (180, 200))])  # fmt: skip
def test_tiled_gradient_matches_the_untiled_one_to_float32_round_off(method, tile, shape):
    engine = tiny_engine(method)
    (loss, grad, flags), (t_loss, t_grad, t_flags) = _both(engine, tile, shape, 1e-3)
    np.testing.assert_allclose(t_loss.numpy(), loss.numpy(), rtol=1e-5)
    scale = np.abs(grad.numpy()).max()
    assert np.abs(t_grad.numpy() - grad.numpy()).max() <= 1e-5 * scale
    np.testing.assert_array_equal(t_flags.numpy(), flags.numpy())


def test_halo_covers_the_deepest_layers_reach():
    deep = tiny_engine().extractor  # up to block5_conv2: reach 86 + 15 = 101 px
    assert tiling.halo(deep) == 112 and tiling.stride(deep) == 16
    assert tiling.halo(tiny_engine(SHALLOW).extractor) == 20  # 14 + 3 -> a multiple of 4


def test_tiles_cover_the_image_once_and_crops_stay_inside():
    tiles = tiling.plan_tiles(100, 70, 32, 16)
    cover = np.zeros((100, 70), int)
    for t in tiles:
        cover[t.y0 : t.y1, t.x0 : t.x1] += 1
        assert 0 <= t.cy0 <= t.y0 and t.y1 <= t.cy1 <= 100 and 0 <= t.cx0 and t.cx1 <= 70
    assert (cover == 1).all()


def _choose_tile(height, width, optimizer, budget, extractor):
    unit, margin = tiling.stride(extractor), tiling.halo(extractor)
    return planner.choose_tile(height, width, optimizer, budget, unit, margin)


def test_tile_chosen_from_the_budget_down_to_the_smallest():
    extractor = tiny_engine().extractor
    gib = 2**30
    big = _choose_tile(3072, 4096, "adam", 8 * gib, extractor)
    assert big is not None and big % 16 == 0 and big < 4096
    assert _choose_tile(512, 512, "adam", 100 * gib, extractor) >= 512  # one tile
    assert _choose_tile(3072, 4096, "adam", gib // 4, extractor) is None


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_an_image_over_the_budget_is_tiled_with_the_untiled_result(optimizer, monkeypatch):
    monkeypatch.setattr(planner, "MIN_TILE", 8)
    method = SHALLOW.replace(optimizer=optimizer, learning_rate=0.05, scales=1)
    untiled, tiled = tiny_engine(method), tiny_engine(method)
    untiled.memory_budget, tiled.memory_budget = None, int(0.02 * 2**30)
    content, style = textured(96, 128, seed=1), textured(64, 64, seed=3)
    with pytest.raises(TooLargeError):  # untiled it would be refused
        memory.check(None, 96, 128, optimizer, tiled.memory_budget)
    tiled.check_fits(None, 96, 128)  # tiled it is not
    assert tiled.planner.tile(96, 128) == {"adam": 36, "lbfgs": 24}[optimizer]
    if optimizer == "lbfgs":
        expected = untiled.stylize(Request(content, untiled.style_targets(style), steps=6))
    else:  # Adam's sign-like step turns round-off at near-zero gradients into whole levels, and
        # the compiled loop rounds otherwise than the host's: compare with the host's on the
        # untiled gradient
        expected = _host_adam(untiled, content, untiled.style_targets(style), 6)
    reports = []
    found = tiled.stylize(Request(content, tiled.style_targets(style), steps=6,
                                  on_step=lambda s, loss: reports.append(s)))  # fmt: skip
    assert reports == [6]
    assert np.abs(found.astype(int) - expected).max() <= 1
    tiled.memory_budget = int(0.001 * 2**30)  # not even the smallest tile
    with pytest.raises(TooLargeError):
        tiled.check_fits(None, 96, 128)


def _host_adam(engine, content, style, steps):
    x = to_tensor(content)
    params, targets = engine._params(0.0), engine._content_targets(x)
    warped, mask = tf.zeros_like(x), tf.ones(x.shape[:3])
    adam = tiling._Adam(x, params)
    adam.steps(lambda i: engine._loss_and_grad(i, params, targets, list(style.grams), warped,
                                               mask), steps)  # fmt: skip
    return to_uint8(adam.x)[0]


def test_the_plan_of_levels_and_tiles_agrees_with_the_engine_and_fits_the_budget():
    method, gib = MethodConfig(), 2**30
    assert planner.reach(planner.vgg19_kinds(method.layers)) == (16, 112)
    assert planner.reach(planner.vgg19_kinds(SHALLOW.layers)) == (4, 20)
    works = planner.Planner(method, 8 * gib).plan(3072, 4096)
    assert [max(w.height, w.width) for w in works] == [512, 724, 1024, 1448, 2048, 2896, 4096]
    assert works[0].tile is None and works[-1].tile is not None and works[-1].tiles > 1
    assert all(w.needed <= 8 * gib for w in works)
    assert works[-1].tile == _choose_tile(3072, 4096, "adam", 8 * gib, tiny_engine().extractor)
    assert all(w.tile is None for w in planner.Planner(method, None).plan(3072, 4096))
    line = planner.summary(works)
    assert line.startswith("512x384, 724x543") and "4096x3072 (20 tiles of 960 px)" in line


def test_a_style_over_the_budget_gets_the_same_targets_in_tiles(monkeypatch):
    monkeypatch.setattr(planner, "MIN_TILE", 8)
    untiled, tiled = tiny_engine(SHALLOW), tiny_engine(SHALLOW)
    untiled.memory_budget, tiled.memory_budget = None, int(0.02 * 2**30)
    style = textured(96, 128, seed=3)
    assert tiled.planner.tile(96, 128) is not None
    for a, b in zip(untiled.style_targets(style).grams, tiled.style_targets(style).grams):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6 * np.abs(a).max())


def test_the_losses_of_an_image_over_the_budget_are_measured_in_tiles(monkeypatch):
    """Issue 32, item 2: ``Engine.losses`` (the style drop, the video report) measures in the
    tiles the image was stylized in, to the untiled terms' round-off, never untiled."""
    monkeypatch.setattr(planner, "MIN_TILE", 8)
    untiled, tiled = tiny_engine(SHALLOW), tiny_engine(SHALLOW)
    untiled.memory_budget, tiled.memory_budget = None, int(0.02 * 2**30)
    style = untiled.style_targets(textured(40, 48, seed=3))
    image, content = textured(96, 128, seed=2), textured(96, 128, seed=1)
    assert tiled.planner.tile(96, 128) is not None
    whole = untiled.losses(image, content, style)

    def too_large(*args):  # the untiled measure, which would not fit
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr(tiled, "_losses", too_large)
    found = tiled.losses(image, content, style)
    assert found.keys() == whole.keys()
    for name, value in whole.items():
        assert found[name] == pytest.approx(value, rel=1e-4, abs=1e-6), name
    tiled.memory_budget = int(0.001 * 2**30)  # not even the smallest tile: refused up front
    with pytest.raises(TooLargeError):
        tiled.losses(image, content, style)
