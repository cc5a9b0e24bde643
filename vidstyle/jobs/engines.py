"""Engine factories: how a run builds an engine for a method. The default one loads the real
VGG19 weights once per set of layers and precision; :class:`EngineFactory` is its picklable form
for Ray workers, which resolve the weights from their own node's sources.

TensorFlow is imported only when an engine is built (inside :mod:`vidstyle.engine`).
"""

from __future__ import annotations

from pathlib import Path


def default_engine_factory(weights: str | Path | None = None):
    """Engines with the real VGG19 weights, loaded once per set of layers and precision.

    Args:
        weights: a VGG19 weights file, else the usual sources (:func:`vidstyle.weights.resolve`).

    Returns:
        A function from a :class:`vidstyle.config.MethodConfig` to an engine.

    Raises:
        WeightsError: when no weights are found.
    """
    from vidstyle import weights as weights_module

    source = weights_module.resolve(weights)
    extractors: dict = {}

    def make(method):
        from vidstyle.engine.optimize import Engine, build_engine

        key = (method.layers, method.precision)
        if key in extractors:
            return Engine(method, extractors[key])
        engine = build_engine(method, source)
        extractors[key] = engine.extractor
        return engine

    return make


class EngineFactory:
    """A picklable engine factory for workers: the VGG19 weights are resolved on the worker,
    from its own node's sources, the first time an engine is needed."""

    def __init__(self, weights: str | Path | None = None):
        self.weights = weights
        self.make = None

    def __getstate__(self):
        return {"weights": self.weights, "make": None}

    def __call__(self, method):
        if self.make is None:
            self.make = default_engine_factory(self.weights)
        return self.make(method)
