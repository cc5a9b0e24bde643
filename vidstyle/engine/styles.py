"""The style targets of a run: one or several style images, blended, and matched to the photo's
colours when ``preserve_colors`` asks for it (:mod:`vidstyle.engine.colors`).

Blending (``style_blend``): with style images k = 1..K and weights w_k adding up to 1, the target
Gram matrix of every style layer is the weighted blend A^l = sum_k w_k A_k^l (Gatys, Ecker,
Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016, section 4 mixes
styles the same way). Because the weights add up to 1, the style loss against the blend,
mean (G - sum_k w_k A_k)^2, has the gradient 2 (G - sum_k w_k A_k) dG = sum_k w_k 2 (G - A_k) dG:
the weighted sum of the single-style losses' gradients (the losses themselves differ only by a
constant). That is why the weights must add up to 1.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from vidstyle.engine import colors
from vidstyle.engine.inputs import StyleTargets


def blend(targets: list[StyleTargets], weights: tuple[float, ...]) -> StyleTargets:
    """The weighted blend of several styles' Gram targets, layer by layer.

    Args:
        targets: one :class:`StyleTargets` per style image, same layers.
        weights: one weight per style, adding up to 1.

    Returns:
        ``sum_k weights[k] * targets[k]`` per layer (the one style itself when there is one).
    """
    if len(targets) == 1:
        return targets[0]
    layers = zip(*(t.grams for t in targets))
    return StyleTargets(tuple(tf.add_n([w * g for w, g in zip(weights, grams)])
                              for grams in layers))  # fmt: skip


def run_targets(engine, styles: list[np.ndarray], content: np.ndarray) -> StyleTargets:
    """The targets an image (or a batch of same-size images) is optimized towards.

    Each style image is prepared for the content under ``engine.method.preserve_colors``
    (``none``: as it is, and computed once per style; otherwise matched to each image, so a
    batch gets one target per image, stacked along the first axis), then the styles are blended
    with ``engine.method.style_blend`` (equal weights by default).

    Args:
        engine: an :class:`vidstyle.engine.optimize.Engine`.
        styles: the style images, HxWx3 uint8, already at the size they are used at.
        content: the working content image HxWx3 or batch BxHxWx3, uint8.

    Returns:
        Gram targets [1, C, C] per layer, or [B, C, C] when the colours are matched per image.

    Raises:
        UsageError: ``style_blend`` does not give one weight per style.
    """
    method = engine.method
    weights = method.blend_weights(len(styles))
    if method.preserve_colors == "none":
        return blend([engine.style_targets(style) for style in styles], weights)
    images = content if content.ndim == 4 else content[None]
    per_image = [
        blend([engine.style_targets(colors.prepare_style(style, image, method.preserve_colors),
                                    cache=False) for style in styles], weights)
        for image in images
    ]  # fmt: skip
    if len(per_image) == 1:
        return per_image[0]
    return StyleTargets(tuple(tf.concat(layer, 0) for layer in zip(*(t.grams for t in per_image))))
