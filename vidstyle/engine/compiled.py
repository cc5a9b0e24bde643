"""The compiled loss, gradient and step functions: traced once per network, for every size.

Each function is a ``tf.function`` whose input signature has no fixed dimension (batch, height,
width and channels are all ``None``; only ranks and dtypes are fixed, taken from the first call),
so a new image size, batch size or coarse-to-fine level runs the graph already traced instead of
tracing and compiling a new one (:class:`Shapeless`). A trace of VGG19's Adam chunk takes
seconds on a CPU (and a new cuDNN autotune on a GPU); before, every new (batch, height, width)
paid it, and the automatic ladder paid it once per level.

The functions are shared by every engine over the same network (:func:`for_network`): the same
:class:`vidstyle.engine.model.FeatureExtractor` (so the same weights, layers and precision) with
the same number of content layers. What else differs between methods (the loss weights, Adam's
settings, the temporal weight) is an input (``params``), not a constant of the graph; the
optimizer picks the function (``adam`` or ``lbfgs``). A batch run's engine factory and the test
suite's fixture keep one extractor per set of layers and precision, so all their engines share
one trace per optimizer.

Precision: the network (VGG19's convolutions and their gradients) runs in the extractor's
``compute_dtype``; everything here is float32: the image, Adam's moments and step count, L-BFGS's
pairs, the Gram matrices (of float32 features, accumulated in float32) and every loss term.
"""

from __future__ import annotations

import threading
import weakref

import tensorflow as tf

from vidstyle.engine import lbfgs, losses, numerics


def _relaxed(value) -> tf.TensorSpec:
    """A tensor's spec with every dimension free (its rank and dtype kept)."""
    value = tf.convert_to_tensor(value)
    return tf.TensorSpec([None] * value.shape.rank, value.dtype)


class Shapeless:
    """A ``tf.function`` of ``python_function`` traced once for any shapes: its input signature
    is the first call's arguments (nested lists and named tuples of tensors) with every
    dimension relaxed to ``None``. Later calls must have the same structure, ranks and dtypes.
    """

    def __init__(self, python_function):
        self.python_function = python_function
        self.function = None
        self._lock = threading.Lock()

    def __call__(self, *args):
        if self.function is None:
            with self._lock:
                if self.function is None:
                    signature = tf.nest.map_structure(_relaxed, args)
                    self.function = tf.function(self.python_function, input_signature=signature,
                                                autograph=False)  # fmt: skip
        return self.function(*args)

    def experimental_get_tracing_count(self) -> int:
        """How many times the function was traced (0 before its first call)."""
        return 0 if self.function is None else self.function.experimental_get_tracing_count()


