"""Running an optimizer in chunks of steps: progress, the stop callable and the early stop.

The optimizers (:mod:`vidstyle.engine.optimize` compiled, :mod:`vidstyle.engine.tiling` driven
from the host) each give an ``advance(n)`` that runs ``n`` steps and returns the loss, left on the
device. :func:`run_chunks` calls it :data:`STEPS_PER_CALL` steps at a time; between chunks it
calls ``stop`` and reads the loss back only when something wants it: the progress (``on_step``)
or the early stop (``tol`` above 0, :class:`vidstyle.engine.schedule.Plateau`).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from vidstyle.engine.request import OnStep, Stop
from vidstyle.engine.schedule import Plateau

STEPS_PER_CALL = 10
ADAM_WINDOW = 50  # steps over which the early stop compares the loss (5 chunks)
LBFGS_WINDOW = 10  # iterations over which the early stop compares the loss (1 chunk)


def window_of(optimizer: str) -> int:
    """The early stop's window of the optimizer (``adam`` or ``lbfgs``), in steps."""
    return LBFGS_WINDOW if optimizer == "lbfgs" else ADAM_WINDOW


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
        tol: the early stop's relative change (``MethodConfig.tol``); 0 never stops early.
        window: steps over which the early stop compares the loss.
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
