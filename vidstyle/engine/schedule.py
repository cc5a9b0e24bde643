"""How an image's step budget is spent: coarse-to-fine levels and the early stop.

Coarse to fine: with ``scales = N`` the image is first optimized at the working size / 2^(N-1),
then carried to the next level, doubling the size each time, up to the exact working size. A step
at half size costs about a quarter of a full-size one, so the coarse levels cheaply settle the
large-scale arrangement of the style and the full-size level only has to sharpen it. The content,
the start image and the temporal term are resized to each level (block averaging); the style's
Gram targets are normalised by the number of positions and are reused at every level as they are.

Carrying a result up (:func:`carry`): what the coarse levels changed, ``result - start`` at the
coarse size, is upsampled (bilinear) and added to the start image at the finer size, rather than
upsampling the result itself. The detail of the start image (the photo, or a video frame's
warped previous result) is kept instead of blurred away, which the content and temporal terms
would otherwise have to pay back at full size. Gatys et al. use a coarse-to-fine procedure for
large images in "Controlling Perceptual Factors in Neural Style Transfer" (CVPR 2017).

The step split: ``steps // N`` at every level, the remainder going to the coarsest levels (one
each), so N=2 gives half the steps at half size and half at full size (1000: 500 + 500), N=3 gives
thirds (1000: 334 + 333 + 333, coarsest first). A coarse level whose shorter side would fall below
:data:`MIN_SIDE` pixels is dropped and its share goes to the others.

Automatic levels (``scales = 0``, the default): an image whose longest side is at most
:data:`AUTO_ABOVE` (1024 px) has one level. A larger one runs coarse to fine on its own: the first
level near :data:`AUTO_START` (512 px), each next one sqrt(2) larger, the last the working size
(2048 px: 512, 724, 1024, 1448, 2048). Why 1024: VGG19's deepest style layer (block5_conv1) has
a receptive field of 156 px, a sixth of a 1024 px image, so there single-scale optimization still
places the painting's large structures; at 2048 px it sees a thirteenth, and single-scale results
become a fine texture of small strokes over the photo (Gatys et al. 2017, section 5). Starting
at 512 px places them where the network sees them, and each finer level adds detail. The steps
are shared so that the fine levels stay cheap: each level gets 1/sqrt(2) of the steps of the
level below it (2048 px, 1000 steps: 356, 251, 178, 126, 89). A level has twice the pixels of the
one below, so its cost is sqrt(2) times, and the whole ladder costs about a quarter of the same
steps at the working size. The factor-2 ladder of ``scales = N`` moves by 2 per level; sqrt(2)
keeps every level's start close to its own optimum (a change upsampled by 2 blurs more).

Early stop (``tol = R > 0``): after every report (each chunk of 10 Adam steps, each L-BFGS
iteration) the loss is compared with the one a window earlier (50 Adam steps, 10 L-BFGS
iterations); the level ends when ``|L_before - L_now| <= R * L_now`` (a relative change of at
most R; a loss stuck at 0 counts as converged too). It applies at every level, each level with its
own window (the loss of a new level is measured at another size), so the first check of a level
comes a full window into it.
"""

from __future__ import annotations

import tensorflow as tf

from vidstyle.engine.levels import (  # noqa: F401 - the levels live there, without TensorFlow
    AUTO_ABOVE,
    AUTO_START,
    MIN_SIDE,
    Level,
    auto_factors,
    levels,
    split_steps,
    split_weighted,
)


def offset(on_step, done: int):
    """``on_step`` with ``done`` added to the step count (a level's steps after the earlier's)."""
    if on_step is None:
        return None
    return lambda step, loss: on_step(done + step, loss)


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


class Plateau:
    """The early stop: true once the loss stops falling by more than ``tol`` over ``window``.

    Args:
        tol: the relative change below which to stop; 0 never stops.
        window: how many reports back the loss is compared with.
    """

    def __init__(self, tol: float, window: int):
        self.tol = tol
        self.window = window
        self.history: list[float] = []

    def update(self, loss: float) -> bool:
        """Record the latest loss.

        Args:
            loss: the loss at this report.

        Returns:
            True when ``|L[-1 - window] - loss| <= tol * |loss|``: the level should end.
        """
        self.history.append(loss)
        if self.tol <= 0 or len(self.history) <= self.window:
            return False
        before = self.history[-1 - self.window]
        return abs(before - loss) <= self.tol * abs(loss)
