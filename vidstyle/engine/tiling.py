"""Tiled optimization: the exact loss and gradient of an image too large for memory, computed tile
by tile, so that only one tile's network activations are alive at a time.

The style loss is not local: each layer's Gram matrix sums over the whole image. But its
gradient with respect to a feature vector F_p at position p is local once the Gram matrix is
known: for L_style = 1/|L| sum_l mean_cd (G^l - A^l)^2 with G^l = 1/N_l sum_p F_p F_p^T,

    dL/dF_p = 1/|L| * 2 / C_l^2 * 2 / N_l * (G^l - A^l) F_p.

So every evaluation makes two passes over the tiles:

1. without a gradient, each tile's Gram contribution sum_p F_p F_p^T over its own (interior)
   positions is added into the global sum; the content loss's squared differences likewise. This
   gives the global Gram matrices and the loss value.
2. each tile's gradient, from the surrogate loss 2/(|L| C_l^2 N_l) sum_cd (G - A)_cd
   sum_{p in tile} (F_p F_p^T)_cd with (G - A) held fixed, plus the content loss restricted to the
   tile's positions: the same gradient at every position as the whole image's loss gives. The
   crop's gradient is added into the whole image's at the crop's place.

Each tile is computed from a crop padded by a halo wide enough for the deepest layer's receptive
field (:func:`halo`), so its interior features are exactly those of the whole image. Tile and
crop edges lie on multiples of the network's total stride (16 with four poolings), so the
poolings see the same 2x2 windows. At the image's own border the crop stops at the border (it is
not padded), and the convolutions' zero padding falls where it falls for the whole image: the
tiled gradient then equals the untiled one to float32 round-off. (Reflect-padding the image
border instead would change the result near the border; nothing here does that.)

The total-variation and temporal terms are pixel-local and cheap: they are computed on the whole
image directly. ``precision`` bfloat16 works (it keeps float32's range and needs no gradient
scaling); float16 is refused up front (:meth:`vidstyle.engine.planner.Planner.check`), since the
tiles' gradients do not get the untiled path's per-image float16 scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from vidstyle.engine import lbfgs, losses, numerics, stepping
from vidstyle.engine.compiled import Shapeless
from vidstyle.engine.planner import reach


@dataclass(frozen=True)
class Tile:
    """One tile: its own rows and columns [y0, y1) x [x0, x1) and its crop (with the halo)."""

    y0: int
    y1: int
    x0: int
    x1: int
    cy0: int
    cy1: int
    cx0: int
    cx1: int


def stride(extractor) -> int:
    """The network's total stride: 2 per pooling before the deepest layer."""
    return reach([op.kind for op in extractor.ops])[0]


def halo(extractor) -> int:
    """Pixels a crop needs around its tile so that the tile's features are exact
    (:func:`vidstyle.engine.planner.reach`)."""
    return reach([op.kind for op in extractor.ops])[1]


def plan_tiles(height: int, width: int, tile: int, margin: int) -> list[Tile]:
    """The tiles of an image: a grid of ``tile`` x ``tile`` (the last row and column smaller),
    each with its crop, ``margin`` wider on every side and clipped to the image."""
    out = []
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            out.append(Tile(y0, y1, x0, x1, max(0, y0 - margin), min(height, y1 + margin),
                            max(0, x0 - margin), min(width, x1 + margin)))  # fmt: skip
    return out


def extractor_channels(extractor, name: str) -> int:
    """The channels of a named conv layer of the extractor."""
    return next(int(op.kernel.shape[-1]) for op in extractor.ops if op.name == name)


