"""A folder of images: walk it, mirror its tree, skip finished outputs, collect failures.

Each output is written to a temporary name and renamed, so an output that exists is complete;
a rerun after a crash or Ctrl-C skips it unless asked to overwrite.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

from vidstyle.config import FolderConfig
from vidstyle.errors import InputError, InternalError, VidstyleError, debugging
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


StylizeGroup = Callable[[list[tuple[Path, Path]]], list[tuple[object, VidstyleError | None]]]
GroupKey = Callable[[Item], Hashable | None]


def groups(items: list[Item], key: GroupKey | None, size: int) -> list[list[Item]]:
    """The items in groups of up to ``size`` with equal keys (a None key: alone), each group at
    the place of its first item."""
    if size <= 1 or key is None:
        return [[item] for item in items]
    out: list[list[Item]] = []
    filling: dict[Hashable, list[Item]] = {}
    for item in items:
        k = key(item)
        group = filling.get(k) if k is not None else None
        if group is None or len(group) >= size:
            group = []
            out.append(group)
            if k is not None:
                filling[k] = group
        group.append(item)
    return out


def run(
    items: list[Item],
    stylize_group: StylizeGroup,
    config: FolderConfig,
    steps: int,
    reporter: Reporter | None = None,
    key: GroupKey | None = None,
) -> list[ItemResult]:
    """Stylize every item, ``config.batch`` items of equal ``key`` at a time, past failures.

    Args:
        items: from :func:`plan`.
        stylize_group: ``stylize_group([(source, output), ...])`` writes each result atomically
            and returns per item ``(result, None)`` or ``(None, error)``
            (see :func:`vidstyle.pipeline.image.stylize_files`).
        config: overwrite or skip finished outputs; the batch size.
        steps: steps per item, for progress.
        reporter: progress.
        key: the working size of an item (None when unknown), to batch equal sizes.

    Returns:
        One result per item, in order.
    """
    reporter = reporter or NullReporter()
    reporter.begin(len(items), "images")
    results: dict[Path, ItemResult] = {}
    todo = []
    for item in items:
        if item.output.exists() and not config.overwrite:
            reporter.end_item(item.name, "skipped", 0.0)
            results[item.source] = ItemResult(item, "skipped", reason="output exists")
        else:
            todo.append(item)
    try:
        for group in groups(todo, key, config.batch):
            for result in _run_group(group, stylize_group, steps, reporter):
                results[result.item.source] = result
    finally:
        reporter.end()
    return [results[item.source] for item in items]


def _run_group(group: list[Item], stylize_group: StylizeGroup, steps: int, reporter):
    started = time.monotonic()
    more = f" +{len(group) - 1}" if len(group) > 1 else ""
    reporter.start_item(group[0].name + more, steps)
    try:
        outcomes = stylize_group([(item.source, item.output) for item in group])
        reasons = [None if error is None else error.message() for _, error in outcomes]
    except VidstyleError as error:
        reasons = [error.message()] * len(group)
    except Exception as error:  # one bad item must not stop the others
        if debugging():
            raise
        reasons = [InternalError(item.source, error).message() for item in group]
    seconds = (time.monotonic() - started) / len(group)
    results = []
    for item, reason in zip(group, reasons, strict=True):
        status = "done" if reason is None else "failed"
        results.append(ItemResult(item, status, seconds, reason))
        reporter.end_item(item.name, status, seconds)
    return results
