"""The reference: the "Neural style transfer" tutorial of tensorflow.org, written out plainly.

A Keras model over VGG19's outputs, ``preprocess_input(inputs * 255)``, einsum Gram matrices
over the number of positions, the style / content / total-variation weights 1e-2 / 1e4 / 30
(``tf.image.total_variation``), a ``tf.Variable`` image, Keras Adam (0.02, 0.99, 0.1) and one
``@tf.function`` call per step, as the tutorial runs them. The layers are vidstyle's defaults, so
that both run the same convolutions (the model's unused ``vgg.output`` branch is pruned by
``tf.function``: checked by timing, a model whose only used output is block1_conv1 runs as fast
with ``vgg.output`` as without). ``benchmarks/step.py`` times its step, ``benchmarks/quality.py``
its loss over time.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from vidstyle.config import MethodConfig


def vgg_layers(vgg: keras.Model, layer_names: list[str]) -> keras.Model:
    """The tutorial's extractor, here over the full network: selected outputs plus the last."""
    vgg.trainable = False
    outputs = [vgg.get_layer(name).output for name in layer_names]
    return keras.Model([vgg.input], outputs + [vgg.output])


def gram_matrix(input_tensor: tf.Tensor) -> tf.Tensor:
    """The tutorial's Gram matrix: einsum over positions divided by their number."""
    result = tf.linalg.einsum("bijc,bijd->bcd", input_tensor, input_tensor)
    input_shape = tf.shape(input_tensor)
    num_locations = tf.cast(input_shape[1] * input_shape[2], tf.float32)
    return result / num_locations


class StyleContentModel:
    """The tutorial's StyleContentModel: style Grams and content features of an image in 0..1."""

    def __init__(self, vgg: keras.Model, style_layers: list[str], content_layers: list[str]):
        self.vgg = vgg_layers(vgg, style_layers + content_layers)
        self.style_layers = style_layers
        self.content_layers = content_layers
        self.num_style_layers = len(style_layers)

    def __call__(self, inputs: tf.Tensor) -> dict[str, dict[str, tf.Tensor]]:
        preprocessed_input = keras.applications.vgg19.preprocess_input(inputs * 255.0)
        outputs = self.vgg(preprocessed_input)[: self.num_style_layers + len(self.content_layers)]
        style_outputs = [gram_matrix(out) for out in outputs[: self.num_style_layers]]
        content_outputs = outputs[self.num_style_layers :]
        return {
            "content": dict(zip(self.content_layers, content_outputs)),
            "style": dict(zip(self.style_layers, style_outputs)),
        }


class Recipe:
    """The tutorial's optimization of one content image towards one style.

    Args:
        vgg: the Keras VGG19 (vidstyle's, so that both use the same weights).
        content, style: HxWx3 uint8.

    Attributes:
        image: the ``tf.Variable`` optimized, 0..1, shape [1, H, W, 3].
        step: the tutorial's ``train_step(image)``, one call per step.
    """

    def __init__(self, vgg: keras.Model, content: np.ndarray, style: np.ndarray):
        defaults = MethodConfig()
        style_layers, content_layers = list(defaults.style_layers), list(defaults.content_layers)
        extractor = StyleContentModel(vgg, style_layers, content_layers)
        self.content = tf.constant(content[None].astype(np.float32) / 255.0)
        style_targets = extractor(tf.constant(style[None].astype(np.float32) / 255.0))["style"]
        content_targets = extractor(self.content)["content"]
        self.image = tf.Variable(self.content)
        self.optimizer = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)
        style_weight, content_weight, total_variation_weight = 1e-2, 1e4, 30

        def style_content_loss(outputs):
            style_outputs, content_outputs = outputs["style"], outputs["content"]
            style_loss = tf.add_n([tf.reduce_mean((style_outputs[name] - style_targets[name]) ** 2)
                                   for name in style_outputs.keys()])  # fmt: skip
            style_loss *= style_weight / len(style_layers)
            content_loss = tf.add_n([
                tf.reduce_mean((content_outputs[name] - content_targets[name]) ** 2)
                for name in content_outputs.keys()])  # fmt: skip
            content_loss *= content_weight / len(content_layers)
            return style_loss + content_loss

        @tf.function()
        def train_step(image):
            with tf.GradientTape() as tape:
                outputs = extractor(image)
                loss = style_content_loss(outputs)
                loss += total_variation_weight * tf.image.total_variation(image)
            grad = tape.gradient(loss, image)
            self.optimizer.apply_gradients([(grad, image)])
            image.assign(tf.clip_by_value(image, clip_value_min=0.0, clip_value_max=1.0))

        self.step = train_step

    def warm_up(self) -> None:
        """Trace and run the step once, then start again (:meth:`reset`)."""
        self.step(self.image)
        self.image.numpy()
        self.reset()

    def reset(self) -> None:
        """Back to the start: the image to the content, Adam's step count and moments to 0."""
        self.image.assign(self.content)
        for variable in self.optimizer.variables:
            if not variable.path.endswith("learning_rate"):
                variable.assign(tf.zeros_like(variable))

    def seconds_per_step(self, steps: int) -> float:
        """Seconds per step over ``steps`` calls from the content (synced at the end)."""
        self.image.assign(self.content)
        self.image.numpy()
        start = time.perf_counter()
        for _ in range(steps):
            self.step(self.image)
        self.image.numpy()  # waits for the last step
        return (time.perf_counter() - start) / steps

    def result(self) -> np.ndarray:
        """The image now, HxWx3 uint8 (waits for the steps under way)."""
        return np.clip(np.rint(self.image.numpy()[0] * 255.0), 0, 255).astype(np.uint8)
