"""The ledger's SQLite file opened for several runners at once: WAL mode, its tables made (and an
older ledger's missing columns added), write transactions that take the lock at once, and patience
with another runner's lock.

A runner that meets another's lock waits: SQLite's busy timeout (:data:`BUSY_SECONDS`) for the
usual case, and a retry with short pauses for the one it answers "database is locked" at once
without waiting, to avoid a deadlock: a connection that already reads and asks to write. Turning
a new ledger to WAL is such a case, when several runners open it at the same moment (issue 23).
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from vidstyle.jobs.rows import ADDED, SCHEMA

BUSY_SECONDS = 60.0  # how long a runner waits for another runner's lock before it gives up
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def connect(path: Path | None) -> sqlite3.Connection:
    """Open the ledger (in WAL mode on disk) and create its table if it has none, waiting for any
    other runner doing the same at the same moment.

    Raises:
        sqlite3.OperationalError: still locked after :data:`BUSY_SECONDS`, or any other error.
    """
    db = sqlite3.connect(path or ":memory:", timeout=BUSY_SECONDS, isolation_level=None)
    try:
        if path is not None:
            # The switch reads the file, then writes its header: a second runner switching at the
            # same moment gets "database is locked" at once, busy timeout or not.
            _patiently(lambda: db.execute("PRAGMA journal_mode=WAL"))
        _patiently(lambda: db.executescript(SCHEMA))
        _migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def _migrate(db: sqlite3.Connection) -> None:
    """Add the columns an older ledger lacks (inside a write transaction: two runners opening
    one old ledger at once add them once)."""

    def missing() -> list[str]:
        have = {row[1] for row in db.execute("PRAGMA table_info(tasks)")}
        return [name for name in ADDED if name not in have]

    if not missing():
        return
    with Immediate(db):
        for name in missing():
            db.execute(f"ALTER TABLE tasks ADD COLUMN {name} {ADDED[name]}")


def _patiently(call: Callable[[], object]) -> object:
    """``call()``, again after a short pause (1 ms, doubling to 50 ms, with jitter) each time
    SQLite answers busy or locked, for up to :data:`BUSY_SECONDS`.

    Returns:
        What ``call`` returned.

    Raises:
        sqlite3.OperationalError: any other error at once; busy or locked after the time is up.
    """
    give_up = time.monotonic() + BUSY_SECONDS
    pause = 0.001
    while True:
        try:
            return call()
        except sqlite3.OperationalError as error:
            if not _busy(error) or time.monotonic() >= give_up:
                raise
        _pause(pause * (0.5 + random.random()))
        pause = min(pause * 2, 0.05)


def _pause(seconds: float) -> None:
    """Wait between two tries of :func:`_patiently` (a seam for the tests)."""
    time.sleep(seconds)


def _busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite said another connection holds a lock (SQLITE_BUSY or SQLITE_LOCKED)."""
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)


class Immediate:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an exception): the write lock is
    taken at the start, so a read-then-update cannot interleave with another process."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        _patiently(lambda: self.db.execute("BEGIN IMMEDIATE"))

    def __exit__(self, kind, value, traceback):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
