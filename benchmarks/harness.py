"""What every benchmark script shares: the command line, the engines, the inputs and the end of a
run (its tables printed, written as JSON when asked, and logged in ``benchmarks/results.md``).

A script's shape (see ``benchmarks/video.py``)::

    def main(argv=None, make_engine=None):
        parser = harness.parser(__doc__)
        parser.add_argument(...)
        args = harness.parse(parser, argv)
        make_engine = make_engine or harness.Engines(args.weights)
        table = Table("row", ("s/step", "{:.3f}"))
        ...
        harness.finish(args, "NAME", precision, [table], rows)

``make_engine(method)`` returns an engine for a :class:`vidstyle.config.MethodConfig`; the
smoke tests pass the tiny random-weight engine there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks import results
from benchmarks.table import Table
from vidstyle.config import MethodConfig
from vidstyle.media.images import fit_longest, load_image, resize_to

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
CONTENT = SAMPLES / "photos" / "astronaut.jpg"  # 512 px
STYLE = SAMPLES / "swirls.jpg"
CLIP = SAMPLES / "pan.mp4"  # a pan across a photo, then a cut
SHARED = next((p for p in (ROOT.parent / "shared", Path("/work/shared")) if p.is_dir()),
              ROOT.parent / "shared")  # fmt: skip  # the machine's shared images and clips
MakeEngine = Callable[[MethodConfig], object]


# --------------------------------------------------------------------------- command line


def parser(doc: str, weights: bool = True) -> argparse.ArgumentParser:
    """A script's parser, with the options every script takes: ``--results FILE`` (the log,
    ``-`` for none), ``--json FILE`` and (with ``weights``) ``--weights FILE``."""
    out = argparse.ArgumentParser(description=doc.split("\n")[0])
    out.add_argument("--results", default=str(results.RESULTS),
                     help="append the tables to this log ('-': not logged)")  # fmt: skip
    out.add_argument("--json", type=Path, help="also write every figure to this file")
    if weights:
        out.add_argument("--weights", type=Path, help="VGG19 weights file (.h5 or .bin)")
    return out


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv`` (the command line when None), keeping it as ``args.argv`` for the log."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    return args


def fields(text: str, defaults) -> dict:
    """``key=value,key=value`` as changes to the dataclass ``defaults``, each value of its
    field's type (a tuple of ints as ``1/2/4``).

    Raises:
        ValueError: for an unknown field, or a value of the wrong type.
    """
    changes, declared = {}, {f.name: f for f in dataclasses.fields(defaults)}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = (s.strip() for s in item.partition("="))
        if key not in declared:
            raise ValueError(f"{text!r}: no field {key!r}")
        kind = type(getattr(defaults, key))
        if kind is type(None):  # an optional number: its annotation says which
            kind = {"int": int, "float": float}.get(str(declared[key].type).split(" ")[0], str)
        if kind is tuple:
            changes[key] = tuple(int(v) for v in value.split("/"))
        elif kind is int:
            changes[key] = int(float(value))
        elif kind in (float, str):
            changes[key] = kind(value)
        else:
            raise ValueError(f"{text!r}: {key!r} is not a number, word or tuple field")
    return changes


# -------------------------------------------------------------------------------- engines


class Engines:
    """``make_engine(method)``: an engine for a method over one Keras VGG19, its weights read
    once, its features built once per set of layers and precision (the engines over them share
    the compiled functions).

    Args:
        weights: a weights file; the usual sources (:func:`vidstyle.weights.resolve`) when None.
        vgg: the Keras network to use instead (the smoke tests' tiny random-weight one).
    """

    def __init__(self, weights: Path | None = None, vgg=None):
        self.weights = weights
        self._vgg = vgg
        self.extractors: dict = {}

    def vgg(self):
        """The Keras VGG19 (loaded on first use), for a script that runs it outside vidstyle."""
        if self._vgg is None:
            from vidstyle.engine.device import configure
            from vidstyle.engine.model import keras_vgg19
            from vidstyle.weights import resolve

            configure(None)  # the device first, as build_engine does (memory growth on a GPU)
            self._vgg = keras_vgg19(resolve(self.weights))
        return self._vgg

    def __call__(self, method: MethodConfig):
        from vidstyle.engine.model import FeatureExtractor
        from vidstyle.engine.optimize import Engine, compute_dtype

        key = (method.layers, method.precision)
        if key not in self.extractors:
            dtype = compute_dtype(method.precision)
            self.extractors[key] = FeatureExtractor(self.vgg(), method.layers, dtype)
        return Engine(method, self.extractors[key])


def precision_label(asked: str = "auto") -> str:
    """A precision as the log shows it: ``bfloat16 (auto)`` when ``auto`` chose bfloat16."""
    resolved = MethodConfig(precision=asked).precision
    return resolved if resolved == asked else f"{resolved} ({asked})"


# --------------------------------------------------------------------------------- inputs


def picture(path: Path, size: int | None = None) -> np.ndarray:
    """An image file as HxWx3 uint8 (vidstyle's loader), its longest side fitted to ``size``."""
    rgb = load_image(path).rgb
    return rgb if size is None else fit_longest(rgb, size)


def resized(path: Path, height: int, width: int) -> np.ndarray:
    """An image file resized to exactly ``height`` x ``width`` (vidstyle's loader and resize)."""
    return resize_to(load_image(path).rgb, width, height)


def shared(name: str, fallback: Path) -> Path:
    """A file of the machine's shared images and clips, else a sample of the repository."""
    path = SHARED / name
    return path if path.is_file() else fallback


def child(script: str, argv: Sequence[str], timeout: float | None = None, tree: Path = ROOT,
          cwd: Path | None = None) -> subprocess.CompletedProcess:  # fmt: skip
    """Run ``python -m benchmarks.SCRIPT ARGV`` (or ``python -m vidstyle ARGV`` for ``script``
    ``vidstyle``) in a process of its own, in ``cwd``, with ``tree``'s ``vidstyle`` first on the
    path.

    Returns:
        The finished process, its output captured as text (its exit code unchecked).

    Raises:
        subprocess.TimeoutExpired: after ``timeout`` seconds.
    """
    module = "vidstyle" if script == "vidstyle" else f"benchmarks.{script}"
    path = os.pathsep.join([str(tree), str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = os.environ | {"PYTHONPATH": path}
    return subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)  # fmt: skip


# ------------------------------------------------------------------------------ the end


def finish(args: argparse.Namespace, script: str, precision: str, tables: Sequence[Table],
           figures=None, notes: Sequence[str] = ()) -> str:  # fmt: skip
    """Print the tables and notes, write ``figures`` to ``--json``, and append the run's entry
    to ``--results`` (unless ``-``).

    Returns:
        The entry (markdown).
    """
    for table in tables:
        print(f"\n{table}")
    for note in notes:
        print(note)
    if args.json and figures is not None:
        args.json.write_text(json.dumps(figures, indent=1, default=str) + "\n")
    argv = list(args.argv)
    if "--results" in argv:  # where the entry goes is not part of what ran
        del argv[argv.index("--results") : argv.index("--results") + 2]
    command = " ".join(["python -m benchmarks." + script, *map(shlex.quote, argv)])
    text = results.entry(script, command, precision, tables, notes)
    if args.results != "-":
        results.append(Path(args.results), text)
    return text
