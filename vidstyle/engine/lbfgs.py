"""L-BFGS over the image's pixels, inside the TensorFlow graph, every pixel kept in 0..1.

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

The state is a tuple of tensors passed in and out of one compiled function that runs a chunk of
iterations in a ``tf.while_loop``, as the engine's Adam does: nothing goes back to the host inside
a chunk, and on a GPU everything stays there. An iteration costs one evaluation when the full
step is taken, as it nearly always is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf

MEMORY = 10  # correction pairs kept
C1 = 1e-4  # Armijo's sufficient-decrease constant
MAX_HALVINGS = 10  # line-search halvings before giving up on an iteration
FIRST_STEP = 0.05  # without pairs: the step moves the steepest free pixel by this much

LossAndGrad = Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


class State(NamedTuple):
    """Where L-BFGS is: the image, its loss and gradient, and the correction pairs."""

    x: tf.Tensor
    loss: tf.Tensor
    grad: tf.Tensor
    s: tf.Tensor  # [MEMORY, *x.shape], oldest first
    y: tf.Tensor
    rho: tf.Tensor  # [MEMORY], 1 / s.y, 0 for an empty or forgotten pair


def start(x: tf.Tensor, loss: tf.Tensor, grad: tf.Tensor) -> State:
    """The state at ``x`` (in 0..1) with its loss and gradient, and no pairs yet."""
    pairs = tf.zeros((MEMORY, *x.shape), x.dtype)
    return State(x, loss, grad, pairs, pairs, tf.zeros([MEMORY], x.dtype))


def iterate(loss_and_grad: LossAndGrad, state: State, n: tf.Tensor) -> State:
    """``n`` iterations from ``state``, to be traced inside a ``tf.function``.

    Args:
        loss_and_grad: the scalar loss and its gradient at an image.
        state: from :func:`start` or a previous call.
        n: how many iterations, a scalar int32 tensor.
    """

    def body(i, *fields):
        return (i + 1, *_iteration(loss_and_grad, State(*fields)))

    out = tf.while_loop(lambda i, *_: i < n, body, (tf.constant(0), *state))
    return State(*out[1:])


def _iteration(loss_and_grad: LossAndGrad, st: State) -> State:
    free = _free(st.x, st.grad)
    d = -_two_loop(st.grad * free, st.s, st.y, st.rho) * free
    descent = _dot(st.grad, d) < 0
    d = tf.where(descent, d, -_first_scale(st.grad * free) * st.grad * free)
    x, loss, grad = _line_search(loss_and_grad, st, d)
    better = loss < st.loss
    s, y = x - st.x, grad - st.grad
    sy = _dot(s, y)
    rho = tf.where(descent & better, st.rho, tf.zeros_like(st.rho))
    keep = better & (sy > 0)
    new = State(
        tf.where(better, x, st.x),
        tf.where(better, loss, st.loss),
        tf.where(better, grad, st.grad),
        tf.where(keep, tf.concat([st.s[1:], s[None]], 0), st.s),
        tf.where(keep, tf.concat([st.y[1:], y[None]], 0), st.y),
        tf.where(keep, tf.concat([rho[1:], [1.0 / sy]], 0), rho),
    )
    return new


def _free(x: tf.Tensor, grad: tf.Tensor) -> tf.Tensor:
    """1 for pixels free to move, 0 for those held at a bound by their gradient."""
    held = ((x <= 0.0) & (grad > 0.0)) | ((x >= 1.0) & (grad < 0.0))
    return tf.cast(~held, x.dtype)


def _two_loop(q: tf.Tensor, s: tf.Tensor, y: tf.Tensor, rho: tf.Tensor) -> tf.Tensor:
    """The inverse-Hessian approximation times ``q`` (forgotten pairs have ``rho`` 0)."""
    alphas = [None] * MEMORY
    for j in reversed(range(MEMORY)):
        alphas[j] = rho[j] * _dot(s[j], q)
        q = q - alphas[j] * y[j]
    newest = rho[MEMORY - 1] > 0
    gamma = tf.where(newest, _dot(s[-1], y[-1]) / (_dot(y[-1], y[-1]) + 1e-30), 0.0)
    r = tf.where(newest, gamma, _first_scale(q)) * q
    for j in range(MEMORY):
        r = r + s[j] * (alphas[j] - rho[j] * _dot(y[j], r))
    return r


def _first_scale(grad: tf.Tensor) -> tf.Tensor:
    return FIRST_STEP / (tf.reduce_max(tf.abs(grad)) + 1e-30)


def _line_search(loss_and_grad: LossAndGrad, st: State, d: tf.Tensor):
    """Backtracking along the projected path; returns the last point tried."""

    def trial(t):
        x = tf.clip_by_value(st.x + t * d, 0.0, 1.0)
        return (x, *loss_and_grad(x))

    def unmet(k, t, x, loss, grad):
        return (k < MAX_HALVINGS) & ~(loss <= st.loss + C1 * _dot(st.grad, x - st.x))

    def halve(k, t, x, loss, grad):
        return (k + 1, t / 2, *trial(t / 2))

    first = (tf.constant(0), tf.constant(1.0), *trial(tf.constant(1.0)))
    _, _, x, loss, grad = tf.while_loop(unmet, halve, first)
    return x, loss, grad


def _dot(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(a * b)
