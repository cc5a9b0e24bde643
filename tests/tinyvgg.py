"""A tiny random-weight stand-in for VGG19, for fast unit tests only.

It has VGG19's layer names and pooling pattern but 4 to 8 channels per layer, so the engine runs
in milliseconds. Tests that check what the method achieves use the real weights instead.
"""

from __future__ import annotations

import keras

from vidstyle.config import MethodConfig
from vidstyle.engine.inputs import compute_dtype
from vidstyle.engine.model import FeatureExtractor
from vidstyle.engine.optimize import Engine

BLOCKS = ((1, 2, 4), (2, 2, 6), (3, 4, 8), (4, 4, 8), (5, 2, 8))  # block, convs, channels


def tiny_vgg(seed: int = 0) -> keras.Model:
    """A random-weight network named like VGG19, up to block5_conv2."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = inputs
    for block, convs, channels in BLOCKS:
        for conv in range(1, convs + 1):
            x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu",
                                    name=f"block{block}_conv{conv}")(x)  # fmt: skip
        if block < 5:
            x = keras.layers.MaxPooling2D(2, 2, name=f"block{block}_pool")(x)
    return keras.Model(inputs, x, name="tiny_vgg")


def tiny_engine(method: MethodConfig | None = None) -> Engine:
    """An engine over :func:`tiny_vgg` (random weights: for mechanics, not for quality), in the
    convolution dtype the method's ``precision`` gives, as the real engine's."""
    method = method or MethodConfig()
    dtype = compute_dtype(method.precision)
    return Engine(method, FeatureExtractor(tiny_vgg(), method.layers, dtype))
