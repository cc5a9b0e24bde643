"""The losses of neural style transfer, as pure functions of tensors. Each returns one value per
image of the batch (shape [B]) so that several images can be optimized together.

References: Gatys, Ecker, Bethge, "A Neural Algorithm of Artistic Style" (2015) for the content and
style losses; Mahendran and Vedaldi (2015) for the total-variation prior as used in the TensorFlow
tutorial; Ruder, Dosovitskiy, Brox, "Artistic style transfer for videos" (2016) for the temporal
loss.
"""

from __future__ import annotations

import tensorflow as tf


def gram(features: tf.Tensor) -> tf.Tensor:
    """Gram matrix of each feature map, normalised by the number of positions.

    G[b, c, d] = sum_{i,j} F[b, i, j, c] F[b, i, j, d] / (H W)

    Args:
        features: [B, H, W, C].

    Returns:
        [B, C, C].
    """
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], features.dtype)
    return tf.einsum("bijc,bijd->bcd", features, features) / positions


def content_loss(features: list[tf.Tensor], targets: list[tf.Tensor]) -> tf.Tensor:
    """Mean squared error between features and the content image's, averaged over the layers.

    L_content = 1/|L| sum_l mean_{i,j,c} (F^l - P^l)^2   (Gatys et al. 2015, eq. 1, as an MSE)
    """
    terms = [tf.reduce_mean(tf.square(f - p), axis=[1, 2, 3]) for f, p in zip(features, targets)]
    return tf.add_n(terms) / len(terms)


def style_loss(features: list[tf.Tensor], target_grams: list[tf.Tensor]) -> tf.Tensor:
    """Mean squared error between Gram matrices and the style image's, averaged over the layers.

    L_style = 1/|L| sum_l mean_{c,d} (G^l - A^l)^2   (Gatys et al. 2015, eqs. 3-5, as an MSE)

    Args:
        features: [B, H, W, C] per layer.
        target_grams: [1, C, C] per layer (broadcast over the batch).
    """
    terms = [tf.reduce_mean(tf.square(gram(f) - a), axis=[1, 2])
             for f, a in zip(features, target_grams)]  # fmt: skip
    return tf.add_n(terms) / len(terms)


def total_variation(images: tf.Tensor) -> tf.Tensor:
    """Anisotropic total variation: the sum of absolute differences of neighbouring pixels.

    TV(x) = sum_{i,j,c} |x[i+1,j,c] - x[i,j,c]| + |x[i,j+1,c] - x[i,j,c]|   (``tf.image``'s)

    It penalises high-frequency noise in the optimized image (images in 0..1).
    """
    return tf.image.total_variation(images)


def temporal_loss(images: tf.Tensor, warped: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean over reliable pixels of the squared difference to the warped previous output.

    L_temporal = sum_p m_p mean_c (255 x_pc - 255 w_pc)^2 / sum_p m_p   (Ruder et al. 2016, eq. 7)

    Measured on the 0..255 scale so that it is the same quantity as the reported temporal error.

    Args:
        images: [B, H, W, 3] in 0..1.
        warped: the previous stylized frame warped into this frame, [B, H, W, 3] in 0..1.
        mask: [B, H, W] with 1 where the flow is reliable, 0 at occlusions and motion boundaries.
    """
    squared = tf.reduce_mean(tf.square(255.0 * (images - warped)), axis=-1)
    reliable = tf.reduce_sum(mask, axis=[1, 2])
    return tf.reduce_sum(mask * squared, axis=[1, 2]) / tf.maximum(reliable, 1.0)
