"""Timing side by side: wall and CPU clocks, repeats interleaved across the things compared (so
that a change in the machine's load hits them alike), their medians, and seconds per step.

Only ratios within one run are comparable: other processes on a shared machine change the
seconds from one run to the next. The CPU seconds (this process's, all threads) are disturbed
less than the wall seconds and are shown beside them where a script can.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

from vidstyle.engine.request import Request


class Clock:
    """Wall and CPU seconds of a ``with`` block (``wall`` and ``cpu`` once it ended)."""

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        self.wall = self.cpu = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def interleaved(tasks: Mapping[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Each task's figures over ``repeats`` rounds, every round calling every task in turn.

    Args:
        tasks: name -> a call that measures once and returns its figure.
        repeats: rounds.

    Returns:
        name -> its figures, one per round.
    """
    runs: dict[str, list[float]] = {name: [] for name in tasks}
    for _ in range(repeats):
        for name, task in tasks.items():
            runs[name].append(task())
    return runs


def medians(runs: Mapping[str, list[float]]) -> dict[str, float]:
    """The median of each name's figures."""
    return {name: statistics.median(values) for name, values in runs.items()}


def per_step(engine, request: Request, steps: int) -> tuple[float, float]:
    """Seconds per step of ``engine.stylize`` and its per-call setup: ``stylize(steps=N)`` minus
    ``stylize(steps=0)`` (the content targets and host copies), over N.

    Args:
        engine: the engine.
        request: what it optimizes (its ``steps`` is replaced).
        steps: N, a multiple of the engine's chunk of steps.

    Returns:
        (seconds per step, never below 0; seconds of the setup).
    """
    with Clock() as setup:
        engine.stylize(request.replace(steps=0))
    with Clock() as whole:
        engine.stylize(request.replace(steps=steps))
    return max(0.0, whole.wall - setup.wall) / steps, setup.wall
