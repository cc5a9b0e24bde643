"""The VGG19 feature extractor, cut after the deepest layer the losses read.

The architecture and its weights come from ``keras.applications.VGG19(include_top=False)``; the
forward pass is then written with plain ``tf.nn`` ops over the same kernels so that the engine
controls precision and the convolution's gradient. The input goes through
``keras.applications.vgg19.preprocess_input`` (RGB in 0..255 to mean-centred BGR).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from vidstyle.errors import UsageError, WeightsError
from vidstyle.quantized import read_quantized_bin
from vidstyle.weights import WeightsSource


@dataclass(frozen=True)
class _Op:
    name: str
    kind: str  # "conv" or "pool"
    kernel: tf.Tensor | None = None
    bias: tf.Tensor | None = None


def keras_vgg19(source: WeightsSource | None) -> keras.Model:
    """Keras's VGG19 without its top, with the weights of ``source`` (random when None).

    Raises:
        WeightsError: when the file cannot be read or does not fit VGG19.
    """
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    if source is None:
        return vgg
    try:
        if source.kind == "bin":
            for name, (kernel, bias) in read_quantized_bin(source.path).items():
                vgg.get_layer(name).set_weights([kernel, bias])
        else:
            vgg.load_weights(str(source.path))
    except WeightsError:
        raise
    except Exception as error:  # h5py and Keras raise many kinds for a bad file
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise WeightsError(source.path, f"cannot load VGG19 weights: {first_line[:200]}") from error
    return vgg


class FeatureExtractor:
    """VGG19 features at named layers, computed only as deep as the deepest of them.

    Args:
        vgg: a Keras VGG19 (see :func:`keras_vgg19`).
        layers: the layer names to return, in the order wanted.
        compute_dtype: ``float32``, ``float16`` or ``bfloat16`` for the convolutions; features
            are returned as float32.

    Raises:
        UsageError: for a layer name VGG19 does not have.
    """

    def __init__(self, vgg: keras.Model, layers: tuple[str, ...], compute_dtype: str = "float32"):
        names = [layer.name for layer in vgg.layers]
        unknown = [name for name in layers if name not in names or "conv" not in name]
        if unknown:
            valid = ", ".join(n for n in names if "conv" in n)
            reason = f"unknown VGG19 layer {unknown[0]!r}"
            raise UsageError(None, reason, hint=f"use one of {valid}")
        self.layers = tuple(layers)
        self.compute_dtype = tf.as_dtype(compute_dtype)
        deepest = max(names.index(name) for name in layers)
        self.ops = [self._op(vgg.get_layer(name)) for name in names[1 : deepest + 1]]

    def _op(self, layer) -> _Op:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = (np.asarray(w) for w in layer.get_weights())
            return _Op(layer.name, "conv", tf.constant(kernel, self.compute_dtype),
                       tf.constant(bias, self.compute_dtype))  # fmt: skip
        return _Op(layer.name, "pool")

    @property
    def min_side(self) -> int:
        """The smallest image side the forward pass takes: each 2x2 pooling before the deepest
        layer halves the size, and that layer needs at least one position (16 for block5)."""
        return 2 ** sum(op.kind == "pool" for op in self.ops)

    @property
    def depth(self) -> int:
        """How many VGG19 layers the forward pass runs."""
        return len(self.ops)

    def __call__(self, images: tf.Tensor) -> list[tf.Tensor]:
        """Features of RGB images in 0..1, shape [B, H, W, 3], at ``self.layers`` (float32)."""
        x = keras.applications.vgg19.preprocess_input(images * 255.0)
        x = tf.cast(x, self.compute_dtype)
        found = {}
        for op in self.ops:
            if op.kind == "conv":
                x = tf.nn.relu(tf.nn.bias_add(conv3x3(x, op.kernel), op.bias))
            else:
                x = tf.nn.max_pool2d(x, 2, 2, "VALID")
            if op.name in self.layers:
                found[op.name] = tf.cast(x, tf.float32)
        return [found[name] for name in self.layers]


def conv3x3(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """Stride-1 SAME convolution (cross-correlation, as Keras and TF define it)."""
    return tf.nn.conv2d(x, kernel, 1, "SAME")
