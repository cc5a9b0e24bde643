"""What an optimization is given, apart from the method: a style's Gram targets, a video frame's
temporal term, one level's loss inputs, the uint8 <-> float32 image conversions and resizing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class StyleTargets:
    """Gram matrices of one style image at the style layers, each [1, C, C]."""

    grams: tuple[tf.Tensor, ...]


@dataclass(frozen=True)
class Problem:
    """What the loss of one level needs besides the image, in the compiled functions' order."""

    params: tf.Tensor
    content_targets: list[tf.Tensor]
    style_grams: list[tf.Tensor]
    warped: tf.Tensor
    mask: tf.Tensor

    def args(self) -> tuple:
        return self.params, self.content_targets, self.style_grams, self.warped, self.mask


@dataclass(frozen=True)
class Temporal:
    """The temporal term of a video frame.

    Attributes:
        warped: previous stylized frame warped into this one, HxWx3 float32 in 0..1.
        mask: HxW float32, 1 where the optical flow is reliable.
        weight: the term's weight.
    """

    warped: np.ndarray
    mask: np.ndarray
    weight: float


def temporal_tensors(x: tf.Tensor, temporal: Temporal | None):
    """The temporal term as tensors for images ``x``: (warped [1, H, W, 3], mask [1, H, W],
    weight); zeros and weight 0 without one."""
    if temporal is None:
        return tf.zeros_like(x), tf.zeros(tf.shape(x)[:3]), 0.0
    warped = tf.constant(temporal.warped[None], tf.float32)
    mask = tf.constant(temporal.mask[None], tf.float32)
    return warped, mask, float(temporal.weight)


def compute_dtype(precision: str) -> str:
    """The convolutions' dtype: the method's (resolved) precision, float32 for anything else."""
    return precision if precision in ("bfloat16", "float16") else "float32"


def to_tensor(images: np.ndarray) -> tf.Tensor:
    """uint8 or float 0..255 images (HxWx3 or BxHxWx3) as a float32 batch in 0..1."""
    batch = images if images.ndim == 4 else images[None]
    return tf.constant(np.asarray(batch, np.float32) / 255.0)


def to_uint8(images: tf.Tensor) -> np.ndarray:
    """A float batch in 0..1 as uint8 BxHxWx3."""
    return np.clip(np.rint(images.numpy() * 255.0), 0, 255).astype(np.uint8)


def resized(array: np.ndarray, size: list[int], method: str) -> np.ndarray:
    """An HxW, HxWxC or BxHxWxC array at another height and width, in its own dtype (uint8 is
    rounded)."""
    batch = array.reshape(array.shape[:2] + (1,)) if array.ndim == 2 else array
    out = tf.image.resize(np.asarray(batch, np.float32), size, method=method).numpy()
    if array.dtype == np.uint8:
        out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.reshape(out.shape[:2]) if array.ndim == 2 else out.astype(array.dtype)


def enlarged(image: np.ndarray, min_side: int, init=None, temporal: Temporal | None = None):
    """An image (with its start and temporal term) enlarged so that each side is at least
    ``min_side``; bilinear for pictures, nearest for the mask.

    Returns:
        (image, init, temporal), each None when given None.
    """
    size = [max(n, min_side) for n in image.shape[-3:-1]]
    if temporal is not None:
        warped, mask = temporal.warped, temporal.mask
        temporal = Temporal(resized(warped, size, "bilinear"), resized(mask, size, "nearest"),
                            temporal.weight)  # fmt: skip
    big = [None if a is None else resized(a, size, "bilinear") for a in (image, init)]
    return big[0], big[1], temporal
