"""The clip's painter: a compact encoder-decoder that renders a stylized frame from a content
frame in one forward pass, after training on the clip's stylized keyframes
(:mod:`vidstyle.engine.training`).

The architecture follows the few-shot patch-based generators of Texler et al., "Interactive Video
Stylization Using Few-Shot Patch-Based Training" (SIGGRAPH 2020) and the feed-forward networks
of Johnson, Alahi and Fei-Fei, "Perceptual Losses for Real-Time Style Transfer" (ECCV 2016): a
U-Net (two 2x downsamplings with skip connections) with residual blocks at a quarter of the size
and no normalization layers (each residual block starts as the identity, its last convolution
at zero, as in De and Smith, "Batch Normalization Biases Residual Blocks Towards the Identity
Function in Deep Networks", NeurIPS 2020; without it, Adam at 1e-3 drove the sigmoid output to
a flat frame within 200 steps), each convolution over a mirrored border (no zeros), so that a
network trained on small patches renders whole frames of any size the same way. Each
downsampling is a convolution followed by a 2x2 average (a blurred subsampling, Zhang, "Making
Convolutional Networks Shift-Invariant Again", ICML 2019), each upsampling bilinear, so that
content moving by a pixel moves the paint with it instead of switching the phase of a strided
grid (frames are rendered on their own: that is all that holds them together).

Precision: the convolutions run in the method's precision (Keras mixed precision:
``mixed_bfloat16`` on AMX CPUs, ``mixed_float16`` on older tensor-core GPUs), the weights and the
output layer in float32.

A trained painter is saved as one ``.npz`` file: its weights and a JSON header (the format, the
architecture, the style's pixel digest and the working size it was trained at), written
atomically by the caller.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vidstyle.errors import InputError

FORMAT = "vidstyle-painter-1"
MULTIPLE = 4  # frames are padded to a multiple of this (two 2x downsamplings)


@dataclass(frozen=True)
class Architecture:
    """The painter's shape.

    Attributes:
        width: channels at full size (twice as many at a half, four times at a quarter).
        blocks: residual blocks at a quarter of the size.
    """

    width: int = 32
    blocks: int = 5


ARCHITECTURE = Architecture()  # the one vidstyle trains (benchmarks/network.py chose it)


def policy_for(precision: str) -> str:
    """The Keras dtype policy of the painter's layers for a resolved precision."""
    return {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}.get(precision, "float32")


def build(architecture: Architecture, precision: str = "float32", seed: int = 0) -> keras.Model:
    """A painter with fresh weights (drawn from ``seed``).

    Args:
        architecture: its widths and depth.
        precision: the resolved precision (``float32``, ``bfloat16`` or ``float16``).
        seed: the seed of the initial weights.

    Returns:
        A Keras model from RGB in 0..1, [B, H, W, 3] with H and W multiples of 4, to RGB in 0..1.
    """
    keras.utils.set_random_seed(seed)
    policy, width = policy_for(precision), architecture.width

    def conv(x, channels, name, activate=True, dtype=policy, init="glorot_uniform"):
        x = Mirror(dtype=policy)(x)  # no zero border for the network to find its place by
        x = keras.layers.Conv2D(
            channels, 3, padding="valid", dtype=dtype, name=name, kernel_initializer=init
        )(x)
        return keras.layers.LeakyReLU(0.2, dtype=policy)(x) if activate else x

    def down(x, channels, name):
        return keras.layers.AveragePooling2D(2, dtype=policy)(conv(x, channels, name))

    def up(x, skip, channels, name):
        x = Upsample(dtype=policy)(x)
        x = keras.layers.Concatenate(dtype=policy)([conv(x, channels, name + "_up"), skip])
        return conv(x, channels, name)

    inputs = keras.Input((None, None, 3), name="content")
    x = keras.layers.Rescaling(2.0, -1.0, dtype=policy)(inputs)
    full = conv(conv(x, width, "full_1"), width, "full_2")
    half = conv(down(full, 2 * width, "half_1"), 2 * width, "half_2")
    x = down(half, 4 * width, "quarter")
    for block in range(architecture.blocks):
        inner = conv(x, 4 * width, f"res{block}_1")
        inner = conv(inner, 4 * width, f"res{block}_2", activate=False, init="zeros")
        x = keras.layers.Add(dtype=policy)([x, inner])
    x = up(up(x, half, 2 * width, "dec_half"), full, width, "dec_full")
    out = conv(x, 3, "rgb", activate=False, dtype="float32")
    out = keras.layers.Activation("sigmoid", dtype="float32")(out)
    return keras.Model(inputs, out, name="painter")