class Tiled:
    """The loss and gradient of whole images computed tile by tile (see the module's text).

    Args:
        extractor: the engine's :class:`vidstyle.engine.model.FeatureExtractor`.
        n_content: how many of its layers are content layers (they come first).
        tile: the tile side in pixels, a multiple of :func:`stride`.
    """

    def __init__(self, extractor, n_content: int, tile: int):
        self.extractor = extractor
        self.n_content = n_content
        self.tile = tile
        self.margin = halo(extractor)
        pools = {}
        count = 0
        for op in extractor.ops:
            count += op.kind == "pool"
            pools[op.name] = count
        self.strides = [2 ** pools[name] for name in extractor.layers]
        self.channels = [extractor_channels(extractor, name) for name in extractor.layers]
        # traced once for every crop shape (an edge crop is smaller than an inner one)
        self._gather = Shapeless(self._interior_features)
        self._sums = Shapeless(self._tile_sums)
        self._grad = Shapeless(self._tile_gradient)

    def tiles(self, height: int, width: int) -> list[Tile]:
        return plan_tiles(height, width, self.tile, self.margin)

    def content_targets(self, content: tf.Tensor) -> list[list[tf.Tensor]]:
        """Per tile, the content image's features at the content layers, interior only."""
        return [self._gather(self._crop(content, t), self._offsets(t))[: self.n_content]
                for t in self.tiles(*content.shape[1:3])]  # fmt: skip

    def grams(self, images: tf.Tensor) -> list[tf.Tensor]:
        """The Gram matrices [B, C, C] of images at the style layers, summed tile by tile
        (pass 1 alone): a print-size style image's targets."""
        height, width = images.shape[1:3]
        positions = self._positions(height, width)
        sums = None
        for tile in self.tiles(height, width):
            inner = self._gather(self._crop(images, tile), self._offsets(tile))
            grams = [tf.einsum("bijc,bijd->bcd", f, f) for f in inner[self.n_content :]]
            sums = grams if sums is None else [a + b for a, b in zip(sums, grams)]
        return [s / positions[self.n_content + i][0] for i, s in enumerate(sums)]

    def value_and_grad(self, x, params, targets, style_grams, warped, mask):
        """Per-image losses [B], the gradient of their sum, and the finite flags [B, 5]: what
        the untiled ``Engine._loss_and_grad`` returns, to round-off.

        Args:
            x: the images [B, H, W, 3] in 0..1.
            params: the engine's weights tensor (content, style, tv, temporal first).
            targets: :meth:`content_targets` of the content at this size.
            style_grams, warped, mask: as for the untiled loss.
        """
        tiles = self.tiles(*x.shape[1:3])
        positions = self._positions(x.shape[1], x.shape[2])
        terms, diffs = self._pass_one(x, targets, style_grams)
        grad = tf.zeros_like(x)
        for tile, tile_targets in zip(tiles, targets):  # pass 2: each crop's gradient
            crop = self._grad(self._crop(x, tile), self._offsets(tile), tile_targets, diffs,
                              params, positions)  # fmt: skip
            grad += tf.pad(crop, [[0, 0], [tile.cy0, x.shape[1] - tile.cy1],
                                  [tile.cx0, x.shape[2] - tile.cx1], [0, 0]])  # fmt: skip
        with tf.GradientTape() as tape:  # the pixel-local terms, on the whole image
            tape.watch(x)
            terms["tv"] = losses.total_variation(x)
            terms["temporal"] = losses.temporal_loss(x, warped, mask)
            direct = tf.reduce_sum(params[2] * terms["tv"] + params[3] * terms["temporal"])
        grad += tape.gradient(direct, x)
        loss = (params[0] * terms["content"] + params[1] * terms["style"]
                + params[2] * terms["tv"] + params[3] * terms["temporal"])  # fmt: skip
        return loss, grad, numerics.finite_flags(terms, grad)

    def terms(self, x, targets, style_grams, warped, mask) -> dict[str, tf.Tensor]:
        """The unweighted loss terms [B] of whole images, measured tile by tile (pass 1 alone,
        no gradient): what the untiled ``Compiled.loss_terms`` gives, to round-off.

        Args:
            x: the images [B, H, W, 3] in 0..1.
            targets: :meth:`content_targets` of the content at this size.
            style_grams, warped, mask: as for the untiled loss.
        """
        terms, _ = self._pass_one(x, targets, style_grams)
        terms["tv"] = losses.total_variation(x)
        terms["temporal"] = losses.temporal_loss(x, warped, mask)
        return terms

    def _pass_one(self, x, targets, style_grams) -> tuple[dict[str, tf.Tensor], list]:
        """Pass 1 over the tiles: the content and style terms [B], and each style layer's
        G - A (the whole image's Gram matrix less its target) for pass 2."""
        n = self.n_content
        positions = self._positions(x.shape[1], x.shape[2])
        sums, content = None, 0.0
        for tile, tile_targets in zip(self.tiles(*x.shape[1:3]), targets):
            grams, squares = self._sums(self._crop(x, tile), self._offsets(tile), tile_targets,
                                        positions)  # fmt: skip
            sums = grams if sums is None else [a + b for a, b in zip(sums, grams)]
            content += squares
        diffs = [s / positions[n + i][0] - a
                 for i, (s, a) in enumerate(zip(sums, style_grams))]  # fmt: skip
        terms = {"content": content / n,
                 "style": tf.add_n([tf.reduce_mean(tf.square(d), axis=[1, 2]) for d in diffs])
                 / len(diffs)}  # fmt: skip
        return terms, diffs

    # ----------------------------------------------------------------------------- per tile

    def _crop(self, images: tf.Tensor, tile: Tile) -> tf.Tensor:
        return images[:, tile.cy0 : tile.cy1, tile.cx0 : tile.cx1, :]

    def _offsets(self, tile: Tile) -> tf.Tensor:
        """The tile's interior within its crop, in pixels: [top, bottom, left, right]. At the
        image's edge, (edge - crop start) // stride is the crop's whole feature map there."""
        return tf.constant([tile.y0 - tile.cy0, tile.y1 - tile.cy0,
                            tile.x0 - tile.cx0, tile.x1 - tile.cx0], tf.int32)  # fmt: skip

    def _interior(self, features: list[tf.Tensor], offsets: tf.Tensor) -> list[tf.Tensor]:
        """Each layer's features at the tile's own positions (its stride divides the offsets)."""
        return [f[:, offsets[0] // s : offsets[1] // s, offsets[2] // s : offsets[3] // s, :]
                for f, s in zip(features, self.strides)]  # fmt: skip

    def _interior_features(self, crop, offsets) -> list[tf.Tensor]:
        return self._interior(self.extractor(crop), offsets)

    def _tile_sums(self, crop, offsets, targets, positions):
        """Pass 1 for one crop: the interior Gram sums sum_p F_p F_p^T [B, C, C] per style
        layer, and the content term's share [B]: sum over the tile of (F - P)^2 / (N_l C_l)."""
        inner = self._interior(self.extractor(crop), offsets)
        grams = [tf.einsum("bijc,bijd->bcd", f, f) for f in inner[self.n_content :]]
        return grams, self._content_share(inner[: self.n_content], targets, positions)

    def _content_share(self, features, targets, positions) -> tf.Tensor:
        return tf.add_n([tf.reduce_sum(tf.square(f - p), axis=[1, 2, 3]) / positions[i]
                         for i, (f, p) in enumerate(zip(features, targets))])  # fmt: skip

    def _tile_gradient(self, crop, offsets, targets, diffs, params, positions):
        """Pass 2 for one crop: the gradient of the surrogate loss with (G - A) held fixed:
        content share + sum_l 2 / (C_l^2 N_l) sum_cd (G - A)_cd sum_{p in tile} (F_p F_p^T)_cd."""
        n = self.n_content
        with tf.GradientTape() as tape:
            tape.watch(crop)
            inner = self._interior(self.extractor(crop), offsets)
            content = self._content_share(inner[:n], targets, positions)
            style = tf.add_n([
                2.0 * tf.reduce_sum(d * tf.einsum("bijc,bijd->bcd", f, f), axis=[1, 2])
                / (float(self.channels[n + i] ** 2) * positions[n + i][0])
                for i, (f, d) in enumerate(zip(inner[n:], diffs))
            ])  # fmt: skip
            loss = params[0] * content / n + params[1] * style / len(diffs)
            total = tf.reduce_sum(loss)
        return tape.gradient(total, crop)

    def _positions(self, height: int, width: int) -> tf.Tensor:
        """Per layer [N_l] for style layers and [N_l C_l] for content layers (N_l positions of
        the whole image, C_l channels), as the MSE losses divide by them: [L, 1]."""
        channels = self.channels
        return tf.constant([[float((height // s) * (width // s))
                             * (channels[i] if i < self.n_content else 1)]
                            for i, s in enumerate(self.strides)], tf.float32)  # fmt: skip


def solve(tiled: Tiled, x: tf.Tensor, problem, steps: int, method, on_step=None, stop=None):
    """``steps`` Adam steps or L-BFGS iterations (the method's optimizer, with its settings and
    early stop) on the tiled loss; the host drives the tiles, one evaluation per step.

    Args:
        tiled: the tiling of this level's size.
        x: the start [B, H, W, 3]; problem: the level's :class:`Problem`, whose content targets
            are :meth:`Tiled.content_targets`.
        steps: the level's steps.
        method: the :class:`vidstyle.config.MethodConfig` (``optimizer``, ``tol``).
        on_step, stop: as for :func:`vidstyle.engine.stepping.run_chunks`.

    Returns:
        The image and the finite flags, as the untiled solvers do.
    """

    def value_and_grad(images):
        return tiled.value_and_grad(images, *problem.args())

    window = stepping.window_of(method.optimizer)
    if method.optimizer == "lbfgs":
        state = lbfgs.start(x, *value_and_grad(x))

        def advance(n):
            nonlocal state
            state = lbfgs.iterate(value_and_grad, state, n)  # eager: the loop runs on the host
            return state.loss

        stepping.run_chunks(advance, steps, method.tol, window, on_step, stop)
        return state.x, state.bad
    adam = _Adam(x, problem.params)

    def advance_adam(n):
        return adam.steps(value_and_grad, int(n))

    stepping.run_chunks(advance_adam, steps, method.tol, window, on_step, stop)
    return adam.x, adam.bad


class _Adam:
    """Adam's state and Keras's update rule (as ``Engine._run_steps``), stepped from the host."""

    def __init__(self, x: tf.Tensor, params: tf.Tensor):
        self.x, self.m, self.v, self.t = x, tf.zeros_like(x), tf.zeros_like(x), 0.0
        self.bad = numerics.no_flags(x.shape[0])
        self.lr, self.beta_1, self.beta_2, self.epsilon = (params[i] for i in range(4, 8))

    def steps(self, value_and_grad, n: int) -> tf.Tensor:
        loss = None
        for _ in range(n):
            loss, grad, finite = value_and_grad(self.x)
            self.bad = numerics.first_bad(self.bad, finite)
            self.t += 1.0
            self.m = self.m + (grad - self.m) * (1.0 - self.beta_1)
            self.v = self.v + (tf.square(grad) - self.v) * (1.0 - self.beta_2)
            alpha = (self.lr * tf.sqrt(1.0 - tf.pow(self.beta_2, self.t))
                     / (1.0 - tf.pow(self.beta_1, self.t)))  # fmt: skip
            self.x = tf.clip_by_value(self.x - alpha * self.m / (tf.sqrt(self.v) + self.epsilon),
                                      0.0, 1.0)  # fmt: skip
        return loss
