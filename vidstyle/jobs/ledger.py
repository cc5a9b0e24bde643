"""The ledger: every task of a run and what became of it, in SQLite (``ledger.sqlite`` in the run
folder), so that a night survives crashes, reboots and several processes at once.

Per task it keeps the status (``pending``, ``running``, ``done``, ``failed``), the attempts, the
seconds spent, the error, the output, and who runs it (host, pid, heartbeat). Several runners
share one ledger: a task is claimed inside an ``IMMEDIATE`` transaction, so two processes never
claim the same task. SQLite's locking needs a local disk: the run folder must not be on NFS.

A runner that meets another's lock waits: SQLite's busy timeout (:data:`BUSY_SECONDS`) for the
usual case, and a retry with short pauses for the one it answers "database is locked" at once
without waiting, to avoid a deadlock: a connection that already reads and asks to write. Turning
a new ledger to WAL is such a case, when several runners open it at the same moment (issue 23).

A task left ``running`` by a process that died (a pid that no longer exists on this host, or a
heartbeat older than :data:`STALE_SECONDS` from any host) is found on the next claim and goes back
to ``pending``; its attempt counts, and after ``max_attempts`` it is ``failed`` with the reason.

The one-shot commands (``image``, ``folder``, ``video``) run through the same runner with a
ledger in memory (``Ledger(None)``): nothing is written beside the user's files.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

from vidstyle.jobs.plan import Task

STALE_SECONDS = 600.0  # a running task whose heartbeat is older is taken as abandoned
HEARTBEAT_SECONDS = 15.0  # how often a runner refreshes the heartbeat of its task
STATUSES = ("pending", "running", "done", "failed")
BUSY_SECONDS = 60.0  # how long a runner waits for another runner's lock before it gives up
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6

_SCHEMA = """
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
    detail TEXT
);
"""


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


class Ledger:
    """One run folder's ledger.

    Args:
        path: the SQLite file (created with its folder when missing), or None for a ledger in
            memory, of this process alone (no heartbeats: no other process looks).
        max_attempts: attempts a task gets before it is ``failed``.
    """

    def __init__(self, path: Path | None, max_attempts: int = 2):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_attempts = max_attempts
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.recovered: list[str] = []  # what _recover did, for the run's log
        self.db = _connect(path)

    def close(self) -> None:
        self.db.close()

    # ---------------------------------------------------------------------------- the plan

    def sync(self, tasks: list[Task]) -> int:
        """Add the plan's new tasks as pending and mark which tasks the plan holds; finished
        tasks stay as they are. Returns how many tasks were new."""
        with self._transaction():
            before = self.db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
            self.db.execute("UPDATE tasks SET in_plan = 0")
            for t in tasks:
                self.db.execute(
                    "INSERT INTO tasks (key, job, kind, source, style, output, variant, options,"
                    " steps, pixels, position) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(key) DO UPDATE SET in_plan = 1, position = excluded.position",
                    (t.key, t.job, t.kind, str(t.source), t.style_field, str(t.output), t.variant,
                     json.dumps(t.options, default=str), t.steps, t.pixels, t.position),
                )  # fmt: skip
            after = self.db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
        return after - before

    # --------------------------------------------------------------------------- claiming

    def claim(self, fits=None, keys: set[str] | None = None) -> str | None:
        """Take the first pending task of the plan (among ``keys``, and that
        ``fits(steps, pixels)``, when given) for this process: running, one more attempt.
        Abandoned tasks are recovered first.

        Returns:
            The task's key, or None when no pending task (that fits) is left.
        """
        claimed = self.claim_group(fits, keys)
        return claimed[0] if claimed else None

    def claim_group(
        self,
        fits=None,
        keys: set[str] | None = None,
        size: int = 1,
        group: Callable[[str], Hashable | None] | None = None,
    ) -> list[str]:
        """Like :meth:`claim`, and with it up to ``size - 1`` later pending tasks of the same
        ``group(key)`` (not None), in one transaction: tasks to run together (images of one
        working size, style and method in one engine call).

        Returns:
            The claimed keys, the first task first; empty when no pending task (that fits) is
            left.
        """
        claimed: list[str] = []
        with self._transaction():
            self._recover()
            rows = self.db.execute(
                "SELECT key, steps, pixels FROM tasks WHERE in_plan AND status = 'pending'"
                " ORDER BY position"
            ).fetchall()
            for key, steps, pixels in rows:
                if len(claimed) >= size or (keys is not None and key not in keys):
                    continue
                if fits is not None and not fits(steps, pixels):
                    continue
                if claimed and (group is None or group(key) is None
                                or group(key) != group(claimed[0])):  # fmt: skip
                    continue
                claimed.append(key)
                now = time.time()
                self.db.execute(
                    "UPDATE tasks SET status = 'running', attempts = attempts + 1,"
                    " host = ?, pid = ?, heartbeat = ?, started = ?, error = NULL"
                    " WHERE key = ?",
                    (self.host, self.pid, now, now, key),
                )
        return claimed

    def _recover(self) -> None:
        """Running tasks whose process is gone go back to pending, or fail after max_attempts."""
        now = time.time()
        for key, host, pid, heartbeat, attempts in self.db.execute(
            "SELECT key, host, pid, heartbeat, attempts FROM tasks WHERE status = 'running'"
        ).fetchall():
            dead = host == self.host and pid is not None and not _alive(pid)
            if not (dead or (heartbeat or 0) < now - STALE_SECONDS):
                continue
            reason = f"the process running it (pid {pid} on {host}) stopped without finishing"
            self.recovered.append(f"{key}: {reason} (attempt {attempts})")
            if attempts >= self.max_attempts:
                self.db.execute(
                    "UPDATE tasks SET status = 'failed', error = ?, pid = NULL WHERE key = ?",
                    (f"{reason}, {attempts} attempts", key),
                )
            else:
                self.db.execute(
                    "UPDATE tasks SET status = 'pending', error = ?, pid = NULL WHERE key = ?",
                    (reason, key),
                )

    def heartbeat(self, key: str) -> None:
        """Tell other runners this process is still at ``key``."""
        _beat(self.db, (key,), self.pid)

    @contextlib.contextmanager
    def beating(self, *keys: str):
        """Keep the heartbeat of ``keys`` fresh from a thread (its own connection) while the block
        runs, however long one step of the optimization takes (a ledger in memory: no need)."""
        if self.path is None:
            yield
            return
        stop = threading.Event()

        def beat() -> None:
            db = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)
            try:
                while not stop.wait(HEARTBEAT_SECONDS):
                    _beat(db, keys, self.pid)
            finally:
                db.close()

        thread = threading.Thread(target=beat, name="vidstyle-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    # ---------------------------------------------------------------------------- outcomes

    def finish(self, key: str, seconds: float, detail: dict | None = None) -> None:
        """The task is done."""
        self._end(key, "done", seconds, None, detail)

    def fail(self, key: str, seconds: float, error: str) -> None:
        """The task failed with ``error``: pending again while attempts are left, else failed."""
        (attempts,) = self.db.execute("SELECT attempts FROM tasks WHERE key = ?", (key,)).fetchone()
        status = "failed" if attempts >= self.max_attempts else "pending"
        self._end(key, status, seconds, error, None)

    def give_up(self, key: str, seconds: float, error: str) -> None:
        """The task failed in a way another attempt cannot mend (a bad input): failed now."""
        self._end(key, "failed", seconds, error, None)

    def add_attempt(self, key: str, error: str) -> int:
        """A part of a running task (a clip's shot) is tried again within the same claim: one
        more attempt, with the reason. Returns the task's attempts now."""
        self.db.execute(
            "UPDATE tasks SET attempts = attempts + 1, error = ? WHERE key = ?", (error, key)
        )
        (attempts,) = self.db.execute("SELECT attempts FROM tasks WHERE key = ?", (key,)).fetchone()
        return attempts

    def release(self, key: str, seconds: float) -> None:
        """Stopped on purpose (deadline, Ctrl-C): pending again, the attempt not counted."""
        self.db.execute(
            "UPDATE tasks SET status = 'pending', attempts = MAX(attempts - 1, 0),"
            " seconds = seconds + ?, pid = NULL WHERE key = ?",
            (seconds, key),
        )

    def _end(self, key, status, seconds, error, detail) -> None:
        self.db.execute(
            "UPDATE tasks SET status = ?, seconds = seconds + ?, error = ?, finished = ?,"
            " pid = NULL, detail = ? WHERE key = ?",
            (status, seconds, error, time.time(), json.dumps(detail or {}), key),
        )

    # ----------------------------------------------------------------------------- reading

    def rows(self, plan_only: bool = True) -> list[Row]:
        """Every task (of the current plan), in the plan's order."""
        where = "WHERE in_plan" if plan_only else ""
        query = (
            "SELECT key, job, kind, source, style, output, variant, steps, pixels, status,"
            " attempts, seconds, error, host, pid, heartbeat, started, finished, detail"
            f" FROM tasks {where} ORDER BY position"
        )
        return [Row(*r[:-1], json.loads(r[-1] or "{}")) for r in self.db.execute(query)]

    def count(self, status: str) -> int:
        """How many tasks of the plan have this status."""
        query = "SELECT COUNT(*) FROM tasks WHERE in_plan AND status = ?"
        return self.db.execute(query, (status,)).fetchone()[0]

    def options(self, key: str) -> dict:
        (text,) = self.db.execute("SELECT options FROM tasks WHERE key = ?", (key,)).fetchone()
        return json.loads(text)

    def seconds_per_step_pixel(self) -> float | None:
        """Measured speed: seconds per optimization step per working pixel, over done tasks."""
        seconds, work = self.db.execute(
            "SELECT SUM(seconds), SUM(CAST(steps AS REAL) * pixels) FROM tasks"
            " WHERE status = 'done' AND pixels > 0 AND steps > 0"
        ).fetchone()
        return seconds / work if seconds and work else None

    def _transaction(self):
        return _Immediate(self.db)


class _Immediate:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an exception): the write lock is
    taken at the start, so a read-then-update cannot interleave with another process."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        _patiently(lambda: self.db.execute("BEGIN IMMEDIATE"))

    def __exit__(self, kind, value, traceback):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _beat(db: sqlite3.Connection, keys: tuple[str, ...], pid: int) -> None:
    """One heartbeat of the tasks ``keys`` that process ``pid`` runs."""
    for key in keys:
        db.execute("UPDATE tasks SET heartbeat = ? WHERE key = ? AND pid = ?",
                   (time.time(), key, pid))  # fmt: skip


def _connect(path: Path | None) -> sqlite3.Connection:
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
        _patiently(lambda: db.executescript(_SCHEMA))
    except BaseException:
        db.close()
        raise
    return db


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


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
