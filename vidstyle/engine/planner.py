"""The one answer to "will it fit, and with which levels and tiles": :class:`Planner`.

For a method and a memory budget the planner gives an image's coarse-to-fine levels
(:mod:`vidstyle.engine.levels`), each level's tiling (:mod:`vidstyle.engine.tiling` explains the
tiles) and the memory each needs (the estimates of :mod:`vidstyle.engine.memory`); it refuses a
size that would not fit even tiled, and words the error for a device that ran out of memory. It
needs no TensorFlow, so a batch plan can show the same levels and tiles the engine will run.

A level is tiled when its untiled estimate is over the budget, or its pixels over cuDNN's 32-bit
limit (:data:`vidstyle.engine.memory.MAX_PIXELS`, whatever the budget), and it is optimized
alone (a batch is never tiled): the tile is the largest side, a multiple of the network's
stride, whose crop (the tile and a halo wide enough for the deepest layer's receptive field) fits
the budget beside the whole image's optimizer state and is itself under the 32-bit limit. A
batch above that limit is refused; :meth:`Planner.batch_size` gives the largest that fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from vidstyle.engine import memory
from vidstyle.engine.levels import Level, levels
from vidstyle.errors import TooLargeError

# VGG19's layers in order: a conv is its name, a pooling is None
VGG19 = [
    name
    for block, convs in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
    for name in [*(f"block{block}_conv{i}" for i in range(1, convs + 1)), None]
][:-1]
MIN_TILE = 64  # the smallest tile side tried, in pixels (a multiple of the stride)
STATE_IMAGES = {"adam": 8, "lbfgs": 8 + 2 * 10}  # float32 RGB copies of the whole image kept


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
    state = STATE_IMAGES[optimizer] * 12 * height * width  # float32 RGB copies
    tile = (max(height, width) // unit + 1) * unit
    while tile >= MIN_TILE:
        crop = min(height, tile + 2 * margin), min(width, tile + 2 * margin)
        need = state + memory.needed_bytes(*crop, "adam", 1, precision)
        if not memory.over_int32(*crop) and (budget is None or need <= budget):
            return tile
        tile = (tile * 3 // 4) // unit * unit
    return None


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


class Planner:
    """Whether an image fits a memory budget, and with which levels and tiles.

    Args:
        method: the :class:`vidstyle.config.MethodConfig` (optimizer, precision, steps, scales).
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


def describe(height: int, width: int, method, budget: int | None,
             steps: int | None = None) -> list[Work]:  # fmt: skip
    """The levels of a run of the given working size, each with its tiling and memory
    (:meth:`Planner.plan` for VGG19 with ``budget``; a batch plan's view).

    Args:
        height, width: the working size.
        method: the :class:`vidstyle.config.MethodConfig`.
        budget: the memory budget in bytes (None: unknown, nothing tiled).
        steps: the steps of the whole run; ``method.steps`` when None.
    """
    return Planner(method, budget).plan(height, width, steps)
