"""How a level's steps are run, and when it stops early: :func:`run_chunks`.

The optimizers (:mod:`vidstyle.engine.optimize` compiled, :mod:`vidstyle.engine.tiling` driven
from the host) each give an ``advance(n)`` that runs ``n`` steps and returns the loss, left on the
device. :func:`run_chunks` calls it :data:`STEPS_PER_CALL` steps at a time; between chunks it
calls ``stop`` and reads the loss back only when something wants it: the progress (``on_step``)
or the early stop. How many steps each level gets is the planner's
(:func:`vidstyle.engine.planner.levels`); :func:`offset` counts a level's steps after the
earlier levels'.

Early stop (``tol = R > 0``, :class:`Plateau`): after every chunk of :data:`STEPS_PER_CALL` Adam
steps or L-BFGS iterations the loss is compared with the one a window earlier
(:data:`ADAM_WINDOW` Adam steps, :data:`LBFGS_WINDOW` L-BFGS iterations); the level ends when
``|L_before - L_now| <= R * L_now`` (a relative change of at most R; a loss stuck at 0 counts as
converged too). It applies at every level, each level with its own window (the loss of a new
level is measured at another size), so the first check of a level comes a full window into it.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from vidstyle.engine.request import OnStep, Stop

STEPS_PER_CALL = 10
ADAM_WINDOW = 50  # steps over which the early stop compares the loss (5 chunks)
LBFGS_WINDOW = 10  # iterations over which the early stop compares the loss (1 chunk)


def window_of(optimizer: str) -> int:
    """The early stop's window of the optimizer (``adam`` or ``lbfgs``), in steps."""
    return LBFGS_WINDOW if optimizer == "lbfgs" else ADAM_WINDOW


def offset(on_step: OnStep | None, done: int) -> OnStep | None:
    """``on_step`` with ``done`` added to the step count (a level's steps after the earlier's)."""
    if on_step is None:
        return None
    return lambda step, loss: on_step(done + step, loss)


class Plateau:
    """The early stop: true once the loss stops falling by more than ``tol`` over ``window``.

    Args:
        tol: the relative change below which to stop; 0 never stops.
        window: how many reports back the loss is compared with.
    """

    def __init__(self, tol: float, window: int):
        self.tol = tol
        self.window = window
        self.history: list[float] = []

    def update(self, loss: float) -> bool:
        """Record the latest loss.

        Args:
            loss: the loss at this report.

        Returns:
            True when ``|L[-1 - window] - loss| <= tol * |loss|``: the level should end.
        """
        self.history.append(loss)
        if self.tol <= 0 or len(self.history) <= self.window:
            return False
        before = self.history[-1 - self.window]
        return abs(before - loss) <= self.tol * abs(loss)


def run_chunks(
    advance: Callable[[tf.Tensor], tf.Tensor],
    steps: int,
    tol: float,
    window: int,
    on_step: OnStep | None = None,
    stop: Stop | None = None,
) -> None:
    """Run ``advance(n)`` in chunks of :data:`STEPS_PER_CALL` until ``steps`` are done or the
    loss is on a plateau.

    Args:
        advance: runs n steps (n a scalar int tensor) and returns the loss (per image).
        steps: the steps to run.
        tol: the early stop's relative change (the method's ``tol``); 0 never stops early.
        window: steps over which the early stop compares the loss (:func:`window_of`).
        on_step: told ``(steps done, summed loss)`` after every chunk.
        stop: called after every chunk; raises to end the run.
    """
    plateau = Plateau(tol, window // STEPS_PER_CALL)
    done = 0
    while done < steps:
        n = min(STEPS_PER_CALL, steps - done)
        loss = advance(tf.constant(n))
        done += n
        flat = False
        if on_step is not None or plateau.tol > 0:  # otherwise no host round trip
            value = float(tf.reduce_sum(loss))
            if on_step is not None:
                on_step(done, value)
            flat = plateau.update(value)
        if stop is not None:
            stop()
        if flat:
            break
