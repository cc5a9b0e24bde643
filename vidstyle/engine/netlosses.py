"""The losses a clip's painter is trained with, on patches (see :mod:`vidstyle.engine.training`).

With ``f`` the painter, ``phi_l`` VGG19's features at layer l, patches ``c`` of keyframes with
their stylized results ``s``, crops ``x`` of the clip's other frames, and pairs ``(a, b)`` of
consecutive frames with the flow ``w`` from b to a and its reliable pixels ``M``:

- pixel (Texler et al., "Interactive Video Stylization Using Few-Shot Patch-Based Training",
  SIGGRAPH 2020): ``mean |f(c) - s|``. Alone it averages the painted texture away.
- perceptual (Johnson, Alahi, Fei-Fei, "Perceptual Losses for Real-Time Style Transfer", ECCV
  2016; Texler et al. use it too): ``1/|L| sum_l mean (phi_l(f(c)) - phi_l(s))^2 /
  mean phi_l(s)^2`` over the style layers L, each layer's distance relative to its own energy.
- texture (Gatys et al.'s Gram statistics, taken locally from the keyframe as Texler et al.
  take its patches): ``1/|L| sum_l mean (G_l(f(c)) - G_l(s))^2 / mean G_l(s)^2``, the painted
  texture of each keyframe patch wherever its strokes fall (the pixel and perceptual losses want
  them where the keyframe has them, and blur what they cannot place).
- objective: the method's own loss on the other frames (Gatys et al. 2015, as
  Johnson et al. train a feed-forward network): ``(alpha L_content(f(x), x) + beta
  L_style(f(x), A) + gamma TV(f(x)) (HW / P)) / (beta L_style(x, A))``, with the method's
  weights, the Gram targets A of the style at the working size (:mod:`vidstyle.engine.losses`),
  the total variation scaled from the crop's P pixels to the frame's HW, and divided by the
  style loss of the content itself (held constant), so that it starts near 1 whatever the style.
- temporal (Ruder, Dosovitskiy, Brox 2016, eq. 7; trained into a network as in ReCoNet, Gao
  et al., ACCV 2018): ``sum_p M_p mean_c (255 f(b)_pc - 255 warp(f(a), w)_pc)^2 / sum_p M_p /
  255``, the rendering of frame b against frame a's rendering warped into b (bilinear).

The total is ``w_pixel pixel + w_perceptual perceptual + w_temporal temporal + w_texture
log(texture) + w_objective log(objective)``: the texture and the objective enter by their
logarithms, so that each pulls in proportion to what is left of it (a term that fell tenfold
pulls as hard as at the start, instead of fading under the pixel loss, which does not fall much:
the keyframe's strokes cannot all be placed). On cockatoo at 256 px (bfloat16, AMX CPU, 500
steps of one keyframe), the logarithms with the pixel weight down from 1 to 0.2 raised the
style drop of frames that are not keyframes from 3.5x to 4.1x (6.9x against 4.4x on the
keyframe itself).
"""

from __future__ import annotations

import tensorflow as tf

from vidstyle.engine import losses

RELATIVE = ("texture", "objective")  # terms that enter the total as their logarithm
LOG_FLOOR = 1e-4


def warp(images: tf.Tensor, flow: tf.Tensor) -> tf.Tensor:
    """Images pulled along a flow, bilinearly: ``out[y, x] = images[y + dy, x + dx]`` (the
    source clamped to the picture).

    Args:
        images: [B, H, W, C].
        flow: [B, H, W, 2], ``(dx, dy)`` per pixel.
    """
    shape = tf.shape(images)
    height, width = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    grid_y, grid_x = tf.meshgrid(tf.range(height), tf.range(width), indexing="ij")
    src_x = tf.clip_by_value(grid_x[None] + flow[..., 0], 0.0, width - 1.0)
    src_y = tf.clip_by_value(grid_y[None] + flow[..., 1], 0.0, height - 1.0)
    x0, y0 = tf.floor(src_x), tf.floor(src_y)
    x1, y1 = tf.minimum(x0 + 1.0, width - 1.0), tf.minimum(y0 + 1.0, height - 1.0)
    ax, ay = (src_x - x0)[..., None], (src_y - y0)[..., None]
    batch = tf.broadcast_to(tf.range(shape[0])[:, None, None], tf.shape(src_x))

    def at(y, x):
        index = tf.stack([batch, tf.cast(y, tf.int32), tf.cast(x, tf.int32)], axis=-1)
        return tf.gather_nd(images, index)

    top = at(y0, x0) * (1.0 - ax) + at(y0, x1) * ax
    bottom = at(y1, x0) * (1.0 - ax) + at(y1, x1) * ax
    return top * (1.0 - ay) + bottom * ay


