"""A folder of images: walk it, mirror its tree, skip finished outputs, collect failures.

Each output is written to a temporary name and renamed, so an output that exists is complete;
a rerun after a crash or Ctrl-C skips it unless asked to overwrite.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidstyle.config import FolderConfig
from vidstyle.errors import InputError, VidstyleError
from vidstyle.fsutil import is_temporary
from vidstyle.media.images import IMAGE_SUFFIXES
from vidstyle.progress import NullReporter, Reporter


@dataclass(frozen=True)
class Item:
    """One image of the folder and where its result goes."""

    source: Path
    output: Path
    name: str  # the path relative to the input folder, for messages


@dataclass(frozen=True)
class ItemResult:
    """What became of one item: ``done``, ``skipped`` or ``failed`` (with the reason)."""

    item: Item
    status: str
    seconds: float = 0.0
    reason: str | None = None


def plan(input_dir: Path, output_dir: Path, config: FolderConfig) -> list[Item]:
    """The images below ``input_dir`` (recursively, sorted) and their mirrored output paths.

    Hidden files and folders, leftover temporary files and anything inside ``output_dir`` (when
    it lies within the input folder) are left out.

    Raises:
        InputError: when ``input_dir`` is not a folder or holds no images.
    """
    if not input_dir.is_dir():
        raise InputError(input_dir, "no such folder")
    output_root = output_dir.resolve()
    items = []
    for path in sorted(input_dir.rglob("*")):
        relative = path.relative_to(input_dir)
        if not _is_candidate(path, relative, output_root):
            continue
        suffix = config.suffix or path.suffix.lower()
        items.append(Item(path, (output_dir / relative).with_suffix(suffix), relative.as_posix()))
    if not items:
        raise InputError(input_dir, "contains no images", hint="images end in .jpg, .png, ...")
    return items


def _is_candidate(path: Path, relative: Path, output_root: Path) -> bool:
    if any(part.startswith(".") for part in relative.parts) or is_temporary(path):
        return False
    if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
        return False
    return output_root not in path.resolve().parents


StylizeOne = Callable[[Path, Path], np.ndarray]


def run(
    items: list[Item],
    stylize_one: StylizeOne,
    config: FolderConfig,
    steps: int,
    reporter: Reporter | None = None,
) -> list[ItemResult]:
    """Stylize every item, going on past failures.

    Args:
        items: from :func:`plan`.
        stylize_one: ``stylize_one(source, output)`` writes one result atomically.
        config: overwrite or skip finished outputs.
        steps: steps per item, for progress.
        reporter: progress.

    Returns:
        One result per item, in order.
    """
    reporter = reporter or NullReporter()
    reporter.begin(len(items), "images")
    results = []
    try:
        for item in items:
            results.append(_run_one(item, stylize_one, config, steps, reporter))
    finally:
        reporter.end()
    return results


def _run_one(item: Item, stylize_one: StylizeOne, config: FolderConfig, steps: int, reporter):
    if item.output.exists() and not config.overwrite:
        reporter.end_item(item.name, "skipped", 0.0)
        return ItemResult(item, "skipped", reason="output exists")
    started = time.monotonic()
    reporter.start_item(item.name, steps)
    try:
        stylize_one(item.source, item.output)
    except VidstyleError as error:
        result = ItemResult(item, "failed", time.monotonic() - started, error.message())
    except Exception as error:  # one bad item must not stop the others
        reason = f"{item.source}: {type(error).__name__}: {error}"
        result = ItemResult(item, "failed", time.monotonic() - started, reason)
    else:
        result = ItemResult(item, "done", time.monotonic() - started)
    reporter.end_item(item.name, result.status, result.seconds)
    return result
