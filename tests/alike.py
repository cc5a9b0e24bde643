"""The checks that an image optimized in a batch got the result it would get alone.

Two checks, one exact and one bounded:

- :func:`assert_partner_free`: the same image in two batches of the same size, beside two very
  different partners, must come out identical to the bit. Both batches run the same kernels
  (oneDNN picks them by shape and CPU, not by value) and a batch's images never mix, so any
  difference is shared state: one gradient scale, one L-BFGS first step, one step size, one
  line search or one L-BFGS history for the whole batch.
- :func:`assert_alike`: the batch's image against the image optimized alone. A batch may run other
  convolution kernels than a single image, so the two can differ by float round-off, which an
  optimization of tens of steps can grow to a few grey levels at some pixels (seen on AMD EPYC: a
  mean of 0.5, 2.1% of the values 4 or more levels off and a maximum of 11 after 20 float16 Adam
  steps). Where this CPU's kernels give a batch's images the features and gradients they get
  alone, to the bit (:func:`kernels_agree`; so on the Intel CI machine), the two must be equal;
  elsewhere the mean, the share of far values and the largest difference are bounded.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

MEAN_LEVELS = 1.0  # the largest mean difference, in grey levels
FAR_LEVELS = 4  # a pixel this many levels off or more counts as far
FAR_SHARE = 0.05  # the largest share of far pixel values
MAX_LEVELS = 16  # the largest difference of any value (11 seen from round-off alone)


def kernels_agree(extractor, images: np.ndarray) -> bool:
    """Whether ``extractor`` gives each of ``images`` (BxHxWx3, 0..255) in the batch the same
    features and input gradient, to the bit, as alone."""

    def features_and_grad(x):
        x = tf.constant(x / 255.0, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            features = extractor(x)
            total = tf.add_n([tf.reduce_sum(tf.square(f)) for f in features])
        return [f.numpy() for f in features] + [tape.gradient(total, x).numpy()]

    batched = features_and_grad(np.asarray(images, np.float32))
    for i in range(len(images)):
        alone = features_and_grad(np.asarray(images[i : i + 1], np.float32))
        if any(not np.array_equal(b[i : i + 1], a) for b, a in zip(batched, alone)):
            return False
    return True


def assert_alike(batched: np.ndarray, alone: np.ndarray, exact: bool = False) -> None:
    """Assert that ``batched`` (uint8) is ``alone`` up to the round-off of other kernels
    (``exact``: equal, where :func:`kernels_agree`)."""
    diff = np.abs(batched.astype(int) - alone.astype(int))
    if exact:
        assert diff.max() == 0, f"{(diff > 0).mean():.1%} of the values differ, up to {diff.max()}"
    assert diff.mean() <= MEAN_LEVELS, f"mean difference {diff.mean():.2f} grey levels"
    far = float((diff >= FAR_LEVELS).mean())
    assert far <= FAR_SHARE, f"{far:.1%} of the values are {FAR_LEVELS}+ grey levels off"
    assert diff.max() <= MAX_LEVELS, f"a value {diff.max()} grey levels off"


def assert_partner_free(stylize, content: np.ndarray, start: np.ndarray, partners) -> None:
    """Assert that ``content`` from ``start`` comes out the same to the bit beside each partner.

    Args:
        stylize: ``stylize(contents, starts)`` for a batch (BxHxWx3 each), returning uint8.
        content, start: the image watched (HxWx3).
        partners: (content, start) pairs, each the second image of a batch of two.
    """
    results = [stylize(np.stack([content, c]), np.stack([start, s]))[0] for c, s in partners]
    for i, result in enumerate(results[1:], 1):
        diff = np.abs(result.astype(int) - results[0].astype(int))
        assert diff.max() == 0, (
            f"partner {i} changed {(diff > 0).mean():.1%} of the values, up to {diff.max()}: "
            "state shared by the batch"
        )
