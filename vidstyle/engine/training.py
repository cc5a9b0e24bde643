"""Training a clip's painter (:mod:`vidstyle.engine.painter`) on random patches: one compiled
step of Adam over the losses of :mod:`vidstyle.engine.netlosses`, and the trainer's whole state
(weights, Adam's moments, step count) as plain arrays for checkpoints.

The step takes numpy patches that the caller samples (:class:`vidstyle.pipeline.teaching.Batch`)
and returns the loss terms as floats; the loop around it (time box, convergence, checkpoints,
progress) belongs to the caller (:mod:`vidstyle.pipeline.teaching`). Nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from vidstyle.engine import netlosses
from vidstyle.engine.inputs import StyleTargets
from vidstyle.engine.model import FeatureExtractor
from vidstyle.engine.painter import Painter


@dataclass(frozen=True)
class LossWeights:
    """The weights of the training losses (see :mod:`vidstyle.engine.netlosses`; the texture
    and the objective are weighted by their logarithms there).

    Attributes:
        pixel: L1 between the painter's rendering of a keyframe patch and the keyframe's.
        perceptual: VGG19 feature distance to the keyframe, at the style layers.
        texture: Gram distance to the keyframe patch's, at the style layers.
        objective: the method's own objective (content, style and total variation with the
            method's weights) on crops of frames that are not keyframes.
        temporal: the short-range temporal loss on pairs of consecutive frames.
    """

    pixel: float = 0.2
    perceptual: float = 0.0
    objective: float = 1.0
    temporal: float = 1.0
    texture: float = 1.0


class Trainer:
    """Trains a painter towards stylized keyframes and the method's objective.

    Args:
        painter: the network (its weights are trained in place).
        extractor: VGG19 features (content layers first, then the style layers).
        targets: the style's Gram targets, at the working size.
        method: the method's options (its content, style and TV weights, its layers).
        weights: the losses' weights.
        area: the working frame's pixels (H W), for the total variation of patches.
        learning_rate: Adam's.
    """

    def __init__(self, painter: Painter, extractor: FeatureExtractor, targets: StyleTargets,
                 method, weights: LossWeights, area: int, learning_rate: float = 5e-4):  # fmt: skip
        self.painter = painter
        self.losses = netlosses.Losses(extractor, len(method.content_layers), list(targets.grams),
                                       method, weights, area)  # fmt: skip
        self.optimizer = keras.optimizers.Adam(learning_rate)
        if painter.meta.get("precision") == "float16":
            self.optimizer = keras.mixed_precision.LossScaleOptimizer(self.optimizer)
        self.optimizer.build(painter.model.trainable_variables)
        self.steps = 0
        self._step = tf.function(self._train_step, reduce_retracing=True)

    def _train_step(self, *tensors):
        variables = self.painter.model.trainable_variables
        with tf.GradientTape() as tape:
            terms = self.losses(self.painter.model, *tensors)  # margin, pairs: Python values
            total = terms["total"]
            scaled = (self.optimizer.scale_loss(total)
                      if hasattr(self.optimizer, "scale_loss") else total)  # fmt: skip
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return terms

    def step(self, key_content, key_styled, frames, pair_a, pair_b, pair_flow, pair_mask,
             margin: int = 0) -> dict[str, float]:  # fmt: skip
        """One Adam step on a batch of patches (float32 0..1; see
        :class:`vidstyle.pipeline.teaching.Batch`), judged ``margin`` pixels in from their
        sides; returns the loss terms, ``total`` among them (no ``temporal`` term when the
        batch has no pairs).
        """
        arrays = (key_content, key_styled, frames, pair_a, pair_b, pair_flow, pair_mask)
        pairs = len(pair_a) > 0  # none: the temporal term is not computed (a trace of its own)
        terms = self._step(*(tf.constant(x, tf.float32) for x in arrays), margin, pairs)
        self.steps += 1
        return {name: float(value) for name, value in terms.items()}

    def state(self) -> dict[str, np.ndarray]:
        """Everything a checkpoint needs: weights, Adam's variables, the step count."""
        out = {f"model_{i:03d}": np.asarray(w) for i, w in enumerate(self.painter.weights())}
        for i, variable in enumerate(self.optimizer.variables):
            out[f"adam_{i:03d}"] = np.asarray(variable)
        out["steps"] = np.array(self.steps)
        return out

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Go back to a :meth:`state`.

        Raises:
            ValueError: the state is of another network or optimizer.
        """
        model = [state[k] for k in sorted(state) if k.startswith("model_")]
        adam = [state[k] for k in sorted(state) if k.startswith("adam_")]
        if len(adam) != len(self.optimizer.variables):
            raise ValueError(f"{len(adam)} optimizer arrays for {len(self.optimizer.variables)}")
        self.painter.model.set_weights(model)
        for variable, value in zip(self.optimizer.variables, adam, strict=True):
            variable.assign(value)
        self.steps = int(state["steps"])
