"""What an optimization is given, apart from the method: a style's Gram targets, a video frame's
temporal term, one level's loss inputs, the uint8 <-> float32 image conversions and resizing.

Between the coarse-to-fine levels (:func:`vidstyle.engine.planner.levels`) the content, the start
image and the temporal term are resized to each level on the device (:func:`resize`, block
averaging; :func:`resize_mask`); the style's Gram targets are normalised by the number of
positions and are reused at every level as they are. A level's result is carried up
(:func:`carry`) as what the coarse levels changed, ``result - start`` at the coarse size,
upsampled (bilinear) and added to the start image at the finer size, rather than the result
itself upsampled: the detail of the start image (the photo, or a video frame's warped previous
result) is kept instead of blurred away, which the content and temporal terms would otherwise
have to pay back at full size.
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


def resize(images: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Images (BxHxWxC, float) at another size: averaging down, bilinear up, on the device.

    Shrinking averages blocks of ``k = round(current / wanted)`` pixels (``tf.nn.avg_pool2d``):
    exactly area averaging when the sizes divide, as they do for even sizes at the levels' factor
    2. Otherwise the image is first brought bilinearly to ``k * wanted`` (a row or column more or
    fewer, over the whole extent). Growing is bilinear.
    ``tf.image.resize(method="area")`` gave the same for dividing sizes but has only a CPU
    kernel: on a GPU it cost a copy to the host and back at every level.

    Args:
        images: the batch.
        height, width: the size wanted.

    Returns:
        The batch at that size (the same tensor when it already is), float32.
    """
    current = tuple(images.shape[1:3])
    if current == (height, width):
        return images
    images = tf.cast(images, tf.float32)
    block = (max(1, round(current[0] / height)), max(1, round(current[1] / width)))
    exact = (height * block[0], width * block[1])
    if current != exact:  # a row or column more or fewer, over the whole extent
        images = tf.image.resize(images, exact, method="bilinear")
    if block != (1, 1):
        images = tf.nn.avg_pool2d(images, block, block, "VALID")
    return images


def carry(start: tf.Tensor, result: tf.Tensor, result_start: tf.Tensor) -> tf.Tensor:
    """The start of a finer level: its own start image plus the coarser level's change, upsampled.

    Args:
        start: the start image at the finer size (the original start, resized).
        result: the coarser level's result.
        result_start: the original start at the coarser size (what ``result`` began as, before
            any carried change).

    Returns:
        ``clip(start + upsample(result - result_start), 0, 1)``, at the size of ``start``.
    """
    change = resize(result - result_start, start.shape[1], start.shape[2])
    return tf.clip_by_value(start + change, 0.0, 1.0)


def resize_mask(mask: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """A reliability mask (BxHxW, 0 or 1) at another size: area average, then 1 where >= 0.5.

    Args:
        mask: the mask.
        height, width: the size wanted.

    Returns:
        The mask at that size, float32 of 0 and 1 (the same tensor when it already is that size).
    """
    if tuple(mask.shape[1:3]) == (height, width):
        return mask
    averaged = resize(mask[..., None], height, width)[..., 0]
    return tf.cast(averaged >= 0.5, tf.float32)