def perceptual(features: list[tf.Tensor], targets: list[tf.Tensor]) -> tf.Tensor:
    """The mean over layers of the squared feature distance relative to the target's energy."""
    terms = [tf.reduce_mean(tf.square(f - t)) / (tf.reduce_mean(tf.square(t)) + 1e-6)
             for f, t in zip(features, targets)]  # fmt: skip
    return tf.add_n(terms) / len(terms)


def texture(features: list[tf.Tensor], targets: list[tf.Tensor]) -> tf.Tensor:
    """The mean over layers of the squared Gram distance relative to the target Gram's energy."""
    terms = []
    for f, t in zip(features, targets):
        target = losses.gram(t)
        distance = tf.reduce_mean(tf.square(losses.gram(f) - target))
        terms.append(distance / (tf.reduce_mean(tf.square(target)) + 1e-6))
    return tf.add_n(terms) / len(terms)


def temporal(rendered_a: tf.Tensor, rendered_b: tf.Tensor, flow: tf.Tensor, mask: tf.Tensor):
    """The masked squared difference of b's rendering to a's warped into b (0..255 scale, / 255)."""
    squared = tf.reduce_mean(tf.square(255.0 * (rendered_b - warp(rendered_a, flow))), axis=-1)
    return tf.reduce_sum(mask * squared) / tf.maximum(tf.reduce_sum(mask), 1.0) / 255.0


class Losses:
    """The training loss of a painter (see the module's docstring for each term).

    Args:
        extractor: VGG19 features, content layers first.
        n_content: how many content layers come first.
        grams: the style's Gram targets per style layer.
        method: the method's options (content, style and TV weights).
        weights: a :class:`vidstyle.engine.training.LossWeights`.
        area: the working frame's pixels (H W), for the total variation.
    """

    def __init__(self, extractor, n_content: int, grams: list, method, weights, area: int):
        self.extractor, self.n_content, self.grams = extractor, n_content, grams
        self.alpha, self.beta = method.content_weight, method.style_weight
        self.gamma, self.area = method.tv_weight, float(area)
        self.weights = weights

    def __call__(self, model, key_content, key_styled, frames, pair_a, pair_b, flow, mask,
                 margin: int = 0, pairs: bool = True):  # fmt: skip
        """The loss terms of one batch (scalars) and their weighted ``total``; the keyframe and
        frame terms only over the patches' middle, ``margin`` pixels in from their sides (the
        painter sees the margin, the losses do not judge it); the temporal term only when the
        batch has ``pairs``."""
        w, terms = self.weights, {}

        def middle(x):
            return x[:, margin:-margin, margin:-margin] if margin else x

        if w.pixel or w.perceptual or w.texture:
            rendered, styled = middle(model(key_content, training=True)), middle(key_styled)
            terms["pixel"] = tf.reduce_mean(tf.abs(rendered - styled))
            if w.perceptual or w.texture:
                ours, theirs = self.extractor(rendered), self.extractor(styled)
                n = self.n_content
                if w.perceptual:
                    terms["perceptual"] = perceptual(ours[n:], theirs[n:])
                if w.texture:
                    terms["texture"] = texture(ours[n:], theirs[n:])
        if w.objective:
            rendered = middle(model(frames, training=True))
            terms["objective"] = self.objective(rendered, middle(frames))
        if w.temporal and pairs:
            rendered_a, rendered_b = model(pair_a, training=True), model(pair_b, training=True)
            terms["temporal"] = temporal(rendered_a, rendered_b, flow, mask)
        scale = {"pixel": w.pixel, "perceptual": w.perceptual, "texture": w.texture,
                 "objective": w.objective, "temporal": w.temporal}  # fmt: skip
        terms["total"] = tf.add_n([scale[name] * (tf.math.log(value + LOG_FLOOR)
                                                  if name in RELATIVE else value)
                                   for name, value in terms.items()])  # fmt: skip
        return terms

    def objective(self, rendered: tf.Tensor, frames: tf.Tensor) -> tf.Tensor:
        """The method's loss of the renderings of ``frames``, over the content's style loss."""
        n = self.n_content
        ours, theirs = self.extractor(rendered), self.extractor(frames)
        content = tf.reduce_mean(losses.content_loss(ours[:n], theirs[:n]))
        style = tf.reduce_mean(losses.style_loss(ours[n:], self.grams))
        pixels = tf.cast(tf.shape(frames)[1] * tf.shape(frames)[2], tf.float32)
        tv = tf.reduce_mean(losses.total_variation(rendered)) * self.area / pixels
        floor = tf.stop_gradient(tf.reduce_mean(losses.style_loss(theirs[n:], self.grams)))
        total = self.alpha * content + self.beta * style + self.gamma * tv
        return total / (self.beta * floor + 1e-6)
