"""What the ledger keeps (:mod:`vidstyle.jobs.ledger`): its tables, the columns added since the
first ledgers (an old ledger gets them when it opens), and a task's row as the ledger has it."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Row:
    """A task as the ledger has it."""

    key: str
    job: str
    kind: str
    source: str
    style: str
    output: str
    variant: str
    steps: int
    pixels: int
    status: str
    attempts: int
    seconds: float
    error: str | None
    host: str | None
    pid: int | None
    heartbeat: float | None
    started: float | None
    finished: float | None
    detail: dict
    frames_done: int = 0  # a clip's frames finished (all passes), as its last run reported
    frames: int = 0  # a clip's frames in all (all passes), 0 before it ran
    priority: int = 0

    @property
    def steps_left(self) -> int:
        """The steps still to run: a clip's in proportion to its frames not finished."""
        return steps_left(self.steps, self.frames_done, self.frames)


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
