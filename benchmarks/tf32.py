"""What TF32 would do to ``--precision float32``, measured on a CPU by emulating its rounding.

On Ampere and later GPUs TensorFlow runs float32 convolutions and matrix products in TF32 unless
``tf.config.experimental.enable_tensor_float_32_execution(False)``: their inputs are rounded to
a 10-bit mantissa (float32 has 23), products accumulated in float32. This script emulates that
on the CPU: every VGG19 convolution rounds its input and kernel, in the forward pass and in both
backward convolutions (the upstream gradient too), and the Gram matrices' einsum rounds its
features (and the upstream gradient), to the nearest TF32 value (bit masking, round half up).
(It swaps :func:`vidstyle.engine.model.conv3x3` and :func:`vidstyle.engine.losses.gram` while
the emulated engine traces its functions; that engine has features of its own, so the exact
engine's functions are traced without the swap.)

It then compares, on the real weights, the same optimization with exact float32 and with TF32:
the loss at the start, and the optimizer's progress (the loss after N iterations, both scored
exactly in float32), and how far apart the two results are.

Usage: ``python -m benchmarks.tf32 [--size 128] [--iterations 100] [--optimizer lbfgs]``
(about two minutes at 128 px on a 2-core CPU).
"""

from __future__ import annotations

import contextlib

import numpy as np
import tensorflow as tf

from benchmarks import harness
from benchmarks.table import Table
from vidstyle.config import MethodConfig
from vidstyle.engine import losses, model
from vidstyle.engine.request import Request


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


def main(argv: list[str] | None = None, make_engine: harness.Engines | None = None) -> None:
    """Run both engines from the content to each checkpoint; print the table and log it."""
    parser = harness.parser(__doc__)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--optimizer", default="lbfgs", choices=["adam", "lbfgs"])
    args = harness.parse(parser, argv)
    make_engine = make_engine or harness.Engines(args.weights)
    content = harness.picture(harness.CONTENT, args.size)
    style = harness.picture(harness.STYLE, args.size)
    method = MethodConfig(max_size=args.size, optimizer=args.optimizer, precision="float32")
    exact = make_engine(method)
    emulated = harness.Engines(vgg=make_engine.vgg())(method)  # features (and traces) of its own
    targets = exact.style_targets(style)
    with tf32_emulated():
        emulated_targets = emulated.style_targets(style)
        start = emulated.losses(content, content, emulated_targets)["total"]
    start32 = exact.losses(content, content, targets)["total"]
    # each checkpoint is a run of its own from the content (restarting L-BFGS would change it)
    checkpoints = sorted({max(10, args.iterations // 4), args.iterations // 2, args.iterations})
    table = Table("iterations", ("float32 loss", "{:.6g}"), ("TF32 loss", "{:.6g}"),
                  ("rel. diff", "{:.2e}"), ("mean abs diff (levels)", "{:.3f}"),
                  title=f"{content.shape[1]}x{content.shape[0]}, {args.optimizer}")  # fmt: skip
    table.add(0, start32, start, (start - start32) / start32, 0.0)
    for until in checkpoints:
        ours = exact.stylize(Request(content, targets, steps=until))
        with tf32_emulated():
            theirs = emulated.stylize(Request(content, emulated_targets, steps=until))
        a = exact.losses(ours, content, targets)["total"]
        b = exact.losses(theirs, content, targets)["total"]  # scored exactly
        diff = np.abs(ours.astype(int) - theirs.astype(int)).mean()
        print(table.add(until, a, b, (b - a) / a, diff), flush=True)
    notes = ["TF32 emulated on the CPU (inputs of every convolution and Gram product rounded to "
             "10 mantissa bits); both results scored in exact float32"]  # fmt: skip
    harness.finish(args, "tf32", "float32 against emulated TF32", [table], table.rows, notes)


if __name__ == "__main__":
    main()
