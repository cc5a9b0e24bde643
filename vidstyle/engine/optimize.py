"""The optimization: Adam (or L-BFGS) over the image's pixels, compiled once for every size.

Adam: the whole state (image, Adam's moments, step count) lives in tensors that are passed in and
out of one ``tf.function``, which runs a chunk of steps in a ``tf.while_loop``. Nothing goes back
to the host inside a chunk; the loss is read once per chunk for progress. No ``tf.Variable`` is
created per item, and the function's signature fixes no dimension, so an image of any size (a
new size, a batch, a coarse-to-fine level) reuses the one compiled graph; the engines over one
network share it (:mod:`vidstyle.engine.compiled`).

L-BFGS (:mod:`vidstyle.engine.lbfgs`) runs the same way: its state (image, loss, gradient and
correction pairs) goes in and out of one ``tf.function`` running a chunk of iterations, on the same
loss as Adam's.

Both run over the levels that :class:`vidstyle.engine.planner.Planner` gives (coarse to fine, each
tiled or not; :func:`vidstyle.engine.inputs.carry` takes the image up), in chunks of steps between
which the request's ``stop`` is called and the loss read only when wanted, and which end early on
a plateau (:mod:`vidstyle.engine.stepping`). Each evaluation also computes whether the loss
terms and the gradient are finite; the flags stay on the device and are read once per level
(:mod:`vidstyle.engine.numerics`). Running out of memory, in any shape
(:mod:`vidstyle.engine.faults`), is a :class:`TooLargeError` (style images and
:meth:`Engine.losses` too); cuDNN that cannot start is one :class:`DeviceError`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import tensorflow as tf

from vidstyle.engine import colors, compiled, faults, lbfgs, losses, memory, numerics, tiling
from vidstyle.engine import device as devices
from vidstyle.engine.inputs import (
    Problem,
    StyleTargets,
    Temporal,
    carry,
    compute_dtype,
    enlarged,
    resize,
    resize_mask,
    resized,
    temporal_tensors,
    to_tensor,
    to_uint8,
)
from vidstyle.engine.model import FeatureExtractor
from vidstyle.engine.planner import Planner
from vidstyle.engine.request import Method, OnStep, Request, Stop
from vidstyle.engine.stepping import ADAM_WINDOW, LBFGS_WINDOW, offset, run_chunks


class Engine:
    """Stylizes images with one VGG19 and one set of method options.

    Args:
        method: the method's options.
        extractor: VGG19 features at ``method.layers`` (content layers first).
        device: the device set up by :func:`vidstyle.engine.device.configure` (with the GPU's
            free memory read before TensorFlow reserved any); when None, the one this process
            set up already (whichever GPU), else GPU 0.

    Attributes:
        planner: what fits, with which levels and tiles (:class:`Planner`).
        memory_budget: bytes an optimization may use, None when unknown (nothing refused); the
            planner's, and may be set.
        memory_note: why the budget is unknown, one line naming parameters as ``{name}``.
        compiled: the loss and step functions, traced once for every size and shared by the
            engines over the same extractor (:class:`vidstyle.engine.compiled.Compiled`).
        traces: how many times their Adam and L-BFGS chunks were traced.
    """

    def __init__(self, method: Method, extractor: FeatureExtractor,
                 device: devices.Device | None = None):  # fmt: skip
        self.method = method
        self.extractor = extractor
        self.device = device or devices.configure()
        devices.set_tf32(method.tf32)  # the process's one TF32 rule (refused if another)
        budget, self.memory_note = memory.budget(method.memory_limit, self.device)
        self.planner = Planner(method, budget, [op.kind for op in extractor.ops])
        self._style_cache: dict[tuple, StyleTargets] = {}
        self._tilings: dict[int, tiling.Tiled] = {}
        # traced once for every size, shared by the engines over this extractor
        self.compiled = compiled.for_network(extractor, len(method.content_layers))
        self._run = self.compiled.adam
        self._value_grad = self.compiled.value_and_grad  # for L-BFGS's start
        self._lbfgs_run = self.compiled.lbfgs
        self._losses = self.compiled.terms

    @property
    def traces(self) -> int:
        """Compilations of the Adam chunk and of the L-BFGS chunk, shared with the other engines
        over the same extractor (:mod:`vidstyle.engine.compiled`)."""
        return self.compiled.traces

    @property
    def memory_budget(self) -> int | None:
        """Bytes an optimization may use, None when unknown (the planner's budget)."""
        return self.planner.budget

    @memory_budget.setter
    def memory_budget(self, value: int | None) -> None:
        self.planner.budget = value

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
            tiled = self._tiled(self.planner.tile(*style.shape[:2]))  # a print-size style: tiled
            image = to_tensor(style)
            try:
                grams = (tiled.grams(image) if tiled is not None else
                         [losses.gram(f) for f in self.extractor(image)[n_content:]])  # fmt: skip
            except tf.errors.OpError as error:
                self._raise_known(error, style.shape[:2], 1)
                raise
            self._style_cache[key] = StyleTargets(tuple(grams))
        return self._style_cache[key] if cache else self._style_cache.pop(key)

    def _content_targets(self, content: tf.Tensor) -> list[tf.Tensor]:
        return self.extractor(content)[: len(self.method.content_layers)]

    def check_fits(self, path, height: int, width: int, batch: int = 1) -> None:
        """Refuse up front an image (or batch) too large for the memory budget, even tiled
        (:meth:`Planner.check`).

        Raises:
            TooLargeError: naming ``path`` and the largest ``--max-size`` that fits.
        """
        self.planner.check(path, height, width, batch)

    def _tiled(self, tile: int | None) -> tiling.Tiled | None:
        """The tiled loss for a tile side (one kept per side), None untiled."""
        if tile is None:
            return None
        if tile not in self._tilings:
            n_content = len(self.method.content_layers)
            self._tilings[tile] = tiling.Tiled(self.extractor, n_content, tile)
        return self._tilings[tile]

    # ------------------------------------------------------------------------------ optimizing

    def stylize(self, request: Request) -> np.ndarray:
        """Optimize an image (or a batch of same-size images) towards content and style.

        The optimizer, the coarse-to-fine levels and the early stop are the method's
        (``optimizer``, ``scales``, ``tol``); a batch is optimized as the sum of its losses.

        Args:
            request: what to optimize (:class:`vidstyle.engine.request.Request`).

        Returns:
            The result, uint8 of the shape of the content.

        Raises:
            TooLargeError: when the optimization would not fit in the memory budget, or the
                device ran out of memory during it.
            NumericError: when a loss term or the gradient became infinite or NaN.
            DeviceError: cuDNN could not start (:mod:`vidstyle.engine.faults`).
            Whatever the request's ``stop`` raises.
        """
        if self.method.preserve_colors == "luminance":  # the photo's chroma, the result's Y
            gray, start, temporal = colors.luminance_inputs(request.content, request.start,
                                                            request.temporal)  # fmt: skip
            result = self._stylize(request.replace(content=gray, start=start, temporal=temporal))
            return colors.recombine(result, request.content)
        return self._stylize(request)

    def _stylize(self, request: Request) -> np.ndarray:
        if min(request.size) < self.extractor.min_side:
            return self._stylize_enlarged(request)
        self.check_fits(None, *request.size, request.batch)
        try:
            out = self._optimize(request)
        except tf.errors.OpError as error:
            self._raise_known(error, request.size, request.batch)
            raise
        return out if request.content.ndim == 4 else out[0]

    def _raise_known(self, error: Exception, size, batch: int) -> None:
        """Raise :class:`TooLargeError` for any out-of-memory shape and
        :class:`DeviceError` for cuDNN that cannot start (:mod:`vidstyle.engine.faults`);
        return for other errors."""
        if faults.out_of_memory(error):
            raise self.planner.out_of_memory(*size, batch, self.device.gpu) from error
        if (broken := faults.library_error(error)) is not None:
            raise broken from error

    def _optimize(self, request: Request) -> np.ndarray:
        """The planner's levels, each optimized from the last; the result as uint8 BxHxWx3."""
        target = to_tensor(request.content)
        x = target if request.start is None else to_tensor(request.start)
        warped, mask, t_weight = temporal_tensors(x, request.temporal)
        works = self.planner.plan(*target.shape[1:3], request.steps, x.shape[0])
        start, done, base = x, 0, None
        for index, work in enumerate(works):
            tiled = self._tiled(work.tile)
            if request.on_level is not None and (len(works) > 1 or tiled is not None):
                request.on_level(index, works)
            problem = self._problem(work, target, request.targets, warped, mask, t_weight, tiled,
                                    request.learning_rate)  # fmt: skip
            level_start = resize(start, work.height, work.width)
            x = level_start if base is None else carry(level_start, x, base)
            on_step = offset(request.on_step, done)
            if tiled is not None:
                x, bad = tiling.solve(tiled, x, problem, work.steps, self.method, on_step,
                                      request.stop)  # fmt: skip
            elif self.method.optimizer == "lbfgs":
                x, bad = self._lbfgs(x, problem, work.steps, on_step, request.stop)
            else:
                x, bad = self._adam(x, problem, work.steps, on_step, request.stop)
            numerics.raise_if_not_finite(bad, self.method.precision)  # one read per level
            done, base = done + work.steps, level_start
        return to_uint8(x)

    def _stylize_enlarged(self, request: Request) -> np.ndarray:
        """Stylize an image with a side below the network's smallest (``extractor.min_side``):
        enlarge it (and its start and temporal term) to that side, then shrink the result back."""
        big, start, temporal = enlarged(request.content, self.extractor.min_side, request.start,
                                        request.temporal)  # fmt: skip
        result = self._stylize(request.replace(content=big, start=start, temporal=temporal))
        return resized(result, list(request.size), "area")

    def _problem(self, level, target, style, warped, mask, t_weight: float, tiled,
                 learning_rate: float | None = None) -> Problem:  # fmt: skip
        """The level's loss inputs: content targets (per tile when tiled), temporal term resized
        to its size."""
        size = (level.height, level.width)
        content = resize(target, *size)
        return Problem(
            self._params(t_weight, learning_rate),
            self._content_targets(content) if tiled is None else tiled.content_targets(content),
            list(style.grams),
            resize(warped, *size),
            resize_mask(mask, *size),
        )

    def _adam(self, x: tf.Tensor, problem: Problem, steps: int, on_step: OnStep | None,
              stop: Stop | None = None):  # fmt: skip
        """``steps`` Adam steps from ``x`` (fresh moments), in compiled chunks; early stop.
        Returns the image and the finite flags (:mod:`vidstyle.engine.numerics`)."""
        bad = numerics.no_flags(x.shape[0])
        state = (x, tf.zeros_like(x), tf.zeros_like(x), tf.constant(0.0), bad)  # x, m, v, t, bad

        def advance(n: tf.Tensor) -> tf.Tensor:
            nonlocal state
            *state, loss = self._run(*state, n, *problem.args())
            return loss

        run_chunks(advance, steps, self.method.tol, ADAM_WINDOW, on_step, stop)
        return state[0], state[4]

    def _lbfgs(self, x: tf.Tensor, problem: Problem, steps: int, on_step: OnStep | None,
               stop: Stop | None = None):  # fmt: skip
        """``steps`` L-BFGS iterations from ``x`` (no pairs yet), in compiled chunks; early stop.
        Returns the image and the finite flags (:mod:`vidstyle.engine.numerics`)."""
        state = lbfgs.start(x, *self._value_grad(x, *problem.args()))

        def advance(n: tf.Tensor) -> tf.Tensor:
            nonlocal state
            state = self._lbfgs_run(state, n, *problem.args())
            return state.loss

        run_chunks(advance, steps, self.method.tol, LBFGS_WINDOW, on_step, stop)
        return state.x, state.bad

    def _params(self, temporal_weight: float, learning_rate: float | None = None) -> tf.Tensor:
        m = self.method
        lr = m.learning_rate if learning_rate is None else learning_rate
        values = (m.content_weight, m.style_weight, m.tv_weight, temporal_weight,
                  lr, m.beta_1, m.beta_2, m.epsilon)  # fmt: skip
        return tf.constant(values, tf.float32)

    def _loss_and_grad(self, x, params, content_targets, style_grams, warped, mask):
        """Per-image losses, gradient and finite flags, not compiled
        (:meth:`vidstyle.engine.compiled.Compiled.loss_and_grad`)."""
        return self.compiled.loss_and_grad(x, params, content_targets, style_grams, warped, mask)

    def _loss_terms(self, x, content_targets, style_grams, warped, mask) -> dict[str, tf.Tensor]:
        """The unweighted loss terms, not compiled (differentiable by a caller's tape)."""
        return self.compiled.loss_terms(x, content_targets, style_grams, warped, mask)

    # ----------------------------------------------------------------------------- measuring

    def losses(
        self,
        image: np.ndarray,
        content: np.ndarray,
        style: StyleTargets,
        temporal: Temporal | None = None,
    ) -> dict[str, float]:
        """The loss terms of an image (uint8 HxWx3) against content, style and a temporal term,
        measured in the tiles :meth:`stylize` would use at this size (the same terms, to
        round-off), so that an image stylized in tiles is measured in tiles too.

        Returns:
            ``{"content", "style", "tv", "temporal"}`` unweighted, and ``"total"`` with the
            method's weights (and the temporal weight when a temporal term is given).

        Raises:
            TooLargeError: the image does not fit the memory budget, even tiled, or the device
                ran out of memory measuring it.
            DeviceError: cuDNN could not start (:mod:`vidstyle.engine.faults`).
        """
        if self.method.preserve_colors == "luminance":
            content, image, temporal = colors.luminance_inputs(content, image, temporal)
        if min(image.shape[:2]) < self.extractor.min_side:
            image, content, temporal = enlarged(image, self.extractor.min_side, content, temporal)
        self.check_fits(None, *image.shape[:2])
        x, target = to_tensor(image), to_tensor(content)
        warped, mask, t_weight = temporal_tensors(x, temporal)
        tiled = self._tiled(self.planner.tile(*image.shape[:2]))
        try:
            if tiled is None:
                targets, measure = self._content_targets(target), self._losses
            else:
                targets, measure = tiled.content_targets(target), tiled.terms
            terms = measure(x, targets, list(style.grams), warped, mask)
        except tf.errors.OpError as error:
            self._raise_known(error, image.shape[:2], 1)
            raise
        out = {name: float(tf.reduce_sum(value)) for name, value in terms.items()}
        m = self.method
        out["total"] = (m.content_weight * out["content"] + m.style_weight * out["style"]
                        + m.tv_weight * out["tv"] + t_weight * out["temporal"])  # fmt: skip
        return out


def build_engine(method: Method, source, gpu: int = 0) -> Engine:
    """An engine with the VGG19 weights of ``source`` (a :class:`WeightsSource`; None: random).

    The device is set up first (:func:`vidstyle.engine.device.configure`): the GPU's free memory
    is read and TensorFlow limited to that GPU with memory growth before the weights are placed.

    Args:
        method: the method's options.
        source: the weights.
        gpu: which of the GPUs visible to this process to use (``CUDA_VISIBLE_DEVICES`` order).

    Raises:
        WeightsError: when the weights cannot be loaded.
        UsageError: for an unknown layer name, a GPU that is not there, or a ``tf32`` other
            than the one this process set.
    """
    from vidstyle.engine.model import keras_vgg19

    device = devices.configure(gpu, tf32=method.tf32)
    vgg = keras_vgg19(source)
    extractor = FeatureExtractor(vgg, method.layers, compute_dtype(method.precision))
    return Engine(method, extractor, device)
