"""The coarse-to-fine levels and the tiles a run will use, and the memory each needs, computed
without TensorFlow (so that a batch plan can show them). What they mean is explained in
:mod:`vidstyle.engine.schedule` (levels) and :mod:`vidstyle.engine.tiling` (tiles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vidstyle.engine import memory

MIN_SIDE = 32  # four 2x2 poolings before block5 leave at least 2 x 2 positions
AUTO_ABOVE = 1024  # longest side above which ``scales = 0`` runs coarse to fine (see above)
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


# VGG19's layers in order: a conv is its name, a pooling is None
VGG19 = [
    name
    for block, convs in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
    for name in [*(f"block{block}_conv{i}" for i in range(1, convs + 1)), None]
][:-1]
MIN_TILE = 64  # the smallest tile side tried, in pixels (a multiple of the stride)
STATE_IMAGES = {"adam": 8, "lbfgs": 8 + 2 * 10}  # float32 RGB copies of the whole image kept


def reach(kinds: list[str]) -> tuple[int, int]:
    """(total stride, halo) of a forward pass given as op kinds ``conv``/``pool`` in order: the
    halo is the deepest layer's receptive-field reach (a 3x3 convolution reaches one position
    further at its stride, a 2x2 pooling one more on one side), rounded up to the stride."""
    far, step = 0, 1
    for kind in kinds:
        far += step
        step *= 2 if kind == "pool" else 1
    return step, math.ceil(far / step) * step


def vgg19_kinds(layers: tuple[str, ...]) -> list[str]:
    """The op kinds of VGG19 up to the deepest of ``layers``."""
    deepest = max(VGG19.index(name) for name in layers)
    return ["conv" if name else "pool" for name in VGG19[: deepest + 1]]


def choose_tile(height: int, width: int, optimizer: str, budget: int | None, unit: int,
                margin: int, precision: str = "float32") -> int | None:  # fmt: skip
    """The largest tile side (a multiple of ``unit``) whose crop (``margin`` on each side), with
    the whole image's own state, fits ``budget``; None when even :data:`MIN_TILE` does not."""
    state = STATE_IMAGES[optimizer] * 12 * height * width  # float32 RGB copies
    tile = (max(height, width) // unit + 1) * unit
    while tile >= MIN_TILE:
        crop = min(height, tile + 2 * margin), min(width, tile + 2 * margin)
        if budget is None or state + memory.needed_bytes(*crop, "adam", 1, precision) <= budget:
            return tile
        tile = (tile * 3 // 4) // unit * unit
    return None


@dataclass(frozen=True)
class Work:
    """How one level of a run is done.

    Attributes:
        height, width, steps: the level.
        tile: the tile side when the level is tiled, else None.
        tiles: how many tiles (1 untiled).
        needed: the bytes the level needs (untiled: its estimate; tiled: one crop and the
            whole image's state).
    """

    height: int
    width: int
    steps: int
    tile: int | None
    tiles: int
    needed: int


def describe(height: int, width: int, method, budget: int | None,
             steps: int | None = None) -> list[Work]:  # fmt: skip
    """The levels of a run of the given working size, each with its tiling and memory.

    Args:
        height, width: the working size.
        method: the :class:`vidstyle.config.MethodConfig`.
        budget: the memory budget in bytes (None: unknown, nothing tiled).
        steps: the steps of the whole run; ``method.steps`` when None.

    Returns:
        One :class:`Work` per level, coarsest first. A level that would not fit even tiled has
        ``needed`` above ``budget`` (the run refuses it).
    """
    unit, margin = reach(vgg19_kinds(method.layers))
    steps = method.steps if steps is None else steps
    out = []
    for level in levels(height, width, steps, method.scales):
        h, w = level.height, level.width
        tile = None
        if budget is not None and memory.needed_bytes(h, w, method.optimizer, 1,
                                                      method.precision) > budget:  # fmt: skip
            tile = choose_tile(h, w, method.optimizer, budget, unit, margin, method.precision)
        out.append(level_work(level, method, tile, margin))
    return out


def level_work(level: Level, method, tile: int | None, margin: int, batch: int = 1) -> Work:
    """A level as a :class:`Work`: its tiles (none when ``tile`` is None) and the bytes it needs.

    Args:
        level: the level.
        method: the :class:`vidstyle.config.MethodConfig` (optimizer and precision).
        tile: the tile side, or None untiled.
        margin: the crops' halo in pixels (:func:`reach`).
        batch: images optimized together (untiled only).
    """
    h, w, opt = level.height, level.width, method.optimizer
    if tile is None:
        need = memory.needed_bytes(h, w, opt, batch, method.precision)
        return Work(h, w, level.steps, None, 1, need)
    crop = min(h, tile + 2 * margin), min(w, tile + 2 * margin)
    need = STATE_IMAGES[opt] * 12 * h * w + memory.needed_bytes(*crop, "adam", 1,
                                                                 method.precision)  # fmt: skip
    return Work(h, w, level.steps, tile, math.ceil(h / tile) * math.ceil(w / tile), need)


def summary(works: list[Work]) -> str:
    """One line: ``512x384 ... 2048x1536 (tiled 3x4 of 576 px): 9.0 GiB at most``."""
    parts = []
    for work in works:
        text = f"{work.width}x{work.height}"
        if work.tile is not None:
            text += f" ({work.tiles} tiles of {work.tile} px)"
        parts.append(text)
    peak = max(work.needed for work in works) / memory.GIB
    return f"{', '.join(parts)}: {peak:.1f} GiB at most"


def plan_line(works: list[Work]) -> str:
    """The plan of one image for progress, short: ``levels 512,724,1024,1448,2048 px · 4 tiles
    at 1448, 9 at 2048 · ~5.5 GiB`` (longest sides; the tiles only where a level is tiled; the
    memory the largest level needs)."""
    sides = ",".join(str(max(w.height, w.width)) for w in works)
    parts = [f"{'levels' if len(works) > 1 else 'level'} {sides} px"]
    tiled = [w for w in works if w.tile is not None]
    if tiled:
        first, *rest = tiled
        counts = [f"{first.tiles} tiles at {max(first.height, first.width)}"]
        counts += [f"{w.tiles} at {max(w.height, w.width)}" for w in rest]
        parts.append(", ".join(counts))
    parts.append(f"~{_amount(max(w.needed for w in works))}")
    return " · ".join(parts)


def _amount(size: int) -> str:
    """Bytes as ``5.5 GiB``, or ``40 MiB`` under 1 GiB."""
    if size >= memory.GIB:
        return f"{size / memory.GIB:.1f} GiB"
    return f"{max(1, round(size / 2**20))} MiB"


def level_line(index: int, works: list[Work]) -> str:
    """The level under way, short: ``level 3/5 1024x768, 9 tiles`` (no tiles untiled)."""
    work = works[index]
    tiles = f", {work.tiles} tiles" if work.tile is not None else ""
    return f"level {index + 1}/{len(works)} {work.width}x{work.height}{tiles}"
