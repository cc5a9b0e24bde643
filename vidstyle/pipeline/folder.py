"""A folder of images, the one module of the folder's work: walk it and mirror its tree
(:func:`plan`), decide what to skip, redo or fail at once (:func:`prepare`, a :class:`Decision`
per image), record each output in the manifest as it finishes (:meth:`FolderJob.finished`), and
say what became of each image (:meth:`FolderJob.results`). The images left to stylize run as
tasks through the runner (:mod:`vidstyle.controller`, :mod:`vidstyle.jobs.runner`), keyed by
their names: same-size images in groups of ``batch``, each failing alone.

Each output is written to a temporary name and renamed, so an output that exists is complete.
A manifest in the output folder (:class:`Manifest`) records what made each output; a rerun skips
an output only when the manifest vouches that it came from the same input, style and method
options, and redoes it otherwise (``--overwrite`` redoes every one). Outputs that could not be
written fail before any work is spent on them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from vidstyle.config import FolderConfig
from vidstyle.errors import EncodeError, InputError, VidstyleError, param
from vidstyle.fsutil import atomic_path, is_temporary
from vidstyle.media.formats import IMAGE_SUFFIXES, check_output, output_suffix
from vidstyle.pipeline.fingerprint import fingerprint, folder_part, pixels_digest
from vidstyle.pipeline.styles import pixels_of

MANIFEST_NAME = ".vidstyle-manifest.json"  # hidden: a walk of the output folder passes it by
REDO_REASONS = {
    "changed": "made with another input, style or options",
    "unrecorded": "no record of how it was made",
}
"""Why an existing output was redone rather than skipped (``--overwrite`` aside)."""


@dataclass(frozen=True)
class Item:
    """One image of the folder and where its result goes."""

    source: Path
    output: Path
    name: str  # the path relative to the input folder, for messages


@dataclass(frozen=True)
class ItemResult:
    """What became of one item: ``done``, ``skipped`` or ``failed`` (with the reason, naming
    parameters as ``{name}``: show it with :func:`vidstyle.errors.render`).

    ``redone`` says why a ``done`` item replaced an existing output: a key of
    :data:`REDO_REASONS`, ``overwrite``, or None when there was no output before.
    """

    item: Item
    status: str
    seconds: float = 0.0
    reason: str | None = None
    redone: str | None = None


def plan(input_dir: Path, output_dir: Path, config: FolderConfig) -> list[Item]:
    """The images below ``input_dir`` (recursively, sorted) and their mirrored output paths.

    Hidden files and folders, leftover temporary files and anything inside ``output_dir`` (when
    it lies within the input folder) are left out. An output has ``config.suffix`` or else
    :func:`vidstyle.media.formats.output_suffix` (TIFF stays TIFF, BMP, GIF, PPM, TGA... become
    PNG). When two inputs would give one output (``a.bmp`` and ``a.png``), each whose name
    differs from that output keeps its own suffix too (``a.bmp.png``).

    Raises:
        InputError: when ``input_dir`` is not a folder or holds no images.
    """
    if not input_dir.is_dir():
        raise InputError(input_dir, "no such folder")
    output_root = output_dir.resolve()
    found = [(path, path.relative_to(input_dir)) for path in sorted(input_dir.rglob("*"))]
    found = [(path, rel) for path, rel in found if _is_candidate(path, rel, output_root)]
    if not found:
        raise InputError(input_dir, "contains no images", hint="images end in .jpg, .png, ...")
    outputs = [(output_dir / rel).with_suffix(config.suffix or output_suffix(path))
               for path, rel in found]  # fmt: skip
    shared = Counter(outputs)
    items = []
    for (path, relative), output in zip(found, outputs, strict=True):
        if shared[output] > 1 and output.name != path.name:
            output = output.with_name(path.name + output.suffix)
        items.append(Item(path, output, relative.as_posix()))
    return items


class Manifest:
    """What made each finished output: ``<output folder>/.vidstyle-manifest.json``.

    Maps each output's path relative to the output folder to the fingerprint of its input,
    style and method options (:mod:`vidstyle.pipeline.fingerprint`) and the output's size and
    modification time, so an output changed since is not vouched for either. It is rewritten
    atomically as each output finishes. A missing or unreadable manifest vouches for nothing.
    """

    def __init__(self, output_dir: Path):
        self.root = output_dir
        self.path = output_dir / MANIFEST_NAME
        self.entries = self._read()

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        entries = data.get("outputs") if isinstance(data, dict) else None
        return entries if isinstance(entries, dict) else {}

    def _key(self, output: Path) -> str:
        return output.relative_to(self.root).as_posix()

    def verdict(self, output: Path, stamp: str) -> str:
        """``same`` when the entry vouches for ``output`` with fingerprint ``stamp``, else
        ``unrecorded`` (no entry, or the file changed since) or ``changed`` (the entry describes
        the file, but with another fingerprint)."""
        entry = self.entries.get(self._key(output))
        if not isinstance(entry, dict):
            return "unrecorded"
        stat = output.stat()
        if (entry.get("size"), entry.get("mtime_ns")) != (stat.st_size, stat.st_mtime_ns):
            return "unrecorded"
        return "same" if entry.get("fingerprint") == stamp else "changed"

    def record(self, output: Path, stamp: str) -> None:
        """Note that ``output`` (now written) was made with fingerprint ``stamp``.

        Raises:
            EncodeError: the manifest cannot be written.
        """
        stat = output.stat()
        entry = {"fingerprint": stamp, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        self.entries[self._key(output)] = entry
        try:
            with atomic_path(self.path) as tmp:
                tmp.write_text(json.dumps({"version": 1, "outputs": self.entries}, indent=0))
        except OSError as exc:
            raise EncodeError(self.path, f"cannot record the output: {exc.strerror}") from exc


@dataclass(frozen=True)
class Decision:
    """An item and what to do with it: ``run`` (``redo`` saying why an output is replaced),
    ``skip`` or ``fail`` (with the error)."""

    item: Item
    action: str
    fingerprint: str = ""
    redo: str | None = None
    error: VidstyleError | None = None


@dataclass(frozen=True)
class FolderJob:
    """The decisions of a folder run and the manifest they are recorded in."""

    decisions: list[Decision]
    manifest: Manifest

    @cached_property
    def todo(self) -> dict[str, Decision]:
        """The decisions that need the engine, by their item's name (the runner's task key)."""
        return {d.item.name: d for d in self.decisions if d.action == "run"}

    def settled(self) -> list[ItemResult]:
        """The results decided before any work: skipped, or failed at once."""
        return [settled(d) for d in self.decisions if d.action != "run"]

    def finished(self, name: str) -> str | None:
        """Record the output of item ``name`` (now written) in the manifest.

        Returns:
            The status to show: None (``done``), or ``redone (<why>)`` when it replaced an
            output the manifest did not vouch for.

        Raises:
            EncodeError: the manifest cannot be written.
        """
        decision = self.todo[name]
        self.manifest.record(decision.item.output, decision.fingerprint)
        reason = REDO_REASONS.get(decision.redo)
        return None if reason is None else f"redone ({reason})"

    def results(self, ran: dict[str, tuple[str, float, str | None]]) -> list[ItemResult]:
        """What became of every item, in the folder's order.

        Args:
            ran: by item name, (status, seconds, reason) of each item that ran.
        """
        todo = self.todo
        by_name = {name: outcome(todo[name], *how) for name, how in ran.items()}
        by_name |= {result.item.name: result for result in self.settled()}
        return [by_name[d.item.name] for d in self.decisions]


def prepare(items: list[Item], output_dir: Path, config: FolderConfig, style, method) -> FolderJob:
    """Decide for every item, before any work: skip it, run it, or fail it at once.

    An existing output is skipped only when the manifest vouches it was made from the same
    input, style and method options; otherwise (or with ``config.overwrite``) it is redone. An
    output that could not be written (see :func:`vidstyle.media.formats.check_output`), or that
    two inputs would share, fails its item here.

    Args:
        items: from :func:`plan`.
        output_dir: the output folder (where the manifest lives).
        config: the folder options (``overwrite``, and those that change an output).
        style: the :class:`vidstyle.pipeline.styles.StyleSet` (or its pixels).
        method: the :class:`vidstyle.config.MethodConfig`.
    """
    manifest = Manifest(output_dir)
    digest = pixels_digest(pixels_of(style))
    owners: dict[Path, Item] = {}
    decisions = []
    for item in items:
        owner = owners.setdefault(item.output, item)
        if owner is not item:
            error = EncodeError(item.output, f"is also the output of {owner.source}",
                                hint="rename one of the two inputs")  # fmt: skip
            decisions.append(Decision(item, "fail", error=error))
            continue
        decisions.append(_decide(item, manifest, digest, method, config))
    return FolderJob(decisions, manifest)


def _decide(item: Item, manifest: Manifest, digest: str, method, config: FolderConfig) -> Decision:
    try:
        stamp = fingerprint(item.source, digest, method, folder_part(config))
    except OSError as exc:
        return Decision(item, "fail", error=InputError(item.source, f"cannot read file: {exc}"))
    redo = None
    if item.output.is_file():
        redo = "overwrite" if config.overwrite else manifest.verdict(item.output, stamp)
        if redo == "same":
            return Decision(item, "skip", stamp)
    try:
        check_output(item.output)
    except VidstyleError as error:
        return Decision(item, "fail", stamp, error=error)
    return Decision(item, "run", stamp, redo)


def _is_candidate(path: Path, relative: Path, output_root: Path) -> bool:
    if any(part.startswith(".") for part in relative.parts) or is_temporary(path):
        return False
    if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
        return False
    return output_root not in path.resolve().parents


def settled(decision: Decision) -> ItemResult:
    """The result of a decision made in :func:`prepare` (not ``run``): skipped, or failed at
    once."""
    if decision.action == "skip":
        return ItemResult(decision.item, "skipped",
                          reason="finished with the same input and options")  # fmt: skip
    return ItemResult(decision.item, "failed", reason=decision.error.message(param))


def outcome(decision: Decision, status: str, seconds: float, reason: str | None) -> ItemResult:
    """The result of an item that ran: ``done`` (``redone`` saying why an output was replaced)
    or ``failed`` with the reason (naming parameters as ``{name}``)."""
    redone = decision.redo if status == "done" else None
    return ItemResult(decision.item, status, seconds, None if status == "done" else reason,
                      redone)  # fmt: skip
