"""The check that an image optimized in a batch got the result it would get alone.

A batch runs other convolution kernels than a single image (oneDNN picks them by shape and CPU), so
the two results differ by float round-off, which an optimization of tens of steps can grow to a few
grey levels at some pixels (seen on AMD EPYC: a mean of 0.5, 2.1% of the values 4 or more levels off
and a maximum of 11 after 20 float16 Adam steps). A shared problem (one gradient scale, one line
search or one step size for the whole batch) differs by tens of grey levels on average: the start
that had a zero gradient barely moves. So the check bounds the mean and the share of pixels off by
more than a few levels.
"""

from __future__ import annotations

import numpy as np

MEAN_LEVELS = 1.0  # the largest mean difference, in grey levels
FAR_LEVELS = 4  # a pixel this many levels off or more counts as far
FAR_SHARE = 0.05  # the largest share of far pixel values


def assert_alike(batched: np.ndarray, alone: np.ndarray) -> None:
    """Assert that ``batched`` (uint8) is ``alone`` up to the round-off of other kernels."""
    diff = np.abs(batched.astype(int) - alone.astype(int))
    assert diff.mean() <= MEAN_LEVELS, f"mean difference {diff.mean():.2f} grey levels"
    far = float((diff >= FAR_LEVELS).mean())
    assert far <= FAR_SHARE, f"{far:.1%} of the values are {FAR_LEVELS}+ grey levels off"
