"""The one answer to "will it fit, with which levels and tiles": :class:`Planner`, without
TensorFlow (a batch plan and the progress show the same levels and tiles the engine will run).

Levels (:func:`levels`): with ``scales = N`` the image is first optimized at the working size /
2^(N-1), then carried to the next level (:func:`vidstyle.engine.inputs.carry`), doubling the size
each time, up to the exact working size. A step at half size costs about a quarter of a full-size
one, so the coarse levels cheaply settle the large-scale arrangement of the style and the
full-size level only has to sharpen it. The steps are shared ``steps // N`` at every level, the
remainder going to the coarsest levels (one each): N=2 gives 1000 steps as 500 + 500, N=3 as
334 + 333 + 333. A coarse level whose shorter side would fall below :data:`MIN_SIDE` pixels is
dropped and its share goes to the others. Gatys et al. use a coarse-to-fine procedure for large
images in "Controlling Perceptual Factors in Neural Style Transfer" (CVPR 2017).

Automatic levels (``scales = 0``, the default): an image whose longest side is at most
:data:`AUTO_ABOVE` (1024 px) has one level. A larger one runs coarse to fine on its own: the first
level near :data:`AUTO_START` (512 px), each next one sqrt(2) larger, the last the working size
(2048 px: 512, 724, 1024, 1448, 2048). Why 1024: VGG19's deepest style layer (block5_conv1) has
a receptive field of 156 px, a sixth of a 1024 px image, so there single-scale optimization still
places the painting's large structures; at 2048 px it sees a thirteenth, and single-scale results
become a fine texture of small strokes over the photo (Gatys et al. 2017, section 5). Each level
gets 1/sqrt(2) of the steps of the level below it (2048 px, 1000 steps: 356, 251, 178, 126, 89):
a level has twice the pixels of the one below, so the whole ladder costs about a quarter of the
same steps at the working size; sqrt(2) keeps every level's start close to its own optimum.

Tiles and memory (:class:`Planner`): each level's tiling (:mod:`vidstyle.engine.tiling` explains
the tiles) and the memory it needs (the estimates of :mod:`vidstyle.engine.memory`); a size that
would not fit even tiled is refused, and the error for a device that ran out of memory is worded
here. A level is tiled when its untiled estimate is over the budget, or its pixels over cuDNN's
32-bit limit (:data:`vidstyle.engine.memory.MAX_PIXELS`, whatever the budget), and it is
optimized alone (a batch is never tiled): the tile is the largest side, a multiple of the
network's stride, whose crop (the tile and a halo wide enough for the deepest layer's receptive
field) fits the budget beside the whole image's optimizer state and is itself under the 32-bit
limit. A batch above that limit is refused; :meth:`Planner.batch_size` gives the largest that
fits. The plan in words, for progress and a batch plan: :func:`plan_line`, :func:`level_line`,
:func:`summary`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from vidstyle.engine import memory
from vidstyle.errors import TooLargeError
from vidstyle.weights import VGG19_CONVS

MIN_SIDE = 32  # four 2x2 poolings before block5 leave at least 2 x 2 positions
AUTO_ABOVE = 1024  # longest side above which ``scales = 0`` runs coarse to fine
AUTO_START = 512  # the automatic ladder's first level is near this longest side
MIN_TILE = 64  # the smallest tile side tried, in pixels (a multiple of the stride)
STATE_IMAGES = {"adam": 8, "lbfgs": 8 + 2 * 10}  # float32 RGB copies of the whole image kept


def _with_poolings(convs) -> list[str | None]:
    """Layer names in order, with None for the 2x2 pooling before each block but the first."""
    out: list[str | None] = []
    for name, _, _ in convs:
        out += [None, name] if out and name.endswith("_conv1") else [name]
    return out


VGG19 = _with_poolings(VGG19_CONVS)  # VGG19's layers in order: a conv's name, a pooling None


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
        scales: the number of levels wanted (the method's ``scales``), each twice the size of the
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
    the whole image's own state, fits ``budget`` (None: any) and is under the 32-bit limit
    (:func:`memory.over_int32`); None when even :data:`MIN_TILE` does not."""
    tile = (max(height, width) // unit + 1) * unit
    while tile >= MIN_TILE:
        crop, need = _tiled(height, width, tile, margin, optimizer, precision)
        if not memory.over_int32(*crop) and (budget is None or need <= budget):
            return tile
        tile = (tile * 3 // 4) // unit * unit
    return None


def _tiled(height: int, width: int, tile: int, margin: int, optimizer: str,
           precision: str) -> tuple[tuple[int, int], int]:  # fmt: skip
    """(crop size, bytes needed) of a tiled level: one crop (the tile and ``margin`` on each
    side, within the image) through the network, beside the whole image's optimizer state
    (:data:`STATE_IMAGES` float32 RGB copies)."""
    crop = min(height, tile + 2 * margin), min(width, tile + 2 * margin)
    state = STATE_IMAGES[optimizer] * 12 * height * width
    return crop, state + memory.needed_bytes(*crop, "adam", 1, precision)


def level_work(level: Level, method, tile: int | None, margin: int, batch: int = 1) -> Work:
    """A level as a :class:`Work`: its tiles (none when ``tile`` is None) and the bytes it needs.

    Args:
        level: the level.
        method: the engine's :class:`vidstyle.engine.request.Method` (optimizer and precision).
        tile: the tile side, or None untiled.
        margin: the crops' halo in pixels (:func:`reach`).
        batch: images optimized together (untiled only).
    """
    h, w, opt = level.height, level.width, method.optimizer
    if tile is None:
        need = memory.needed_bytes(h, w, opt, batch, method.precision)
        return Work(h, w, level.steps, None, 1, need)
    _, need = _tiled(h, w, tile, margin, opt, method.precision)
    return Work(h, w, level.steps, tile, math.ceil(h / tile) * math.ceil(w / tile), need)


class Planner:
    """Whether an image fits a memory budget, and with which levels and tiles.

    Args:
        method: the engine's :class:`vidstyle.engine.request.Method` (optimizer, precision,
            steps, scales).
        budget: bytes an optimization may use; None when unknown (nothing refused or tiled).
        kinds: the network's op kinds in order (``conv``/``pool``), for the tiles' stride and
            halo; VGG19's up to the deepest of ``method.layers`` when None.

    Attributes:
        budget: as given; may be changed later (the next question uses it).
        stride, margin: the network's total stride and the crops' halo (:func:`reach`).
    """

    def __init__(self, method, budget: int | None, kinds: list[str] | None = None):
        self.method = method
        self.budget = budget
        self.stride, self.margin = reach(vgg19_kinds(method.layers) if kinds is None else kinds)

    def needed(self, height: int, width: int, batch: int = 1) -> int:
        """Bytes an untiled optimization of ``batch`` images of height x width needs."""
        return memory.needed_bytes(height, width, self.method.optimizer, batch,
                                   self.method.precision)  # fmt: skip

    def tile(self, height: int, width: int) -> int | None:
        """The tile side for one image of this size: None when it fits untiled (under the
        budget, or the budget unknown, and under the 32-bit limit), or when not even
        :data:`MIN_TILE` fits."""
        fits = self.budget is None or self.needed(height, width) <= self.budget
        if fits and not memory.over_int32(height, width):
            return None
        return choose_tile(height, width, self.method.optimizer, self.budget, self.stride,
                           self.margin, self.method.precision)  # fmt: skip

    def check(self, path: Path | None, height: int, width: int, batch: int = 1) -> None:
        """Refuse up front an image (or batch) that would not fit, not even tiled (one image),
        and a batch above the 32-bit limit (:data:`memory.MAX_PIXELS`).

        Raises:
            TooLargeError: naming ``path``, the memory needed and available, and the largest
                ``--max-size`` that fits untiled.
        """
        m = self.method
        if batch > 1 and memory.over_int32(height, width, batch):
            reason = (f"{batch} images of {width}x{height} are over {memory.MAX_PIXELS} pixels "
                      "at once, more than cuDNN's 32-bit sizes take")  # fmt: skip
            raise TooLargeError(path, reason, hint="use a smaller {batch}")
        try:
            memory.check(path, height, width, m.optimizer, self.budget, batch, m.precision)
        except TooLargeError as error:
            if batch > 1 or self.tile(height, width) is None:  # not even the smallest tile
                raise
            cause = error
        else:
            if not memory.over_int32(height, width):
                return
            if self.tile(height, width) is None:  # no tile's crop under the 32-bit limit
                reason = f"{width}x{height} cannot be tiled under cuDNN's 32-bit sizes"
                raise TooLargeError(path, reason, hint="use a smaller {max_size}")
            cause = None
        if m.precision == "float16":  # tiles' float16 gradients are not scaled: refused
            reason = f"{width}x{height} needs tiling, which float16 cannot do"
            raise TooLargeError(path, reason, hint="use {precision} bfloat16 or float32 "
                                "(or a smaller {max_size})") from cause  # fmt: skip

    def batch_size(self, height: int, width: int, count: int) -> int:
        """The most of ``count`` images of height x width that fit as one batch (untiled,
        under the budget and the 32-bit limit); 1 when not even two do.

        Args:
            height, width: the images' working size.
            count: the images waiting.
        """
        size = count
        while size > 1:
            fits = self.budget is None or self.needed(height, width, size) <= self.budget
            if fits and not memory.over_int32(height, width, size):
                return size
            size -= 1
        return 1

    def plan(self, height: int, width: int, steps: int | None = None,
             batch: int = 1) -> list[Work]:  # fmt: skip
        """The levels of a run at this working size, each with its tiling and memory.

        Args:
            height, width: the working size.
            steps: the steps of the whole run; ``method.steps`` when None.
            batch: images optimized together (a batch is never tiled).

        Returns:
            One :class:`Work` per level, coarsest first. A level that would not fit even tiled
            has ``needed`` above ``budget`` (:meth:`check` refuses it).
        """
        steps = self.method.steps if steps is None else steps
        out = []
        for level in levels(height, width, steps, self.method.scales):
            tile = self.tile(level.height, level.width) if batch == 1 else None
            out.append(level_work(level, self.method, tile, self.margin, batch))
        return out

    def out_of_memory(self, height: int, width: int, batch: int, gpu: bool) -> TooLargeError:
        """The error for a device that ran out of memory at this size: a smaller one to try."""
        m = self.method
        return memory.out_of_memory(height, width, batch, m.optimizer, self.budget, m.precision,
                                    gpu)  # fmt: skip


# ------------------------------------------------------------------------- the plan in words


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
    parts.append(f"~{memory.amount(max(w.needed for w in works))}")
    return " · ".join(parts)


def level_line(index: int, works: list[Work]) -> str:
    """The level under way, short: ``level 3/5 1024x768, 9 tiles`` (no tiles untiled)."""
    work = works[index]
    tiles = f", {work.tiles} tiles" if work.tile is not None else ""
    return f"level {index + 1}/{len(works)} {work.width}x{work.height}{tiles}"
