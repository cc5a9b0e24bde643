"""L-BFGS over the image's pixels: SciPy's L-BFGS-B with every pixel bounded to 0..1.

Gatys, Ecker, Bethge, "A Neural Algorithm of Artistic Style" (2015) and "Image Style Transfer
Using Convolutional Neural Networks" (CVPR 2016) optimize the image with L-BFGS; it typically
reaches a given loss in far fewer loss-and-gradient evaluations than Adam. The bounds keep the
image a valid picture without the clipping Adam needs.

This module only drives SciPy. The loss and its gradient come from the engine as a function of a
flat float64 array (see :meth:`vidstyle.engine.optimize.Engine.stylize`), so that the loss is
exactly the one Adam minimizes. An iteration costs about one evaluation (1.02 on average on the
real VGG19 at 96 px) plus SciPy's bookkeeping, which with the bounds takes about 0.4 to 0.8
microseconds per pixel channel on one BLAS thread (80 to 160 ms at 256 x 256).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import scipy.optimize

try:  # optional: without it SciPy's OpenBLAS keeps its own thread count
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - depends on the environment
    threadpool_limits = None

ValueAndGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]
OnIteration = Callable[[int, float], bool]

MAXCOR = 20  # correction pairs kept (SciPy's default is 10)
FTOL = 1e-12  # relative loss change that ends a run: practically off, ``tol`` decides instead
GTOL = 1e-12  # projected gradient that ends a run: practically off (the losses run to 1e8)
MAX_RESTARTS = 3  # fresh starts after a failed line search, while iterations remain


def max_evaluations(iterations: int) -> int:
    """The cap on loss-and-gradient evaluations for a budget of iterations: 1.25 x + 20.

    A line search usually succeeds with one evaluation, sometimes needs two or three; the cap
    bounds the time of a run to about 1.25 times that of its iterations.
    """
    return int(1.25 * iterations) + 20


class _Stopped(Exception):
    """Raised from SciPy's callback to end a run early."""


class _Run:
    """One SciPy run: counts iterations, remembers the last iterate and the loss there."""

    def __init__(self, value_and_grad: ValueAndGrad, on_iteration: OnIteration, done: int):
        self.value_and_grad = value_and_grad
        self.on_iteration = on_iteration
        self.iteration = done
        self.loss = float("nan")
        self.x: np.ndarray | None = None

    def fun(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.loss, grad = self.value_and_grad(x)
        return self.loss, grad

    def callback(self, xk: np.ndarray) -> None:
        # L-BFGS-B's accepted iterate is the point its line search evaluated last.
        self.iteration += 1
        self.x = np.array(xk, dtype=np.float64)
        if self.on_iteration(self.iteration, self.loss):
            raise _Stopped


def minimize(
    value_and_grad: ValueAndGrad,
    x0: np.ndarray,
    iterations: int,
    on_iteration: OnIteration,
) -> np.ndarray:
    """Minimize a loss over pixels in 0..1 with L-BFGS-B.

    A run that ends early because a line search failed (the float32 loss is noisy at its last
    digits) is restarted from where it got to with a fresh memory, at most
    :data:`MAX_RESTARTS` times, while iterations remain.

    Args:
        value_and_grad: the loss and its gradient (float64, shape of ``x0``) at a flat array.
        x0: the start, flat float64 in 0..1.
        iterations: the most iterations in all (SciPy's ``maxiter``); the evaluations are capped
            at :func:`max_evaluations` of it.
        on_iteration: called as ``on_iteration(iteration, loss)`` after every iteration, counted
            from 1; returning True ends the minimization there.

    Returns:
        The last iterate, flat float64 in 0..1 (``x0`` when ``iterations`` is 0).
    """
    x, done = np.clip(x0, 0.0, 1.0), 0
    for _ in range(MAX_RESTARTS + 1):
        if done >= iterations:
            break
        run = _Run(value_and_grad, on_iteration, done)
        try:
            result = _scipy_run(run, x, iterations - done)
        except _Stopped:
            return run.x
        x, made = result.x, run.iteration - done
        done = run.iteration
        if result.status != 2 or made == 0:  # 2: a line search failed, anything else is final
            break
    return x


def _scipy_run(run: _Run, x: np.ndarray, iterations: int) -> scipy.optimize.OptimizeResult:
    options = {
        "maxiter": iterations,
        "maxfun": max_evaluations(iterations),
        "maxcor": MAXCOR,
        "ftol": FTOL,
        "gtol": GTOL,
    }
    bounds = scipy.optimize.Bounds(np.zeros_like(x), np.ones_like(x))
    with _one_blas_thread():
        return scipy.optimize.minimize(run.fun, x, jac=True, method="L-BFGS-B", bounds=bounds,
                                       callback=run.callback, options=options)  # fmt: skip


def _one_blas_thread():
    """A context with SciPy's BLAS on one thread, when ``threadpoolctl`` is installed.

    L-BFGS-B's bookkeeping is level-1 BLAS over every pixel, which OpenBLAS spreads over threads
    that then spin beside TensorFlow's. Measured on a busy 2-core machine, per iteration: 388 ms
    with OpenBLAS's threads against 164 ms with one at 256 x 256 x 3 pixels (a synthetic loss),
    317 against 41 ms at 128 x 128 x 3 with the engine (the loss and gradient were faster too).
    TensorFlow does not use this BLAS, so the loss and gradient keep all their threads.
    """
    if threadpool_limits is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
