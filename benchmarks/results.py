"""The results log: every benchmark run appends one entry to ONE file, ``benchmarks/results.md``.

An entry is a heading that stamps the run, the command that ran, its tables and notes::

    ### step · 2025-06-01 14:02 UTC · commit d1a9058 · cpu amx_bf16 avx512_bf16 · bfloat16 (auto)

    `python -m benchmarks.step --sizes 128`

    | size | precision | ... |
    |------|-----------|-----|
    | 128  | ...       | ... |

The stamp: the date (UTC), the commit of the tree that ran (``+dirty`` when files other than
this log differ from it), the CPU's native bfloat16 flags (``amx_bf16``, ``avx512_bf16``; ``none``
without; speed in bfloat16 depends on them) and the precision the network ran in (a table whose
rows differ in precision has its own column). Figures from before this log (the old
``benchmarks/README.md``) are kept under "History" at the end of the file.
"""

from __future__ import annotations

import datetime
import subprocess
from collections.abc import Sequence
from pathlib import Path

from benchmarks.table import Table

RESULTS = Path(__file__).with_name("results.md")
ROOT = RESULTS.parent.parent
NEW_ENTRIES = "<!-- new entries go above this line -->"


def commit(root: Path = ROOT) -> str:
    """The short commit of ``root``'s checkout, with ``+dirty`` when tracked files other than
    the results log differ from it; ``unknown`` outside a git checkout."""
    git = ["git", "-C", str(root)]
    try:
        done = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True)  # fmt: skip
        log = f":!{RESULTS.relative_to(ROOT)}"
        changed = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", ".", log])
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    head = done.stdout.strip()
    return head + ("+dirty" if changed.returncode else "")


def cpu_label() -> str:
    """The CPU's native bfloat16 flags, as ``amx_bf16 avx512_bf16`` (``none`` without)."""
    from vidstyle.engine.precision import cpu_flags

    return " ".join(cpu_flags()) or "none"


def heading(script: str, precision: str, when: datetime.datetime | None = None) -> str:
    """The stamp of one run of ``script`` (see the module's docstring)."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return (f"### {script} · {when:%Y-%m-%d %H:%M} UTC · commit {commit()} · "
            f"cpu {cpu_label()} · {precision}")  # fmt: skip


def entry(script: str, command: str, precision: str, tables: Sequence[Table],
          notes: Sequence[str] = ()) -> str:  # fmt: skip
    """One run's entry: its stamp, the command, the tables and the notes (markdown)."""
    parts = [heading(script, precision), f"`{command}`"]
    parts += [str(table) for table in tables]
    if notes:
        parts.append("\n".join(notes))
    return "\n\n".join(parts) + "\n"


def append(path: Path, text: str) -> None:
    """Add an entry to the log at ``path``: above the history's marker when the file has one
    (the newest entry last among the new ones), else at its end (a new file is made)."""
    old = path.read_text() if path.is_file() else ""
    if NEW_ENTRIES in old:
        head, _, tail = old.partition(NEW_ENTRIES)
        new = head.rstrip("\n") + "\n\n" + text + "\n" + NEW_ENTRIES + tail
    else:
        new = (old.rstrip("\n") + "\n\n" if old else "") + text
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new)
    tmp.replace(path)
