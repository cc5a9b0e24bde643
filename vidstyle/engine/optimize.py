"""The optimization: Adam (or L-BFGS) over the image's pixels, compiled once per image size.

Adam: the whole state (image, Adam's moments, step count) lives in tensors that are passed in and
out of one ``tf.function``, which runs a chunk of steps in a ``tf.while_loop``. Nothing goes back
to the host inside a chunk; the loss is read once per chunk for progress. Because no
``tf.Variable`` is created per item, a new image of a size already seen reuses the compiled graph.

L-BFGS (:mod:`vidstyle.engine.lbfgs`) runs the same way: its state (image, loss, gradient and
correction pairs) goes in and out of one ``tf.function`` running a chunk of iterations, on the same
loss as Adam's.

Both run over the levels of :mod:`vidstyle.engine.schedule` (coarse to fine, early stop).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from vidstyle.config import MethodConfig
from vidstyle.engine import lbfgs, losses, memory, schedule
from vidstyle.engine.model import FeatureExtractor

OnStep = Callable[[int, float], None]
STEPS_PER_CALL = 10
ADAM_WINDOW = 50  # steps over which the early stop compares the loss (5 chunks)
LBFGS_WINDOW = 10  # iterations over which the early stop compares the loss (1 chunk)
FP16_GRAD_MAX = 64.0  # the largest feature gradient once scaled, with a float16 network


@dataclass(frozen=True)
class StyleTargets:
    """Gram matrices of one style image at the style layers, each [1, C, C]."""

    grams: tuple[tf.Tensor, ...]


@dataclass(frozen=True)
class _Problem:
    """What the loss of one level needs besides the image, in the compiled functions' order."""

    params: tf.Tensor
    content_targets: list[tf.Tensor]
    style_grams: list[tf.Tensor]
    warped: tf.Tensor
    mask: tf.Tensor

    def args(self) -> tuple:
        return self.params, self.content_targets, self.style_grams, self.warped, self.mask


@dataclass(frozen=True)
class Temporal:
    """The temporal term of a video frame.

    Attributes:
        warped: previous stylized frame warped into this one, HxWx3 float32 in 0..1.
        mask: HxW float32, 1 where the optical flow is reliable.
        weight: the term's weight.
    """

    warped: np.ndarray
    mask: np.ndarray
    weight: float


def compute_dtype(precision: str) -> str:
    """The convolutions' dtype: float32, or float16 on a GPU / bfloat16 on a CPU for ``mixed``."""
    if precision != "mixed":
        return "float32"
    return "float16" if tf.config.list_physical_devices("GPU") else "bfloat16"


def to_tensor(images: np.ndarray) -> tf.Tensor:
    """uint8 or float 0..255 images (HxWx3 or BxHxWx3) as a float32 batch in 0..1."""
    batch = images if images.ndim == 4 else images[None]
    return tf.constant(np.asarray(batch, np.float32) / 255.0)


def to_uint8(images: tf.Tensor) -> np.ndarray:
    """A float batch in 0..1 as uint8 BxHxWx3."""
    return np.clip(np.rint(images.numpy() * 255.0), 0, 255).astype(np.uint8)


