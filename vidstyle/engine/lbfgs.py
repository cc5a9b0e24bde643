"""L-BFGS over the images' pixels, inside the TensorFlow graph, every pixel kept in 0..1.

Gatys, Ecker, Bethge, "A Neural Algorithm of Artistic Style" (2015) and "Image Style Transfer
Using Convolutional Neural Networks" (CVPR 2016) optimize the image with L-BFGS; it reaches a
given loss in far fewer loss-and-gradient evaluations than Adam. This is projected L-BFGS:

- direction: the two-loop recursion (Nocedal and Wright, "Numerical Optimization", Algorithm 7.4)
  over the last :data:`MEMORY` pairs ``s = x_k+1 - x_k``, ``y = g_k+1 - g_k`` with
  ``H0 = (s.y / y.y) I`` from the newest pair, applied to the gradient of the free pixels (those
  not held at 0 or 1 by their gradient);
- step: from ``t = 1``, halved until Armijo's condition ``f(x_t) <= f(x) + C1 g.(x_t - x)``
  holds along the projected path ``x_t = clip(x + t d, 0, 1)`` (at most :data:`MAX_HALVINGS`);
- memory: a pair is kept when ``s.y > 0``; everything is forgotten when the direction does not
  descend (the steepest descent is taken instead) or no step lowers the loss.

Every image of a batch is its own problem, vectorized over the batch axis (axis 0): its own
pairs, its own ``H0``, its own step and its own line-search acceptance, so an image gets the
result it would get alone. The loss is one value per image.

No host round trip: an iteration is exactly one loss-and-gradient evaluation, with no control
flow that depends on a value computed on the device. The backtracking line search is spread over
iterations: a trial point that fails Armijo's condition is not taken, and the next iteration
tries half the step from the same point (same direction); a trial that passes is taken and the
next iteration starts again from ``t = 1``. The path is that of the usual backtracking search;
only the count differs, a halving counting as an iteration (the full step is nearly always
taken). The state is a tuple of tensors passed in and out of one compiled function that runs a
chunk of iterations in a ``tf.while_loop`` whose condition is the iteration count alone.

The loss-and-gradient function also returns a few booleans per image (the engine's "this term is
finite"); the state keeps, per image, the flags of the first evaluation taken where one was false.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf

MEMORY = 10  # correction pairs kept
C1 = 1e-4  # Armijo's sufficient-decrease constant
MAX_HALVINGS = 10  # line-search halvings before giving up on a direction
FIRST_STEP = 0.05  # without pairs: the step moves the steepest free pixel by this much

# images -> (per-image loss [B], gradient, per-image finite flags [B, K] bool)
LossAndGrad = Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor, tf.Tensor]]


class State(NamedTuple):
    """Where L-BFGS is: the images, their losses and gradients, pairs, and the line search."""

    x: tf.Tensor  # [B, ...]
    loss: tf.Tensor  # [B]
    grad: tf.Tensor
    s: tf.Tensor  # [MEMORY, B, ...], oldest first
    y: tf.Tensor
    rho: tf.Tensor  # [MEMORY, B], 1 / s.y, 0 for an empty or forgotten pair
    t: tf.Tensor  # [B], the step to try next
    halvings: tf.Tensor  # [B] int32, halvings of the current line search so far
    bad: tf.Tensor  # [B, K] bool: per image, the flags false at its first bad evaluation taken


def start(x: tf.Tensor, loss: tf.Tensor, grad: tf.Tensor, finite: tf.Tensor) -> State:
    """The state at ``x`` (in 0..1, batch axis first) with its losses, gradient and flags."""
    pairs = tf.zeros((MEMORY, *x.shape), x.dtype)
    batch = x.shape[0]
    return State(x, loss, grad, pairs, pairs, tf.zeros([MEMORY, batch], x.dtype),
                 tf.ones([batch], x.dtype), tf.zeros([batch], tf.int32),
                 tf.logical_not(finite))  # fmt: skip


def iterate(loss_and_grad: LossAndGrad, state: State, n: tf.Tensor) -> State:
    """``n`` iterations (evaluations) from ``state``, to be traced inside a ``tf.function``.

    Args:
        loss_and_grad: per-image losses, the gradient and finite flags at a batch of images.
        state: from :func:`start` or a previous call.
        n: how many iterations, a scalar int32 tensor.

    Returns:
        The state after ``n`` iterations.
    """

    def body(i, *fields):
        return (i + 1, *_iteration(loss_and_grad, State(*fields)))

    out = tf.while_loop(lambda i, *_: i < n, body, (tf.constant(0), *state))
    return State(*out[1:])


def _iteration(loss_and_grad: LossAndGrad, st: State) -> State:
    free = _free(st.x, st.grad)
    d = -_two_loop(st.grad * free, st.s, st.y, st.rho) * free
    descent = _dot(st.grad, d) < 0
    d = tf.where(_per(descent, d), d, -_per(_first_scale(st.grad * free), d) * st.grad * free)
    x = tf.clip_by_value(st.x + _per(st.t, d) * d, 0.0, 1.0)
    loss, grad, finite = loss_and_grad(x)
    armijo = loss <= st.loss + C1 * _dot(st.grad, x - st.x)
    ended = armijo | (st.halvings >= MAX_HALVINGS)  # this line search is over
    taken = ended & (loss < st.loss)
    s, y = x - st.x, grad - st.grad
    sy = _dot(s, y)
    rho = tf.where(descent & taken | ~ended, st.rho, tf.zeros_like(st.rho))
    keep = taken & (sy > 0)
    first_bad = ~tf.reduce_any(st.bad, axis=1) & taken & ~tf.reduce_all(finite, axis=1)
    return State(
        tf.where(_per(taken, x), x, st.x),
        tf.where(taken, loss, st.loss),
        tf.where(_per(taken, x), grad, st.grad),
        tf.where(_per(keep, x)[None], tf.concat([st.s[1:], s[None]], 0), st.s),
        tf.where(_per(keep, x)[None], tf.concat([st.y[1:], y[None]], 0), st.y),
        tf.where(keep[None], tf.concat([rho[1:], (1.0 / sy)[None]], 0), rho),
        tf.where(ended, tf.ones_like(st.t), st.t / 2),
        tf.where(ended, tf.zeros_like(st.halvings), st.halvings + 1),
        tf.where(first_bad[:, None], ~finite, st.bad),
    )


def _free(x: tf.Tensor, grad: tf.Tensor) -> tf.Tensor:
    """1 for pixels free to move, 0 for those held at a bound by their gradient."""
    held = ((x <= 0.0) & (grad > 0.0)) | ((x >= 1.0) & (grad < 0.0))
    return tf.cast(~held, x.dtype)


def _two_loop(q: tf.Tensor, s: tf.Tensor, y: tf.Tensor, rho: tf.Tensor) -> tf.Tensor:
    """The inverse-Hessian approximation times ``q``, per image (forgotten pairs: ``rho`` 0)."""
    alphas = [None] * MEMORY
    for j in reversed(range(MEMORY)):
        alphas[j] = rho[j] * _dot(s[j], q)
        q = q - _per(alphas[j], q) * y[j]
    newest = rho[MEMORY - 1] > 0
    gamma = tf.where(newest, _dot(s[-1], y[-1]) / (_dot(y[-1], y[-1]) + 1e-30), 0.0)
    r = _per(tf.where(newest, gamma, _first_scale(q)), q) * q
    for j in range(MEMORY):
        r = r + s[j] * _per(alphas[j] - rho[j] * _dot(y[j], r), r)
    return r


def _first_scale(grad: tf.Tensor) -> tf.Tensor:
    """Per image: the factor that makes the largest component of ``grad`` FIRST_STEP."""
    return FIRST_STEP / (tf.reduce_max(tf.abs(grad), axis=_pixels(grad)) + 1e-30)


def _dot(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Per-image inner products, [B]."""
    return tf.reduce_sum(a * b, axis=_pixels(a))


def _pixels(a: tf.Tensor) -> list[int]:
    return list(range(1, a.shape.rank))


def _per(v: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """A per-image value [B] shaped to broadcast over images like ``like`` ([B, ...])."""
    return tf.reshape(v, [-1] + [1] * (like.shape.rank - 1))
