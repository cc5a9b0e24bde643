"""Training the painter: the losses fall, each term only when weighted, the trainer's state
puts it back exactly, and the warp of the temporal loss follows the flow."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import textured
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine import netlosses
from vidstyle.engine.painter import Architecture, Painter
from vidstyle.engine.training import LossWeights, Trainer

TINY = Architecture(width=4, blocks=1)
P = 16


@pytest.fixture(scope="module")
def engine():
    return tiny_engine(MethodConfig(max_size=48))


@pytest.fixture(scope="module")
def targets(engine):
    return engine.style_targets(textured(48, 48, seed=9))


def _batch(seed: int = 0):
    """Patches: keyframes whose stylized result is the content's negative, frames, one pair
    moved by a pixel with its flow."""
    rng = np.random.default_rng(seed)
    content = np.stack([textured(P, P, seed=int(s)) for s in rng.integers(100, size=4)])
    content = content.astype(np.float32) / 255.0
    frames = content[::-1].copy()
    flow = np.zeros((1, P, P, 2), np.float32)
    flow[..., 0] = -1.0  # b's pixel x comes from a's x - 1: the picture moved right by one
    pair_b = np.roll(content[:1], 1, axis=2)
    return (content, 1.0 - content, frames, content[:1], pair_b, flow,
            np.ones((1, P, P), np.float32))  # fmt: skip


def _trainer(engine, targets, weights=LossWeights(), seed=0):
    painter = Painter.fresh(TINY, "float32", seed=seed)
    return Trainer(painter, engine.extractor, targets, engine.method, weights, area=48 * 48,
                   learning_rate=3e-3)  # fmt: skip


def _losses(trainer, steps: int = 61) -> tuple[dict, dict]:
    """The first and the last step's losses of ``steps`` steps on one batch."""
    batch = _batch()
    first = last = trainer.step(*batch)
    for _ in range(steps - 1):
        last = trainer.step(*batch)
    return first, last


def test_training_lowers_every_weighted_loss(engine, targets):
    trainer = _trainer(engine, targets, LossWeights(1.0, 1.0, 1.0, 1.0, 1.0))
    first, last = _losses(trainer)
    assert set(first) == {"pixel", "perceptual", "texture", "objective", "temporal", "total"}
    assert last["total"] < first["total"] - 0.3  # the logarithms' part may be below zero
    assert last["perceptual"] < 0.7 * first["perceptual"]
    assert last["texture"] < 0.7 * first["texture"]
    assert last["objective"] < 0.7 * first["objective"]
    assert trainer.steps == 61


def test_the_pixel_loss_alone_makes_the_painter_imitate(engine, targets):
    first, last = _losses(_trainer(engine, targets, LossWeights(1.0, 0.0, 0.0, 0.0, 0.0)))
    assert last["pixel"] < 0.7 * first["pixel"]


def test_a_term_of_weight_zero_is_not_computed(engine, targets):
    trainer = _trainer(engine, targets, LossWeights(1.0, 0.0, 0.0, 0.0, 0.0))
    terms = trainer.step(*_batch())
    assert set(terms) == {"pixel", "total"} and terms["total"] == pytest.approx(terms["pixel"])


def test_a_batch_without_pairs_runs_no_temporal_term(engine, targets):
    trainer = _trainer(engine, targets, LossWeights(1.0, 0.0, 0.0, 1.0, 0.0))
    batch = list(_batch())
    batch[3:7] = [np.zeros((0, *x.shape[1:]), np.float32) for x in batch[3:7]]
    terms = trainer.step(*batch)
    assert set(terms) == {"pixel", "total"} and terms["total"] == pytest.approx(terms["pixel"])
    assert "temporal" in trainer.step(*_batch())  # with pairs, it is


def test_texture_and_objective_enter_the_total_by_their_logarithms(engine, targets):
    trainer = _trainer(engine, targets, LossWeights(0.5, 2.0, 3.0, 4.0, 5.0))
    terms = trainer.step(*_batch())
    floor = netlosses.LOG_FLOOR
    expected = (
        0.5 * terms["pixel"]
        + 2.0 * terms["perceptual"]
        + 4.0 * terms["temporal"]
        + 5.0 * np.log(terms["texture"] + floor)
        + 3.0 * np.log(terms["objective"] + floor)
    )
    assert terms["total"] == pytest.approx(expected, rel=1e-4)


def test_the_state_puts_a_trainer_back_exactly(engine, targets):
    trained = _trainer(engine, targets)
    for seed in range(3):
        trained.step(*_batch(seed))
    other = _trainer(engine, targets, seed=7)  # other weights, fresh moments
    other.restore(trained.state())
    assert other.steps == 3
    ahead, behind = trained.step(*_batch(5)), other.step(*_batch(5))
    assert ahead == pytest.approx(behind, rel=1e-6)
    for a, b in zip(trained.painter.weights(), other.painter.weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_the_warp_pulls_along_the_flow():
    image = tf.constant(textured(12, 16, seed=4)[None].astype(np.float32))
    flow = np.zeros((1, 12, 16, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2.0, -1.0  # out[y, x] = image[y - 1, x + 2]
    out = netlosses.warp(image, tf.constant(flow)).numpy()
    np.testing.assert_allclose(out[0, 1:, :-2], image.numpy()[0, :-1, 2:])
    half = np.full((1, 12, 16, 2), 0.5, np.float32)
    between = netlosses.warp(image, tf.constant(half)).numpy()[0, 0, 0]
    corners = image.numpy()[0, :2, :2].reshape(4, 3).mean(axis=0)
    np.testing.assert_allclose(between, corners, rtol=1e-5)


def test_the_temporal_loss_is_zero_for_a_rendering_that_follows_the_flow():
    a = tf.constant(textured(12, 16, seed=2)[None].astype(np.float32) / 255.0)
    flow = np.zeros((1, 12, 16, 2), np.float32)
    flow[..., 0] = -1.0
    b = tf.roll(a, 1, axis=2)
    mask = np.ones((1, 12, 16), np.float32)
    mask[:, :, 0] = 0.0  # the column that came in from outside
    assert float(netlosses.temporal(a, b, tf.constant(flow), tf.constant(mask))) < 1e-9
    assert float(netlosses.temporal(a, a, tf.constant(flow), tf.constant(mask))) > 0.05