class Compiled:
    """The loss and step functions of one network with its first ``n_content`` layers as content
    layers; get them from :func:`for_network`.

    Attributes:
        adam, lbfgs, value_and_grad, terms: the compiled functions (:class:`Shapeless`) of
            :meth:`adam_steps`, :meth:`lbfgs_steps`, :meth:`loss_and_grad`, :meth:`loss_terms`.
        traces: how many times the Adam and the L-BFGS chunks were traced, together.
    """

    def __init__(self, extractor, n_content: int):
        self._extractor = weakref.ref(extractor)  # traced graphs hold its kernels, not it
        self.n_content = n_content
        self.traces = 0
        self.adam = Shapeless(self.adam_steps)
        self.lbfgs = Shapeless(self.lbfgs_steps)
        self.value_and_grad = Shapeless(self.loss_and_grad)
        self.terms = Shapeless(self.loss_terms)

    @property
    def extractor(self):
        """The network (alive as long as an engine or the caller holds it)."""
        return self._extractor()

    def total(self, x, features, params, content_targets, style_grams, warped, mask):
        """Per-image weighted total loss [B], and the unweighted terms."""
        terms = self.terms_of(x, features, content_targets, style_grams, warped, mask)
        total = (params[0] * terms["content"] + params[1] * terms["style"]
                 + params[2] * terms["tv"] + params[3] * terms["temporal"])  # fmt: skip
        return total, terms

    def loss_terms(self, x, content_targets, style_grams, warped, mask) -> dict[str, tf.Tensor]:
        """The unweighted loss terms of images ``x`` (each [B], float32)."""
        return self.terms_of(x, self.extractor(x), content_targets, style_grams, warped, mask)

    def terms_of(self, x, features, content_targets, style_grams, warped, mask) -> dict:
        """The unweighted loss terms given the network's (float32) features of ``x``."""
        n_content = self.n_content
        return {
            "content": losses.content_loss(features[:n_content], content_targets),
            "style": losses.style_loss(features[n_content:], style_grams),
            "tv": losses.total_variation(x),
            "temporal": losses.temporal_loss(x, warped, mask),
        }

    def loss_and_grad(self, x, params, content_targets, style_grams, warped, mask):
        """Per-image losses [B], the gradient of their sum with respect to the images (each
        image's own), and per-image finite flags [B, 5] (:func:`numerics.finite_flags`).

        Two tapes: one over the network, one over the loss of its features (and of the image, for
        the total-variation and temporal terms). With a float16 network each image's feature
        gradients are scaled by its own power of two (:func:`numerics.gradient_scale`) before
        they flow back through it, and its image gradient is scaled back.
        """
        extractor = self.extractor
        with tf.GradientTape() as network:
            network.watch(x)
            features = extractor(x)
        with tf.GradientTape() as loss_tape:
            loss_tape.watch([x, features])
            loss, terms = self.total(x, features, params, content_targets, style_grams, warped,
                                     mask)  # fmt: skip
            summed = tf.reduce_sum(loss)
        direct, feature_grads = loss_tape.gradient(summed, [x, features])
        if extractor.compute_dtype != tf.float16:
            grad = direct + network.gradient(features, x, output_gradients=feature_grads)
        else:
            scale = numerics.gradient_scale(feature_grads)
            scaled = [g * scale for g in feature_grads]
            grad = direct + network.gradient(features, x, output_gradients=scaled) / scale
        return loss, grad, numerics.finite_flags(terms, grad)

    def adam_steps(self, x, m, v, t, bad, n, params, content_targets, style_grams, warped, mask):
        """``n`` Adam steps (Keras's update rule), the image clipped to 0..1 after each; ``bad``
        keeps each image's finite flags from its first non-finite step."""
        self.traces += 1  # runs only while tracing: counts compilations
        lr, beta_1, beta_2, epsilon = params[4], params[5], params[6], params[7]

        def step(i, x, m, v, t, bad, _):
            loss, grad, finite = self.loss_and_grad(x, params, content_targets, style_grams,
                                                    warped, mask)  # fmt: skip
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

    def lbfgs_steps(self, state, n, params, content_targets, style_grams, warped, mask):
        """``n`` L-BFGS iterations (:mod:`vidstyle.engine.lbfgs`), each image its own problem."""
        self.traces += 1  # runs only while tracing: counts compilations

        def value_and_grad(x):
            return self.loss_and_grad(x, params, content_targets, style_grams, warped, mask)

        return lbfgs.iterate(value_and_grad, lbfgs.State(*state), n)


_shared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # extractor -> {n: Compiled}
_shared_lock = threading.Lock()


def for_network(extractor, n_content: int) -> Compiled:
    """The compiled functions of ``extractor`` with ``n_content`` content layers, shared by every
    engine over that extractor (kept while the extractor lives).

    Args:
        extractor: a :class:`vidstyle.engine.model.FeatureExtractor`.
        n_content: how many of its layers (the first ones) are content layers.
    """
    with _shared_lock:
        by_count = _shared.setdefault(extractor, {})
        if n_content not in by_count:
            by_count[n_content] = Compiled(extractor, n_content)
        return by_count[n_content]