class Mirror(keras.layers.Layer):
    """A border of one pixel mirrored around the picture (the edge pixel repeated, as
    ``SYMMETRIC``: any size), so that a 3x3 convolution keeps the size without zeros at the
    border: a network trained on patches then sees nothing that tells it where a patch ends,
    and paints the middle of a frame as it painted the patches (zero padding let it paint near
    the patches' borders only)."""

    def call(self, x):
        return tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")


class Upsample(keras.layers.Layer):
    """Bilinear 2x upsampling of any size (Keras's ``UpSampling2D`` wants a known size)."""

    def call(self, x):
        size = 2 * tf.shape(x)[1:3]
        return tf.cast(tf.image.resize(x, size, method="bilinear"), x.dtype)


def pad(images: tf.Tensor) -> tf.Tensor:
    """Images padded to sides that are multiples of 4, the last row and column repeated (any
    size, a side of one pixel too)."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    rows = tf.minimum(tf.range(height + (-height) % MULTIPLE), height - 1)
    cols = tf.minimum(tf.range(width + (-width) % MULTIPLE), width - 1)
    return tf.gather(tf.gather(images, rows, axis=1), cols, axis=2)


class Painter:
    """A painter network with what it was trained for.

    Args:
        model: the Keras model (see :func:`build`).
        architecture: its shape.
        meta: what it was trained for: ``style`` (the style's pixel digest), ``size`` (the
            working size's longest side), ``precision``, and anything else worth keeping.
    """

    def __init__(self, model: keras.Model, architecture: Architecture, meta: dict | None = None):
        self.model = model
        self.architecture = architecture
        self.meta = dict(meta or {})
        self._forward = tf.function(
            lambda x: self.model(pad(x), training=False)[:, : tf.shape(x)[1], : tf.shape(x)[2]],
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
        )

    @classmethod
    def fresh(cls, architecture: Architecture, precision: str, seed: int = 0,
              meta: dict | None = None) -> Painter:  # fmt: skip
        """A painter with fresh weights (see :func:`build`)."""
        meta = dict(meta or {}) | {"precision": precision}
        return cls(build(architecture, precision, seed), architecture, meta)

    def render(self, frames: np.ndarray) -> np.ndarray:
        """Stylized frames: uint8 BxHxWx3 (or HxWx3) in, uint8 of the same shape out."""
        batch = frames if frames.ndim == 4 else frames[None]
        out = self._forward(tf.constant(np.asarray(batch, np.float32) / 255.0)).numpy()
        out = np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
        return out if frames.ndim == 4 else out[0]

    def weights(self) -> list[np.ndarray]:
        """The model's weights, in its order."""
        return [np.asarray(w) for w in self.model.get_weights()]

    def save(self, path: Path) -> None:
        """Write the painter to ``path`` (an ``.npz``; the caller makes it atomic)."""
        header = {"format": FORMAT, "architecture": asdict(self.architecture), "meta": self.meta}
        arrays = {f"w{i:03d}": w for i, w in enumerate(self.weights())}
        with open(path, "wb") as file:
            np.savez(file, header=np.array(json.dumps(header)), **arrays)

    @classmethod
    def load(cls, path: Path, precision: str | None = None) -> Painter:
        """A painter saved by :meth:`save`, in ``precision`` (its own when None).

        Raises:
            InputError: the file is missing, is not a painter, or does not fit its header.
        """
        header, arrays = read_file(path)
        architecture = Architecture(**header["architecture"])
        precision = precision or header["meta"].get("precision", "float32")
        model = build(architecture, precision)
        try:
            model.set_weights(arrays)
        except ValueError as error:
            raise InputError(path, f"not a vidstyle painter: {str(error)[:120]}") from error
        return cls(model, architecture, header["meta"] | {"precision": precision})


def read_file(path: Path) -> tuple[dict, list[np.ndarray]]:
    """The header and weights of a saved painter.

    Raises:
        InputError: the file is missing, unreadable or not a painter.
    """
    if not Path(path).is_file():
        raise InputError(path, "no such network file")
    try:
        with np.load(path, allow_pickle=False) as saved:
            header = json.loads(str(saved["header"]))
            names = sorted(n for n in saved.files if n.startswith("w"))
            arrays = [saved[n] for n in names]
    except (OSError, EOFError, ValueError, KeyError, json.JSONDecodeError) as error:
        raise InputError(path, "not a vidstyle network file (cannot read it)") from error
    if header.get("format") != FORMAT or "architecture" not in header:
        raise InputError(path, f"not a vidstyle network file (format {header.get('format')!r})")
    header.setdefault("meta", {})
    return header, arrays