class Engine:
    """Stylizes images with one VGG19 and one set of method options.

    Args:
        method: the method's options.
        extractor: VGG19 features at ``method.layers`` (content layers first).
    """

    def __init__(self, method: MethodConfig, extractor: FeatureExtractor):
        self.method = method
        self.extractor = extractor
        self.traces = 0  # compilations of the Adam chunk and of the L-BFGS chunk
        gpu = bool(tf.config.list_physical_devices("GPU"))
        self.memory_budget = memory.budget_bytes(method.memory_limit, gpu)  # None: unknown
        self._style_cache: dict[tuple, StyleTargets] = {}
        self._run = tf.function(self._run_steps, autograph=False)
        self._value_grad = tf.function(self._value_and_grad, autograph=False)
        self._lbfgs_run = tf.function(self._lbfgs_steps, autograph=False)
        self._losses = tf.function(self._loss_terms, autograph=False)

    # --------------------------------------------------------------------------------- targets

    def style_targets(self, style: np.ndarray) -> StyleTargets:
        """Gram targets of a style image (HxWx3 uint8), computed once and cached by content."""
        key = (style.shape, hashlib.sha1(np.ascontiguousarray(style)).hexdigest())
        if key not in self._style_cache:
            n_content = len(self.method.content_layers)
            short = min(style.shape[:2])
            if short < self.extractor.min_side:  # too small for the network: enlarge it
                factor = self.extractor.min_side / short
                size = [max(self.extractor.min_side, round(n * factor)) for n in style.shape[:2]]
                style = _resized(style, size, "bilinear")
            features = self.extractor(to_tensor(style))[n_content:]
            self._style_cache[key] = StyleTargets(tuple(losses.gram(f) for f in features))
        return self._style_cache[key]

    def _content_targets(self, content: tf.Tensor) -> list[tf.Tensor]:
        return self.extractor(content)[: len(self.method.content_layers)]

    def check_fits(self, path, height: int, width: int, batch: int = 1) -> None:
        """Refuse up front an image (or batch) too large for the memory budget.

        Raises:
            TooLargeError: naming ``path`` and the largest ``--max-size`` that fits.
        """
        memory.check(path, height, width, self.method.optimizer, self.memory_budget, batch)

    # ------------------------------------------------------------------------------ optimizing

    def stylize(
        self,
        content: np.ndarray,
        style: StyleTargets,
        init: np.ndarray | None = None,
        steps: int | None = None,
        temporal: Temporal | None = None,
        on_step: OnStep | None = None,
    ) -> np.ndarray:
        """Optimize an image (or a batch of same-size images) towards content and style.

        The optimizer, the coarse-to-fine levels and the early stop are the method's
        (``optimizer``, ``scales``, ``tol``); a batch is optimized as the sum of its losses.

        Args:
            content: HxWx3 or BxHxWx3 uint8 at the working size.
            style: targets from :meth:`style_targets`.
            init: the starting image(s), same shape, uint8 or float 0..255; the content when None.
            steps: Adam steps or L-BFGS iterations over all levels; ``method.steps`` when None.
            temporal: the temporal term for a video frame (single image only).
            on_step: called as ``on_step(steps_done, loss)`` after every chunk of 10 steps or
                iterations, counted over all levels.

        Returns:
            The result, uint8 of the shape of ``content``.

        Raises:
            TooLargeError: when the optimization would not fit in the memory budget.
        """
        height, width = content.shape[-3:-1]
        if min(height, width) < self.extractor.min_side:
            return self._stylize_enlarged(content, style, init, steps, temporal, on_step)
        steps = self.method.steps if steps is None else steps
        batch = content.shape[0] if content.ndim == 4 else 1
        self.check_fits(None, *content.shape[-3:-1], batch)
        target = to_tensor(content)
        x = target if init is None else to_tensor(init)
        warped, mask, t_weight = self._temporal_tensors(x, temporal)
        solve = self._lbfgs if self.method.optimizer == "lbfgs" else self._adam
        height, width = target.shape[1:3]
        start, done, base = x, 0, None
        for level in schedule.levels(height, width, steps, self.method.scales):
            problem = self._problem(level, target, style, warped, mask, t_weight)
            level_start = schedule.resize(start, level.height, level.width)
            x = level_start if base is None else schedule.carry(level_start, x, base)
            x = solve(x, problem, level.steps, _offset(on_step, done))
            done, base = done + level.steps, level_start
        out = to_uint8(x)
        return out if content.ndim == 4 else out[0]

    def _stylize_enlarged(self, content, style, init, steps, temporal, on_step) -> np.ndarray:
        """Stylize an image with a side below the network's smallest (``extractor.min_side``):
        enlarge it (and its start and temporal term) to that side, then shrink the result back."""
        height, width = content.shape[-3:-1]
        big, start, temporal = self._enlarged(content, init, temporal)
        result = self.stylize(big, style, start, steps, temporal, on_step)
        return _resized(result, [height, width], "area")

    def _enlarged(self, image, init=None, temporal=None):
        """An image (with its start and temporal term) enlarged so that each side is at least
        ``extractor.min_side``; bilinear for pictures, nearest for the mask."""
        size = [max(n, self.extractor.min_side) for n in image.shape[-3:-1]]
        if temporal is not None:
            warped, mask = temporal.warped, temporal.mask
            temporal = Temporal(_resized(warped, size, "bilinear"), _resized(mask, size, "nearest"),
                                temporal.weight)  # fmt: skip
        big = [None if a is None else _resized(a, size, "bilinear") for a in (image, init)]
        return big[0], big[1], temporal

    def _problem(self, level, target, style, warped, mask, t_weight: float) -> _Problem:
        """The level's loss inputs: content targets, temporal term resized to its size."""
        size = (level.height, level.width)
        return _Problem(
            self._params(t_weight),
            self._content_targets(schedule.resize(target, *size)),
            list(style.grams),
            schedule.resize(warped, *size),
            schedule.resize_mask(mask, *size),
        )

    def _adam(self, x: tf.Tensor, problem: _Problem, steps: int, on_step: OnStep | None):
        """``steps`` Adam steps from ``x`` (fresh moments), in compiled chunks; early stop."""
        state = (x, tf.zeros_like(x), tf.zeros_like(x), tf.constant(0.0))  # x, m, v, t

        def advance(n: tf.Tensor) -> tf.Tensor:
            nonlocal state
            *state, loss = self._run(*state, n, *problem.args())
            return loss

        self._chunks(advance, steps, on_step, ADAM_WINDOW)
        return state[0]

    def _lbfgs(self, x: tf.Tensor, problem: _Problem, steps: int, on_step: OnStep | None):
        """``steps`` L-BFGS iterations from ``x`` (no pairs yet), in compiled chunks; early stop."""
        state = lbfgs.start(x, *self._value_grad(x, *problem.args()))

        def advance(n: tf.Tensor) -> tf.Tensor:
            nonlocal state
            state = self._lbfgs_run(state, n, *problem.args())
            return state.loss

        self._chunks(advance, steps, on_step, LBFGS_WINDOW)
        return state.x

    def _chunks(self, advance, steps: int, on_step: OnStep | None, window: int) -> None:
        """Run ``advance(n)`` (n steps, returning the loss) in chunks of STEPS_PER_CALL until
        ``steps`` are done; report after each chunk and stop once the loss is on a plateau."""
        plateau = schedule.Plateau(self.method.tol, window // STEPS_PER_CALL)
        done = 0
        while done < steps:
            n = min(STEPS_PER_CALL, steps - done)
            loss = advance(tf.constant(n))
            done += n
            if on_step is None and plateau.tol <= 0:
                continue  # nothing reads the loss: no host round trip
            loss = float(tf.reduce_sum(loss))
            if on_step is not None:
                on_step(done, loss)
            if plateau.update(loss):
                break

    def _temporal_tensors(self, x: tf.Tensor, temporal: Temporal | None):
        if temporal is None:
            return tf.zeros_like(x), tf.zeros(tf.shape(x)[:3]), 0.0
        warped = tf.constant(temporal.warped[None], tf.float32)
        mask = tf.constant(temporal.mask[None], tf.float32)
        return warped, mask, float(temporal.weight)

    def _params(self, temporal_weight: float) -> tf.Tensor:
        m = self.method
        values = (m.content_weight, m.style_weight, m.tv_weight, temporal_weight,
                  m.learning_rate, m.beta_1, m.beta_2, m.epsilon)  # fmt: skip
        return tf.constant(values, tf.float32)

    def _total(self, x, features, params, content_targets, style_grams, warped, mask):
        terms = self._terms(x, features, content_targets, style_grams, warped, mask)
        return (params[0] * terms["content"] + params[1] * terms["style"]
                + params[2] * terms["tv"] + params[3] * terms["temporal"])  # fmt: skip

    def _loss_terms(self, x, content_targets, style_grams, warped, mask) -> dict[str, tf.Tensor]:
        return self._terms(x, self.extractor(x), content_targets, style_grams, warped, mask)

    def _terms(self, x, features, content_targets, style_grams, warped, mask) -> dict:
        n_content = len(self.method.content_layers)
        return {
            "content": losses.content_loss(features[:n_content], content_targets),
            "style": losses.style_loss(features[n_content:], style_grams),
            "tv": losses.total_variation(x),
            "temporal": losses.temporal_loss(x, warped, mask),
        }

    def _loss_and_grad(self, x, params, content_targets, style_grams, warped, mask):
        """Per-image losses and the gradient of their sum with respect to the images.

        Two tapes: one over the network, one over the loss of its features (and of the image, for
        the total-variation and temporal terms). With a float16 network the feature gradients are
        scaled by a power of two that brings their largest to FP16_GRAD_MAX before they flow back
        through it, and the image's gradient is scaled back: float16's range (65504) is far below
        the unscaled gradients (about 1e5 at the input). Dynamic loss scaling, without retries.
        """
        with tf.GradientTape() as network:
            network.watch(x)
            features = self.extractor(x)
        with tf.GradientTape() as loss_tape:
            loss_tape.watch([x, features])
            loss = self._total(x, features, params, content_targets, style_grams, warped, mask)
            summed = tf.reduce_sum(loss)
        direct, feature_grads = loss_tape.gradient(summed, [x, features])
        if self.extractor.compute_dtype != tf.float16:
            return loss, direct + network.gradient(features, x, output_gradients=feature_grads)
        largest = tf.reduce_max([tf.reduce_max(tf.abs(g)) for g in feature_grads])
        scale = tf.pow(2.0, tf.math.floor(tf.math.log(FP16_GRAD_MAX / largest) / tf.math.log(2.0)))
        scaled = [g * scale for g in feature_grads]
        return loss, direct + network.gradient(features, x, output_gradients=scaled) / scale

    def _run_steps(self, x, m, v, t, n, params, content_targets, style_grams, warped, mask):
        """``n`` Adam steps (Keras's update rule), the image clipped to 0..1 after each."""
        self.traces += 1  # runs only while tracing: counts compilations
        lr, beta_1, beta_2, epsilon = params[4], params[5], params[6], params[7]

        def step(i, x, m, v, t, _):
            loss, grad = self._loss_and_grad(x, params, content_targets, style_grams, warped, mask)
            t = t + 1.0
            m = m + (grad - m) * (1.0 - beta_1)
            v = v + (tf.square(grad) - v) * (1.0 - beta_2)
            alpha = lr * tf.sqrt(1.0 - tf.pow(beta_2, t)) / (1.0 - tf.pow(beta_1, t))
            x = tf.clip_by_value(x - alpha * m / (tf.sqrt(v) + epsilon), 0.0, 1.0)
            return i + 1, x, m, v, t, loss

        start = (tf.constant(0), x, m, v, t, tf.zeros(tf.shape(x)[:1]))
        _, x, m, v, t, loss = tf.while_loop(lambda i, *_: i < n, step, start)
        return x, m, v, t, loss

    def _value_and_grad(self, x, params, content_targets, style_grams, warped, mask):
        """The batch's summed loss and its gradient with respect to the image."""
        loss, grad = self._loss_and_grad(x, params, content_targets, style_grams, warped, mask)
        return tf.reduce_sum(loss), grad

    def _lbfgs_steps(self, state, n, params, content_targets, style_grams, warped, mask):
        """``n`` L-BFGS iterations (:mod:`vidstyle.engine.lbfgs`) on the batch's summed loss."""
        self.traces += 1  # runs only while tracing: counts compilations

        def value_and_grad(x):
            return self._value_and_grad(x, params, content_targets, style_grams, warped, mask)

        return lbfgs.iterate(value_and_grad, lbfgs.State(*state), n)

    # ----------------------------------------------------------------------------- measuring

    def losses(
        self,
        image: np.ndarray,
        content: np.ndarray,
        style: StyleTargets,
        temporal: Temporal | None = None,
    ) -> dict[str, float]:
        """The loss terms of an image (uint8 HxWx3) against content, style and a temporal term.

        Returns:
            ``{"content", "style", "tv", "temporal"}`` unweighted, and ``"total"`` with the
            method's weights (and the temporal weight when a temporal term is given).
        """
        if min(image.shape[:2]) < self.extractor.min_side:
            image, content, temporal = self._enlarged(image, content, temporal)
        x, target = to_tensor(image), to_tensor(content)
        warped, mask, t_weight = self._temporal_tensors(x, temporal)
        terms = self._losses(x, self._content_targets(target), list(style.grams), warped, mask)
        out = {name: float(tf.reduce_sum(value)) for name, value in terms.items()}
        m = self.method
        out["total"] = (m.content_weight * out["content"] + m.style_weight * out["style"]
                        + m.tv_weight * out["tv"] + t_weight * out["temporal"])  # fmt: skip
        return out


def _resized(array: np.ndarray, size: list[int], method: str) -> np.ndarray:
    """An HxW, HxWxC or BxHxWxC array at another height and width, in its own dtype (uint8 is
    rounded)."""
    batch = array.reshape(array.shape[:2] + (1,)) if array.ndim == 2 else array
    out = tf.image.resize(np.asarray(batch, np.float32), size, method=method).numpy()
    if array.dtype == np.uint8:
        out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.reshape(out.shape[:2]) if array.ndim == 2 else out.astype(array.dtype)


def _offset(on_step: OnStep | None, done: int) -> OnStep | None:
    """``on_step`` with ``done`` added to the step count (a level's steps after the earlier's)."""
    if on_step is None:
        return None
    return lambda step, loss: on_step(done + step, loss)


def build_engine(method: MethodConfig, source) -> Engine:
    """An engine with the VGG19 weights of ``source`` (a :class:`WeightsSource`; None: random).

    Raises:
        WeightsError: when the weights cannot be loaded.
        UsageError: for an unknown layer name.
    """
    from vidstyle.engine.model import keras_vgg19

    vgg = keras_vgg19(source)
    return Engine(method, FeatureExtractor(vgg, method.layers, compute_dtype(method.precision)))
