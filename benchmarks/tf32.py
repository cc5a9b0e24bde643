"""What TF32 would do to ``--precision float32``, measured on a CPU by emulating its rounding.

On Ampere and later GPUs TensorFlow runs float32 convolutions and matrix products in TF32 unless
``tf.config.experimental.enable_tensor_float_32_execution(False)``: their inputs are rounded to
a 10-bit mantissa (float32 has 23), products accumulated in float32. This script emulates that
on the CPU: every VGG19 convolution rounds its input and kernel, in the forward pass and in both
backward convolutions (the upstream gradient too), and the Gram matrices' einsum rounds its
features (and the upstream gradient), to the nearest TF32 value (bit masking, round half up).

It then compares, on the real weights, the same optimization with exact float32 and with TF32:
the loss and gradient at the start, and L-BFGS's progress (loss after N iterations, both scored
exactly in float32), and how far apart the two results are.

Usage: ``PYTHONPATH=. python benchmarks/tf32.py [--size 128] [--iterations 100]
[--optimizer lbfgs] [--weights FILE]`` (about two minutes at 128 px on a 2-core CPU).
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from vidstyle.config import MethodConfig
from vidstyle.engine import losses, model
from vidstyle.engine.optimize import build_engine, to_tensor
from vidstyle.weights import resolve

ROOT = Path(__file__).resolve().parent.parent


def to_tf32(x: tf.Tensor) -> tf.Tensor:
    """float32 rounded to TF32's 10-bit mantissa (nearest, ties away from zero)."""
    bits = tf.bitcast(x, tf.int32)
    rounded = tf.bitwise.bitwise_and(bits + 0x1000, tf.constant(~0x1FFF, tf.int32))
    return tf.bitcast(rounded, tf.float32)


@tf.custom_gradient
def conv_tf32(x, kernel):
    """``model.conv3x3`` as a TF32 GPU runs it, forward and backward."""
    y = tf.nn.conv2d(to_tf32(x), to_tf32(kernel), 1, "SAME")

    def grad(dy):
        dx = tf.nn.conv2d_transpose(to_tf32(dy), to_tf32(kernel), tf.shape(x), 1, "SAME")
        return dx, tf.zeros_like(kernel)  # the kernel is a constant

    return y, grad


@tf.custom_gradient
def _gram_products(features):
    f = to_tf32(features)
    g = tf.einsum("bijc,bijd->bcd", f, f)

    def grad(dg):
        dg = to_tf32(dg)
        return tf.einsum("bijd,bcd->bijc", f, dg) + tf.einsum("bijc,bcd->bijd", f, dg)

    return g, grad


def gram_tf32(features):
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], tf.float32)
    return _gram_products(features) / positions


@contextlib.contextmanager
def tf32_emulated():
    """Convolutions and Gram matrices rounded as TF32 rounds them, while inside."""
    saved = model.conv3x3, losses.gram
    model.conv3x3, losses.gram = conv_tf32, gram_tf32
    try:
        yield
    finally:
        model.conv3x3, losses.gram = saved


def load(path: Path, size: int) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    image.thumbnail((size, size), Image.LANCZOS)
    return np.asarray(image)


def start_figures(engine, content, style):
    """Loss and gradient at the content, in this engine's arithmetic."""
    x = to_tensor(content)
    targets = engine._content_targets(x)
    grams = list(engine.style_targets(style).grams)
    loss, grad, _ = engine._value_grad(x, engine._params(0.0), targets, grams,
                                       tf.zeros_like(x), tf.zeros(x.shape[:3]))  # fmt: skip
    return float(tf.reduce_sum(loss)), grad.numpy().ravel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--optimizer", default="lbfgs", choices=["adam", "lbfgs"])
    parser.add_argument("--weights", type=Path)
    args = parser.parse_args(argv)
    source = resolve(args.weights)
    content = load(ROOT / "samples" / "photos" / "astronaut.jpg", args.size)
    style = load(ROOT / "samples" / "swirls.jpg", args.size)
    # each checkpoint is a run of its own from the content (restarting L-BFGS would change it)
    checkpoints = sorted({max(10, args.iterations // 4), args.iterations // 2, args.iterations})
    method = MethodConfig(max_size=args.size, optimizer=args.optimizer)
    exact = build_engine(method, source)
    loss32, grad32 = start_figures(exact, content, style)
    with tf32_emulated():
        emulated = build_engine(method, source)
        loss_tf32, grad_tf32 = start_figures(emulated, content, style)
    cosine = grad32 @ grad_tf32 / (np.linalg.norm(grad32) * np.linalg.norm(grad_tf32))
    print(f"{args.size}x{args.size}-ish content {content.shape[1]}x{content.shape[0]}, "
          f"{args.optimizer}, real VGG19 weights")  # fmt: skip
    print(f"loss at the start: float32 {loss32:.6g}, TF32 {loss_tf32:.6g}, "
          f"relative difference {abs(loss_tf32 - loss32) / loss32:.2e}")  # fmt: skip
    print(f"gradient at the start: cosine {cosine:.6f}, relative norm difference "
          f"{np.linalg.norm(grad_tf32 - grad32) / np.linalg.norm(grad32):.2e}")  # fmt: skip
    print(f"{'iterations':>10} {'float32 loss':>14} {'TF32 loss':>14} {'rel. diff':>10} "
          f"{'mean |diff| (levels)':>20}")  # fmt: skip
    for until in checkpoints:
        ours = exact.stylize(content, exact.style_targets(style), steps=until)
        with tf32_emulated():
            theirs = emulated.stylize(content, emulated.style_targets(style), steps=until)
        a = exact.losses(ours, content, exact.style_targets(style))["total"]
        b = exact.losses(theirs, content, exact.style_targets(style))["total"]  # scored exactly
        diff = np.abs(ours.astype(int) - theirs.astype(int)).mean()
        print(f"{until:>10} {a:>14.6g} {b:>14.6g} {(b - a) / a:>10.2e} {diff:>20.3f}")


if __name__ == "__main__":
    main()
