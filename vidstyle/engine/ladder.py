"""The plan of a run in words: the levels and tiles of :mod:`vidstyle.engine.planner` as the
progress and a batch plan show them, without TensorFlow.

The level math (:mod:`vidstyle.engine.levels`) and the planner's names are also reachable from
here, as they were before the planner had a module of its own.
"""

from __future__ import annotations

from vidstyle.engine import memory
from vidstyle.engine.levels import Level, levels  # noqa: F401 - their old home
from vidstyle.engine.planner import (  # noqa: F401 - their old home
    STATE_IMAGES,
    VGG19,
    Planner,
    Work,
    choose_tile,
    describe,
    level_work,
    reach,
    vgg19_kinds,
)


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
