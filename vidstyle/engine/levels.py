"""The coarse-to-fine levels of an image and how its steps are shared among them, without
TensorFlow (what they mean: :mod:`vidstyle.engine.schedule`). The planner
(:mod:`vidstyle.engine.planner`) adds each level's tiles and memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_SIDE = 32  # four 2x2 poolings before block5 leave at least 2 x 2 positions
AUTO_ABOVE = 1024  # longest side above which ``scales = 0`` runs coarse to fine (see schedule)
AUTO_START = 512  # the automatic ladder's first level is near this longest side


@dataclass(frozen=True)
class Level:
    """One level of the coarse-to-fine schedule.

    Attributes:
        height, width: the image size at this level, in pixels.
        steps: the steps (Adam) or iterations (L-BFGS) spent at this level.
    """

    height: int
    width: int
    steps: int


def split_steps(steps: int, parts: int) -> list[int]:
    """``steps`` shared out over ``parts`` levels, coarsest first.

    Args:
        steps: the whole budget, 0 or more.
        parts: the number of levels, 1 or more.

    Returns:
        ``parts`` counts summing to ``steps``: ``steps // parts`` each, plus one for each of the
        first ``steps % parts`` (the coarsest) levels.
    """
    share, extra = divmod(steps, parts)
    return [share + (1 if i < extra else 0) for i in range(parts)]


def levels(height: int, width: int, steps: int, scales: int) -> list[Level]:
    """The coarse-to-fine levels of an image, coarsest first; the last is the working size.

    Args:
        height, width: the working size.
        steps: the step budget of the whole image.
        scales: the number of levels wanted (``MethodConfig.scales``), each twice the size of the
            one before; 0 chooses them (:func:`auto_factors`, sqrt(2) apart).

    Returns:
        One :class:`Level` per level kept; coarse levels smaller than :data:`MIN_SIDE` on their
        shorter side, and coarse levels given no steps, are left out. The working size is always
        the last level, even with no steps.
    """
    if scales == 0:
        factors = auto_factors(height, width)
        shares = split_weighted(steps, factors)  # 1/sqrt(2) of the steps at each finer level
    else:
        factors = [2**k for k in range(scales - 1, 0, -1)]
        factors = [f for f in factors if min(height, width) / f >= MIN_SIDE] + [1]
        shares = split_steps(steps, len(factors))
    plan = [
        Level(max(1, round(height / f)), max(1, round(width / f)), n)
        for f, n in zip(factors, shares)
    ]
    return [level for level in plan[:-1] if level.steps > 0] + plan[-1:]


def auto_factors(height: int, width: int) -> list[float]:
    """The automatic ladder: how much smaller than the working size each level is, coarsest
    first, ending with 1.

    Returns:
        ``[1]`` up to :data:`AUTO_ABOVE` px; above, ``sqrt(2)^k, ..., sqrt(2), 1`` with k the
        number of sqrt(2) steps from :data:`AUTO_START` px to the longest side (rounded), less
        any level whose shorter side would fall below :data:`MIN_SIDE`.
    """
    longest = max(height, width)
    if longest <= AUTO_ABOVE:
        return [1.0]
    count = round(2 * math.log2(longest / AUTO_START))
    factors = [math.sqrt(2) ** k for k in range(count, 0, -1)]
    return [f for f in factors if min(height, width) / f >= MIN_SIDE] + [1.0]


def split_weighted(steps: int, weights: list[float]) -> list[int]:
    """``steps`` shared out in proportion to ``weights`` (largest remainders get the rest).

    Args:
        steps: the whole budget, 0 or more.
        weights: one positive weight per level.

    Returns:
        Counts summing to ``steps``.
    """
    exact = [steps * w / sum(weights) for w in weights]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])
    for i in by_remainder[: steps - sum(counts)]:
        counts[i] += 1
    return counts
