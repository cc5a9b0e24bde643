"""L-BFGS per image and without host round trips (tiny random-weight network)."""

import numpy as np
import pytest
import tensorflow as tf
from alike import assert_alike, assert_partner_free, kernels_agree
from conftest import textured
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine import lbfgs
from vidstyle.engine.request import Request


def test_each_image_of_a_batch_gets_the_result_it_would_get_alone():
    """Own pairs, own step sizes, own line-search acceptance: a batch is no shared problem.
    The two starts differ widely (content vs noise), so their steps and halvings differ."""
    engine = tiny_engine(MethodConfig(optimizer="lbfgs"))
    style = engine.style_targets(textured(32, 32, seed=5))
    contents = np.stack([textured(32, 32, seed=1), textured(32, 32, seed=2)])
    starts = np.stack([contents[0], np.random.default_rng(3).uniform(0, 255, (32, 32, 3))])
    batch = engine.stylize(Request(contents, style, start=starts, steps=40))
    exact = kernels_agree(engine.extractor, starts)
    for i in range(2):
        alone = engine.stylize(Request(contents[i], style, start=starts[i], steps=40))
        assert_alike(batch[i], alone, exact)


@pytest.mark.parametrize("steps", [1, 20])
def test_an_image_comes_out_the_same_to_the_bit_whatever_its_batch_partner(steps):
    """Its own first-step scale (1 step: no pairs yet), step size, line search and history
    (20): beside a noisy start, itself or a black start, the same image gets the same result.
    A first-step scale shared by the batch moves it 5 grey levels."""
    engine = tiny_engine(MethodConfig(optimizer="lbfgs"))
    style = engine.style_targets(textured(32, 32, seed=5))
    content, other = textured(32, 32, seed=1), textured(32, 32, seed=2)
    noise = np.random.default_rng(3).uniform(0, 255, (32, 32, 3))
    partners = [(other, noise), (content, content), (other, np.zeros_like(noise))]

    def stylize(contents, starts):
        return engine.stylize(Request(contents, style, start=starts, steps=steps))

    assert_partner_free(stylize, content, noise, partners)


def _quadratic(target, scales):
    def loss_and_grad(x):
        loss = tf.reduce_sum(scales * (x - target) ** 2, axis=1)
        return loss, 2.0 * scales * (x - target), tf.ones([x.shape[0], 1], tf.bool)

    return loss_and_grad


def test_batched_quadratics_of_very_different_scales_match_their_solo_runs():
    target = tf.constant(np.linspace(-1.0, 2.0, 50), tf.float32)
    scales = (np.linspace(1, 20, 50), np.linspace(1e3, 2e4, 50))
    steep = _quadratic(target, tf.constant(np.stack(scales), tf.float32))
    x = tf.fill([2, 50], 0.5)
    both = lbfgs.iterate(steep, lbfgs.start(x, *steep(x)), tf.constant(25))
    for i, scale in enumerate(scales):
        alone_fn = _quadratic(target, tf.constant(scale[None], tf.float32))
        xi = tf.fill([1, 50], 0.5)
        alone = lbfgs.iterate(alone_fn, lbfgs.start(xi, *alone_fn(xi)), tf.constant(25))
        np.testing.assert_allclose(both.x.numpy()[i], alone.x.numpy()[0], atol=1e-6)
        assert both.t.numpy()[i] == alone.t.numpy()[0]


def test_the_only_loop_is_counted_no_value_decides_control_flow():
    """One ``tf.while_loop`` whose condition is the iteration count: the line search is not a
    loop of its own whose condition (the loss) would be read by the host at every halving."""
    loss_and_grad = _quadratic(tf.zeros([8]), tf.ones([8]))
    x = tf.fill([1, 8], 0.5)
    state = lbfgs.start(x, *loss_and_grad(x))
    traced = tf.function(lambda s, n: lbfgs.iterate(loss_and_grad, lbfgs.State(*s), n))
    graph = traced.get_concrete_function(tuple(state), tf.constant(3)).graph
    library = graph.as_graph_def().library.function
    conds = [f for f in library if "cond" in f.signature.name]
    assert len(conds) == 1
    compared = [n for n in conds[0].node_def if n.op in ("Less", "LessEqual", "Greater")]
    assert [n.attr["T"].type for n in compared] == [tf.int32.as_datatype_enum]


def test_a_failed_trial_halves_the_step_from_the_same_point_and_a_passed_one_resets_it():
    def cliff(x):  # falls with x, but a wall above 0.02: the first trial moves by 0.05
        loss = tf.reduce_sum(-x + tf.cast(x > 0.02, tf.float32) * 50.0, axis=1)
        return loss, -tf.ones_like(x), tf.ones([1, 1], tf.bool)

    state = lbfgs.start(tf.zeros([1, 1]), *cliff(tf.zeros([1, 1])))
    seen = []
    for _ in range(3):
        state = lbfgs.iterate(cliff, state, tf.constant(1))
        seen.append((round(float(state.x[0, 0]), 6), float(state.t[0]), int(state.halvings[0])))
    assert seen == [(0.0, 0.5, 1), (0.0, 0.25, 2), (0.0125, 1.0, 0)]


def test_lbfgs_finds_the_bounded_minimum_of_a_quadratic():
    target = tf.constant(np.linspace(-1.0, 2.0, 50), tf.float32)
    scales = tf.constant(np.linspace(1.0, 20.0, 50), tf.float32)  # an ill-conditioned bowl

    def quadratic(x):  # one image of 50 pixels: per-image loss [1], gradient, finite flags [1, 1]
        loss = tf.reduce_sum(scales * (x - target) ** 2, axis=1)
        return loss, 2.0 * scales * (x - target), tf.ones([1, 1], tf.bool)

    x = tf.fill([1, 50], 0.5)
    state = lbfgs.iterate(quadratic, lbfgs.start(x, *quadratic(x)), tf.constant(40))
    assert float(tf.reduce_min(state.x)) >= 0.0 and float(tf.reduce_max(state.x)) <= 1.0
    np.testing.assert_allclose(state.x.numpy()[0], np.clip(target.numpy(), 0.0, 1.0), atol=1e-3)
