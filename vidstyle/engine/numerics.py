"""Numbers that must stay in range: the gradient scale of a float16 network, and the check that an
optimization never hands back a non-finite image.

Gradient scaling (``--precision float16``, which ``auto`` chooses on 7.x GPUs only): float16's
largest value is 65504, far below the gradients that flow back through VGG19 to the image (about 1e5
at the input), and its smallest normal value (6e-5) is above many of the feature gradients. Before
the feature gradients flow back through the float16 network they are multiplied by a power of two
that brings the largest of each image's to :data:`FP16_GRAD_MAX`; the image's gradient is divided by
it again. A power of two changes only the exponent, so the scaling itself loses nothing. Each image
of a batch gets its own scale, so its gradient is the one it would get alone. When an image's
feature gradients are all zero (for instance ``style_weight`` 0 with the content as the start: the
content term's gradient is zero there) or not finite, its scale is 1: the old ``64 / 0`` gave an
infinite scale and ``0 * inf`` a NaN image. Dynamic loss scaling (Micikevicius et al., "Mixed
Precision Training", ICLR 2018), computed from the gradient itself, so no step is ever retried.

Finite checks: every evaluation computes, per image, whether each loss term (content, style, total
variation, temporal) and the image's gradient are finite. The optimization loops keep the flags of
the first evaluation where one was not, on the device, and the engine reads them once at the end
of each level (:func:`raise_if_not_finite`): no extra host round trip per step.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from vidstyle.errors import NumericError

FP16_GRAD_MAX = 64.0  # the largest feature gradient once scaled, with a float16 network
MAX_EXPONENT = 100.0  # the scale stays within 2^-100 .. 2^100 (finite in float32)
FLAGS = ("content", "style", "tv", "temporal", "gradient")  # what finite_flags checks, in order


def gradient_scale(feature_grads: list[tf.Tensor]) -> tf.Tensor:
    """Per image, the power of two that brings its largest feature gradient to FP16_GRAD_MAX.

    Args:
        feature_grads: the loss's gradients with respect to each feature map, [B, h, w, c] each.

    Returns:
        [B, 1, 1, 1] float32: ``2^floor(log2(FP16_GRAD_MAX / largest))``, or 1 for an image whose
        largest is 0 or not finite.
    """
    per_map = [tf.reduce_max(tf.abs(g), axis=[1, 2, 3]) for g in feature_grads]
    largest = tf.reduce_max(tf.stack(per_map), axis=0)
    usable = tf.math.is_finite(largest) & (largest > 0.0)
    exponent = tf.math.floor(tf.math.log(FP16_GRAD_MAX / tf.where(usable, largest, 1.0))
                             / tf.math.log(2.0))  # fmt: skip
    exponent = tf.clip_by_value(exponent, -MAX_EXPONENT, MAX_EXPONENT)
    scale = tf.where(usable, tf.pow(2.0, exponent), 1.0)
    return tf.reshape(scale, [-1, 1, 1, 1])


def finite_flags(terms: dict[str, tf.Tensor], grad: tf.Tensor) -> tf.Tensor:
    """Per image, whether each of :data:`FLAGS` is finite: [B, len(FLAGS)] bool."""
    checks = [tf.math.is_finite(terms[name]) for name in FLAGS[:-1]]
    checks.append(tf.reduce_all(tf.math.is_finite(grad), axis=[1, 2, 3]))
    return tf.stack(checks, axis=1)


def no_flags(batch: int) -> tf.Tensor:
    """Nothing went wrong yet: [batch, len(FLAGS)] False."""
    return tf.zeros([batch, len(FLAGS)], tf.bool)


def first_bad(bad: tf.Tensor, finite: tf.Tensor) -> tf.Tensor:
    """``bad`` with each image's flags set from ``finite`` the first time one of them is false."""
    first = ~tf.reduce_any(bad, axis=1) & ~tf.reduce_all(finite, axis=1)
    return tf.where(first[:, None], ~finite, bad)


def raise_if_not_finite(bad: tf.Tensor, precision: str) -> None:
    """Read the flags (one small host read) and refuse a non-finite optimization.

    Args:
        bad: [B, len(FLAGS)] from the optimization loop.
        precision: the method's precision, for the hint.

    Raises:
        NumericError: naming the loss term (or the gradient) that went non-finite first.
    """
    flags = np.asarray(bad)
    if not flags.any():
        return
    image, column = next(zip(*np.nonzero(flags)))
    name = FLAGS[column]
    what = "the image's gradient" if name == "gradient" else f"the {name} loss"
    where = f" of image {image + 1} of the batch" if flags.shape[0] > 1 else ""
    reason = f"{what}{where} became infinite or NaN during the optimization"
    hint = ("use {precision} float32" if precision != "float32"
            else "lower {content_weight}, {style_weight} or {tv_weight}")  # fmt: skip
    raise NumericError(None, reason, hint=hint)
