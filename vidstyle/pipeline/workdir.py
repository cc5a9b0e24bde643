"""A clip's work folder beside its output: the finished frames of every pass and the manifest
that lets a rerun go on where a run stopped (see :mod:`vidstyle.pipeline.video`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from vidstyle.errors import ResumeError
from vidstyle.fsutil import atomic_path


class WorkDir:
    """Finished frames and their records, beside the output: ``<output>.vidstyle-work/``.

    The first pass's frames are in ``frames/``, those of a later pass p in ``pass<p>/`` (with
    the contents at the working size in ``content/`` and the flows in ``flows/``); ``final`` is
    the pass whose frames make the output.
    """

    def __init__(self, output: Path, fingerprint: str):
        self.root = output.with_name(output.name + ".vidstyle-work")
        self.manifest = self.root / "manifest.json"
        self.fingerprint = fingerprint
        self.sweeps: dict[str, dict] = {}  # pass (2 on) -> {frame index: its record of the pass}
        self.final = 1

    def frame(self, index: int, sweep: int | None = None) -> Path:
        """A frame's result of pass ``sweep`` (default: the final pass)."""
        sweep = sweep or self.final
        folder = "frames" if sweep == 1 else f"pass{sweep}"
        return self.root / folder / f"{index:06d}.png"

    def content(self, index: int) -> Path:
        """A frame's content at the working size (kept when there are several passes)."""
        return self.root / "content" / f"{index:06d}.png"

    def load(self, restart: bool) -> list[dict]:
        """Records of the frames already done (none on a new run or with ``restart``).

        Raises:
            ResumeError: when the folder was left by a run with another input, style or options.
        """
        if restart and self.root.exists():
            shutil.rmtree(self.root)
        if not self.manifest.is_file():
            return []
        saved = json.loads(self.manifest.read_text())
        if saved.get("fingerprint") != self.fingerprint:
            raise ResumeError(self.root, "was left by a run with another input, style or options",
                              hint="rerun with {restart} to start over")  # fmt: skip
        self.sweeps = saved.get("passes", {})
        return saved["frames"]

    def save(self, records: list[dict]) -> None:
        """Record the first pass's frames (and what later passes have done)."""
        saved = {"fingerprint": self.fingerprint, "frames": records}
        with atomic_path(self.manifest) as tmp:
            tmp.write_text(json.dumps(saved | ({"passes": self.sweeps} if self.sweeps else {})))
