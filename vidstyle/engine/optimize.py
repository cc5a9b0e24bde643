"""The optimization: Adam (or L-BFGS) over the image's pixels, compiled once per image size.

Adam: the whole state (image, Adam's moments, step count) lives in tensors that are passed in and
out of one ``tf.function``, which runs a chunk of steps in a ``tf.while_loop``. Nothing goes back
to the host inside a chunk; the loss is read once per chunk for progress. Because no
``tf.Variable`` is created per item, a new image of a size already seen reuses the compiled graph.

L-BFGS (:mod:`vidstyle.engine.lbfgs`) runs the same way: its state (image, loss, gradient and
correction pairs) goes in and out of one ``tf.function`` running a chunk of iterations, on the same
loss as Adam's.

Both run over the levels of :mod:`vidstyle.engine.schedule` (coarse to fine, early stop). Each
evaluation also computes whether the loss terms and the gradient are finite; the flags stay on the
device and are read once per level (:mod:`vidstyle.engine.numerics`). A GPU running out of memory
(``ResourceExhaustedError``) becomes a :class:`TooLargeError` for that image or batch.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from vidstyle.config import MethodConfig
from vidstyle.engine import colors, ladder, lbfgs, losses, memory, numerics, schedule, tiling
from vidstyle.engine import device as devices
from vidstyle.engine.inputs import (
    Problem,
    StyleTargets,
    Temporal,
    compute_dtype,
    enlarged,
    resized,
    to_tensor,
    to_uint8,
)
from vidstyle.engine.model import FeatureExtractor
from vidstyle.errors import TooLargeError

OnStep = Callable[[int, float], None]
OnLevel = Callable[[int, list[ladder.Work]], None]  # (level index, every level's work)
STEPS_PER_CALL = 10
ADAM_WINDOW = 50  # steps over which the early stop compares the loss (5 chunks)
LBFGS_WINDOW = 10  # iterations over which the early stop compares the loss (1 chunk)


class Engine:
    """Stylizes images with one VGG19 and one set of method options.

    Args:
        method: the method's options.
        extractor: VGG19 features at ``method.layers`` (content layers first).
        device: the device set up by :func:`vidstyle.engine.device.configure` (with the GPU's
            free memory read before TensorFlow reserved any); set up here when None.

    Attributes:
        memory_budget: bytes an optimization may use, None when unknown (nothing refused).
        memory_note: why the budget is unknown, one line naming parameters as ``{name}``.
    """

    def __init__(
        self,
        method: MethodConfig,
        extractor: FeatureExtractor,
        device: devices.Device | None = None,
    ):
        self.method = method
        self.extractor = extractor
        self.traces = 0  # compilations of the Adam chunk and of the L-BFGS chunk
        self.device = device or devices.configure(precision=method.precision)
        self.memory_budget, self.memory_note = memory.budget(method.memory_limit, self.device)
        self._style_cache: dict[tuple, StyleTargets] = {}
        self._tilings: dict[int, tiling.Tiled] = {}
        self._run = tf.function(self._run_steps, autograph=False)
        self._value_grad = tf.function(self._value_and_grad, autograph=False)
        self._lbfgs_run = tf.function(self._lbfgs_steps, autograph=False)
        self._losses = tf.function(self._loss_terms, autograph=False)

    # --------------------------------------------------------------------------------- targets

    def style_targets(self, style: np.ndarray, cache: bool = True) -> StyleTargets:
        """Gram targets of a style image (HxWx3 uint8), computed once and cached by content
        (not cached with ``cache`` False: a style matched to one photo's colours)."""
        key = (style.shape, hashlib.sha1(np.ascontiguousarray(style)).hexdigest())
        if not cache:
            self._style_cache.pop(key, None)
        if key not in self._style_cache:
            n_content = len(self.method.content_layers)
            short = min(style.shape[:2])
            if short < self.extractor.min_side:  # too small for the network: enlarge it
                factor = self.extractor.min_side / short
                size = [max(self.extractor.min_side, round(n * factor)) for n in style.shape[:2]]
                style = resized(style, size, "bilinear")
            tiled = tiling.for_size(self, *style.shape[:2])  # a print-size style: in tiles
            grams = (
                tiled.grams(to_tensor(style))
                if tiled is not None
                else [losses.gram(f) for f in self.extractor(to_tensor(style))[n_content:]]
            )
            self._style_cache[key] = StyleTargets(tuple(grams))
        return self._style_cache[key] if cache else self._style_cache.pop(key)

    def _content_targets(self, content: tf.Tensor) -> list[tf.Tensor]:
        return self.extractor(content)[: len(self.method.content_layers)]

    def check_fits(self, path, height: int, width: int, batch: int = 1) -> None:
        """Refuse up front an image (or batch) too large for the memory budget.

        Raises:
            TooLargeError: naming ``path`` and the largest ``--max-size`` that fits.
        """
        m = self.method
        try:
            memory.check(path, height, width, m.optimizer, self.memory_budget, batch, m.precision)
        except TooLargeError:
            if (
                batch > 1 or tiling.for_size(self, height, width) is None
            ):  # not even the smallest tile
                raise

    # ------------------------------------------------------------------------------ optimizing

    def stylize(
        self,
        content: np.ndarray,
        style: StyleTargets,
        init: np.ndarray | None = None,
        steps: int | None = None,
        temporal: Temporal | None = None,
        on_step: OnStep | None = None,
        on_level: OnLevel | None = None,
        learning_rate: float | None = None,
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
            on_level: called as ``on_level(index, works)`` as each level starts, with every
                level's :class:`vidstyle.engine.ladder.Work` (size, tiles, memory), coarsest
                first; not called for a run of one untiled level.
            learning_rate: Adam's learning rate for this run; the method's when None (a few
                steps from a finished image want a smaller one, see
                :mod:`vidstyle.pipeline.passes`).

        Returns:
            The result, uint8 of the shape of ``content``.

        Raises:
            TooLargeError: when the optimization would not fit in the memory budget, or the
                device ran out of memory during it.
            NumericError: when a loss term or the gradient became infinite or NaN.
        """
        if self.method.preserve_colors == "luminance":  # the photo's chroma, the result's Y
            gray, start, temporal = colors.luminance_inputs(content, init, temporal)
            result = self._stylize(gray, style, start, steps, temporal, on_step, on_level,
                                   learning_rate)  # fmt: skip
            return colors.recombine(result, content)
        return self._stylize(content, style, init, steps, temporal, on_step, on_level,
                             learning_rate)  # fmt: skip

    def _stylize(self, content, style, init, steps, temporal, on_step, on_level,
                 learning_rate=None) -> np.ndarray:  # fmt: skip
        height, width = content.shape[-3:-1]
        if min(height, width) < self.extractor.min_side:
            return self._stylize_enlarged(content, style, init, steps, temporal, on_step,
                                          on_level, learning_rate)  # fmt: skip
        batch = content.shape[0] if content.ndim == 4 else 1
        self.check_fits(None, *content.shape[-3:-1], batch)
        devices.apply_tf32(self.method.precision)
        try:
            out = self._optimize(content, style, init, steps, temporal, on_step, on_level,
                                 learning_rate)  # fmt: skip
        except tf.errors.ResourceExhaustedError as error:
            m = self.method
            raise memory.out_of_memory(
                *content.shape[-3:-1],
                batch,
                m.optimizer,
                self.memory_budget,
                m.precision,
                self.device.gpu,
            ) from error
        return out if content.ndim == 4 else out[0]

    def _optimize(self, content, style, init, steps, temporal, on_step, on_level,
                  learning_rate=None) -> np.ndarray:  # fmt: skip
        """The levels, each optimized from the last; the result as uint8 BxHxWx3."""
        steps = self.method.steps if steps is None else steps
        target = to_tensor(content)
        x = target if init is None else to_tensor(init)
        warped, mask, t_weight = self._temporal_tensors(x, temporal)
        solve = self._lbfgs if self.method.optimizer == "lbfgs" else self._adam
        height, width = target.shape[1:3]
        start, done, base = x, 0, None
        plan = schedule.levels(height, width, steps, self.method.scales)
        tilings = [tiling.for_size(self, level.height, level.width) if x.shape[0] == 1 else None
                   for level in plan]  # fmt: skip
        works = self._works(plan, tilings, x.shape[0])
        for index, (level, tiled) in enumerate(zip(plan, tilings)):
            if on_level is not None and (len(works) > 1 or tiled is not None):
                on_level(index, works)
            problem = self._problem(level, target, style, warped, mask, t_weight, tiled,
                                    learning_rate)  # fmt: skip
            level_start = schedule.resize(start, level.height, level.width)
            x = level_start if base is None else schedule.carry(level_start, x, base)
            run = solve if tiled is None else functools.partial(tiling.solve, self, tiled)
            x, bad = run(x, problem, level.steps, schedule.offset(on_step, done))
            numerics.raise_if_not_finite(bad, self.method.precision)  # one read per level
            done, base = done + level.steps, level_start
        return to_uint8(x)

    def _works(self, plan: list[schedule.Level], tilings: list, batch: int) -> list[ladder.Work]:
        """The levels as the engine runs them: each one's tiles and the memory it needs."""
        return [ladder.level_work(level, self.method, tiled and tiled.tile,
                                  tiled.margin if tiled else 0, batch)
                for level, tiled in zip(plan, tilings)]  # fmt: skip

    def _stylize_enlarged(self, content, style, init, steps, temporal, on_step,
                          on_level, learning_rate=None) -> np.ndarray:  # fmt: skip
        """Stylize an image with a side below the network's smallest (``extractor.min_side``):
        enlarge it (and its start and temporal term) to that side, then shrink the result back."""
        height, width = content.shape[-3:-1]
        big, start, temporal = enlarged(content, self.extractor.min_side, init, temporal)
        result = self._stylize(big, style, start, steps, temporal, on_step, on_level,
                               learning_rate)  # fmt: skip
        return resized(result, [height, width], "area")

    def _problem(self, level, target, style, warped, mask, t_weight: float, tiled,
                 learning_rate: float | None = None) -> Problem:  # fmt: skip
        """The level's loss inputs: content targets (per tile when tiled), temporal term resized
        to its size."""
        size = (level.height, level.width)
        content = schedule.resize(target, *size)
        return Problem(
            self._params(t_weight, learning_rate),
            self._content_targets(content) if tiled is None else tiled.content_targets(content),
            list(style.grams),
            schedule.resize(warped, *size),
            schedule.resize_mask(mask, *size),
        )

    def _adam(self, x: tf.Tensor, problem: Problem, steps: int, on_step: OnStep | None):
        """``steps`` Adam steps from ``x`` (fresh moments), in compiled chunks; early stop.
        Returns the image and the finite flags (:mod:`vidstyle.engine.numerics`)."""
        bad = numerics.no_flags(x.shape[0])
        state = (x, tf.zeros_like(x), tf.zeros_like(x), tf.constant(0.0), bad)  # x, m, v, t, bad

        def advance(n: tf.Tensor) -> tf.Tensor:
            nonlocal state
            *state, loss = self._run(*state, n, *problem.args())
            return loss

        self._chunks(advance, steps, on_step, ADAM_WINDOW)
        return state[0], state[4]

    def _lbfgs(self, x: tf.Tensor, problem: Problem, steps: int, on_step: OnStep | None):
        """``steps`` L-BFGS iterations from ``x`` (no pairs yet), in compiled chunks; early stop.
        Returns the image and the finite flags (:mod:`vidstyle.engine.numerics`)."""
        state = lbfgs.start(x, *self._value_grad(x, *problem.args()))

        def advance(n: tf.Tensor) -> tf.Tensor:
            nonlocal state
            state = self._lbfgs_run(state, n, *problem.args())
            return state.loss

        self._chunks(advance, steps, on_step, LBFGS_WINDOW)
        return state.x, state.bad

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

    def _params(self, temporal_weight: float, learning_rate: float | None = None) -> tf.Tensor:
        m = self.method
        lr = m.learning_rate if learning_rate is None else learning_rate
        values = (m.content_weight, m.style_weight, m.tv_weight, temporal_weight,
                  lr, m.beta_1, m.beta_2, m.epsilon)  # fmt: skip
        return tf.constant(values, tf.float32)

    def _total(self, x, features, params, content_targets, style_grams, warped, mask):
        """Per-image weighted total loss [B], and the unweighted terms."""
        terms = self._terms(x, features, content_targets, style_grams, warped, mask)
        total = (params[0] * terms["content"] + params[1] * terms["style"]
                 + params[2] * terms["tv"] + params[3] * terms["temporal"])  # fmt: skip
        return total, terms

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
        """Per-image losses [B], the gradient of their sum with respect to the images (each
        image's own), and per-image finite flags [B, 5] (:func:`numerics.finite_flags`).

        Two tapes: one over the network, one over the loss of its features (and of the image, for
        the total-variation and temporal terms). With a float16 network each image's feature
        gradients are scaled by its own power of two (:func:`numerics.gradient_scale`) before
        they flow back through it, and its image gradient is scaled back.
        """
        with tf.GradientTape() as network:
            network.watch(x)
            features = self.extractor(x)
        with tf.GradientTape() as loss_tape:
            loss_tape.watch([x, features])
            loss, terms = self._total(x, features, params, content_targets, style_grams,
                                      warped, mask)  # fmt: skip
            summed = tf.reduce_sum(loss)
        direct, feature_grads = loss_tape.gradient(summed, [x, features])
        if self.extractor.compute_dtype != tf.float16:
            grad = direct + network.gradient(features, x, output_gradients=feature_grads)
        else:
            scale = numerics.gradient_scale(feature_grads)
            scaled = [g * scale for g in feature_grads]
            grad = direct + network.gradient(features, x, output_gradients=scaled) / scale
        return loss, grad, numerics.finite_flags(terms, grad)

    def _run_steps(self, x, m, v, t, bad, n, params, content_targets, style_grams, warped, mask):
        """``n`` Adam steps (Keras's update rule), the image clipped to 0..1 after each; ``bad``
        keeps each image's finite flags from its first non-finite step."""
        self.traces += 1  # runs only while tracing: counts compilations
        lr, beta_1, beta_2, epsilon = params[4], params[5], params[6], params[7]

        def step(i, x, m, v, t, bad, _):
            loss, grad, finite = self._loss_and_grad(
                x, params, content_targets, style_grams, warped, mask
            )
            bad = numerics.first_bad(bad, finite)
            t = t + 1.0
            m = m + (grad - m) * (1.0 - beta_1)
            v = v + (tf.square(grad) - v) * (1.0 - beta_2)
            alpha = lr * tf.sqrt(1.0 - tf.pow(beta_2, t)) / (1.0 - tf.pow(beta_1, t))
            x = tf.clip_by_value(x - alpha * m / (tf.sqrt(v) + epsilon), 0.0, 1.0)
            return i + 1, x, m, v, t, bad, loss

        start = (tf.constant(0), x, m, v, t, bad, tf.zeros(tf.shape(x)[:1]))
        _, x, m, v, t, bad, loss = tf.while_loop(lambda i, *_: i < n, step, start)
        return x, m, v, t, bad, loss

    def _value_and_grad(self, x, params, content_targets, style_grams, warped, mask):
        """Per-image losses, the gradient and the finite flags (for L-BFGS)."""
        return self._loss_and_grad(x, params, content_targets, style_grams, warped, mask)

    def _lbfgs_steps(self, state, n, params, content_targets, style_grams, warped, mask):
        """``n`` L-BFGS iterations (:mod:`vidstyle.engine.lbfgs`), each image its own problem."""
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
        if self.method.preserve_colors == "luminance":
            content, image, temporal = colors.luminance_inputs(content, image, temporal)
        if min(image.shape[:2]) < self.extractor.min_side:
            image, content, temporal = enlarged(image, self.extractor.min_side, content, temporal)
        x, target = to_tensor(image), to_tensor(content)
        warped, mask, t_weight = self._temporal_tensors(x, temporal)
        terms = self._losses(x, self._content_targets(target), list(style.grams), warped, mask)
        out = {name: float(tf.reduce_sum(value)) for name, value in terms.items()}
        m = self.method
        out["total"] = (m.content_weight * out["content"] + m.style_weight * out["style"]
                        + m.tv_weight * out["tv"] + t_weight * out["temporal"])  # fmt: skip
        return out


def build_engine(method: MethodConfig, source, gpu: int = 0) -> Engine:
    """An engine with the VGG19 weights of ``source`` (a :class:`WeightsSource`; None: random).

    The device is set up first (:func:`vidstyle.engine.device.configure`): the GPU's free memory
    is read and TensorFlow limited to that GPU with memory growth before the weights are placed.

    Args:
        method: the method's options.
        source: the weights.
        gpu: which of the GPUs visible to this process to use (``CUDA_VISIBLE_DEVICES`` order).

    Raises:
        WeightsError: when the weights cannot be loaded.
        UsageError: for an unknown layer name, or a GPU that is not there.
    """
    from vidstyle.engine.model import keras_vgg19

    device = devices.configure(gpu, method.precision)
    vgg = keras_vgg19(source)
    extractor = FeatureExtractor(vgg, method.layers, compute_dtype(method.precision))
    return Engine(method, extractor, device)
