"""What the ledger keeps (:mod:`vidstyle.jobs.ledger`): its tables, the columns added since the
first ledgers (an old ledger gets them when it opens), a task's row as the ledger has it, and
the one estimate of the seconds a task's steps take (:func:`estimate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Seconds per optimization step per working pixel before a task has been measured: this
# project's 2-core CPU (benchmarks/step.py: 0.83 s per step at 256x256, 3.26 s at 512x512).
PRIOR_SECONDS_PER_STEP_PIXEL = 1.3e-5

STATUSES = ("pending", "running", "done", "failed", "cancelled")  # a task's, in the ledger
SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    key TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    style TEXT NOT NULL,
    output TEXT NOT NULL,
    variant TEXT NOT NULL,
    options TEXT NOT NULL,
    steps INTEGER NOT NULL,
    pixels INTEGER NOT NULL,
    position INTEGER NOT NULL,
    in_plan INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    error TEXT,
    host TEXT,
    pid INTEGER,
    heartbeat REAL,
    started REAL,
    finished REAL,
    detail TEXT,
    frames_done INTEGER NOT NULL DEFAULT 0,
    frames INTEGER NOT NULL DEFAULT 0,
    priority INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS attempts (
    key TEXT NOT NULL,
    host TEXT,
    pid INTEGER,
    worker TEXT,
    started REAL,
    ended REAL,
    outcome TEXT NOT NULL DEFAULT 'running',
    reason TEXT
);
"""
# Columns added since the first ledgers, with their definitions: added when an old ledger opens.
ADDED = {"frames_done": "INTEGER NOT NULL DEFAULT 0", "frames": "INTEGER NOT NULL DEFAULT 0",
          "priority": "INTEGER NOT NULL DEFAULT 0"}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Row:
    """A task as the ledger has it (a task not in the ledger yet: its plan's fields, pending)."""

    key: str
    job: str
    kind: str
    source: str
    style: str  # its path, or a blend's paths one per line
    output: str
    variant: str = ""
    steps: int = 0
    pixels: int = 0
    status: str = "pending"
    attempts: int = 0
    seconds: float = 0.0
    error: str | None = None
    host: str | None = None
    pid: int | None = None
    heartbeat: float | None = None
    started: float | None = None
    finished: float | None = None
    detail: dict = field(default_factory=dict)
    frames_done: int = 0  # a clip's frames finished (all passes), as its last run reported
    frames: int = 0  # a clip's frames in all (all passes), 0 before it ran
    priority: int = 0

    @property
    def steps_left(self) -> int:
        """The steps still to run: a clip's in proportion to its frames not finished."""
        return steps_left(self.steps, self.frames_done, self.frames)

    @property
    def style_name(self) -> str:
        """The styles' names: ``starry``, or ``starry+scream`` for a blend."""
        return "+".join(Path(line).stem for line in self.style.splitlines())

    @property
    def label(self) -> str:
        """The task's name as ``run.log`` and status write it: ``job: input ~ style (variant)``."""
        variant = f" ({self.variant})" if self.variant else ""
        return f"{self.job}: {Path(self.source).name} ~ {self.style_name}{variant}"


@dataclass(frozen=True)
class Attempt:
    """One attempt of a task, from the ledger's history (table ``attempts``)."""

    host: str | None
    pid: int | None
    worker: str | None
    started: float | None
    ended: float | None
    outcome: str  # running, done, failed, retry (failed, tried again), lost (process died),
    # stopped (signal, deadline), reset (put back by retry), cancelled
    reason: str | None


@dataclass(frozen=True)
class Recovery:
    """A task of a dead process that a claim found: why, its attempts, when its process was last
    heard of (epoch seconds), and whether that was its last attempt (then it is failed)."""

    key: str
    reason: str
    attempts: int
    when: float
    failed: bool


def steps_left(steps: int, frames_done: int, frames: int) -> int:
    """A task's steps still to run: all of them, or a clip's share of its frames not finished."""
    if frames <= 0 or frames_done <= 0:
        return steps
    return -(-steps * max(frames - frames_done, 0) // frames)


def estimate(steps: int, pixels: int, rate: float | None = None) -> float:
    """Seconds a task of ``steps`` steps (still to run) at ``pixels`` working pixels takes at
    ``rate`` seconds per step per working pixel (a ledger's measured speed; None: this project's
    2-core CPU's, :data:`PRIOR_SECONDS_PER_STEP_PIXEL`)."""
    return (rate or PRIOR_SECONDS_PER_STEP_PIXEL) * steps * max(pixels, 1)
