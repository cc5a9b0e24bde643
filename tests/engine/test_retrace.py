"""No retracing per size (issue 18, item 4): one trace of each compiled function serves every
image size, batch size, coarse-to-fine level and tile crop, and the engines over one network
share it."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import tensorflow as tf
from conftest import textured
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine import tiling
from vidstyle.engine.inputs import to_tensor
from vidstyle.engine.optimize import Engine
from vidstyle.engine.request import Request

SHALLOW = MethodConfig(content_layers=("block3_conv2",),
                       style_layers=("block1_conv1", "block2_conv1", "block3_conv1"))  # fmt: skip


def _traces(function) -> int:
    return function.experimental_get_tracing_count()


def test_adam_traces_once_for_every_size_batch_and_level():
    engine = tiny_engine()
    style = engine.style_targets(textured(32, 32, seed=9))
    engine.stylize(Request(textured(24, 32, seed=1), style, steps=3))
    assert _traces(engine._run) == 1
    engine.stylize(Request(textured(40, 24, seed=2), style, steps=3))  # a new size
    engine.stylize(
        Request(np.stack([textured(16, 16, seed=3)] * 3), style, steps=3)
    )  # a batch of 3
    engine.stylize(Request(textured(64, 48, seed=4), style, steps=4, learning_rate=0.05))
    assert _traces(engine._run) == 1
    ladder = Engine(MethodConfig(scales=3), engine.extractor)  # 16x20, 32x40, 64x80
    ladder.stylize(Request(textured(64, 80, seed=5), style, steps=6))
    assert _traces(engine._run) == 1 and engine.traces == 1


def test_lbfgs_traces_once_for_every_size_and_batch():
    engine = tiny_engine(MethodConfig(optimizer="lbfgs"))
    style = engine.style_targets(textured(32, 32, seed=9))
    for shape in [(24, 32), (16, 40), (2, 32, 32)]:
        content = textured(*shape[-2:], seed=1)
        engine.stylize(
            Request(content if len(shape) == 2 else np.stack([content] * 2), style, steps=3)
        )
    assert _traces(engine._lbfgs_run) == 1 and _traces(engine._value_grad) == 1
    for shape in [(24, 32), (48, 16)]:  # the measuring function too
        image = textured(*shape, seed=2)
        engine.losses(image, image, style)
    assert _traces(engine._losses) == 1


def test_engines_over_one_network_share_their_traces():
    first = tiny_engine()
    style = first.style_targets(textured(32, 32, seed=9))
    first.stylize(Request(textured(24, 32, seed=1), style, steps=3))
    other = MethodConfig(content_weight=3e3, style_weight=5e-2, learning_rate=0.05, tol=1e-3)
    second = Engine(other, first.extractor)  # other weights and settings, the same network
    assert _traces(second._run) == 1  # already traced, by the first engine
    targets = second.style_targets(textured(32, 32, seed=9))
    out = second.stylize(Request(textured(40, 56, seed=2), targets, steps=4))
    assert out.shape == (40, 56, 3)
    assert _traces(second._run) == 1 and first.traces == second.traces == 1


def test_a_shared_trace_gives_the_result_of_a_fresh_one():
    """An engine running a size through a trace made at another size, by another engine with
    other weights, gets what an engine tracing afresh gets."""
    content, style_image = textured(40, 24, seed=1), textured(32, 32, seed=9)
    fresh = tiny_engine(MethodConfig(content_weight=3e3))
    expected = fresh.stylize(Request(content, fresh.style_targets(style_image), steps=5))
    warm = tiny_engine()  # the same random weights (seed 0), a new network
    warm.stylize(Request(textured(16, 16, seed=3), warm.style_targets(style_image), steps=3))
    shared = Engine(MethodConfig(content_weight=3e3), warm.extractor)
    got = shared.stylize(Request(content, shared.style_targets(style_image), steps=5))
    assert _traces(shared._run) == 1
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_the_shared_traces_go_with_their_network():
    """The cache holds no network alive: once its engines are gone, the network is freed."""
    engine = tiny_engine()
    targets = engine.style_targets(textured(16, 16, seed=2))
    engine.stylize(Request(textured(16, 16, seed=1), targets, steps=2))
    network = weakref.ref(engine.extractor)
    del engine
    gc.collect()
    assert network() is None


def test_the_tiled_path_traces_once_for_every_crop_shape():
    engine = tiny_engine(SHALLOW)
    tiled = tiling.Tiled(engine.extractor, len(engine.method.content_layers), 32)
    shape = (88, 120)  # corner, edge and inner crops differ in size
    crops = {(t.cy1 - t.cy0, t.cx1 - t.cx0) for t in tiled.tiles(*shape)}
    assert len(crops) > 3
    content = to_tensor(textured(*shape, seed=1)[None])
    grams = list(engine.style_targets(textured(40, 48, seed=3)).grams)
    params = engine._params(0.0)
    x = to_tensor(textured(*shape, seed=2)[None])
    tiled.value_and_grad(x, params, tiled.content_targets(content), grams, x, tf.ones(shape)[None])
    assert [_traces(f) for f in (tiled._gather, tiled._sums, tiled._grad)] == [1, 1, 1]
