"""The ledger: every task of a run and what became of it, in SQLite (``ledger.sqlite`` in the run
folder), so that a night survives crashes, reboots and several processes at once.

Per task it keeps the status (``pending``, ``running``, ``done``, ``failed``, ``cancelled``), the
attempts, the seconds spent, the error, the output, who runs it (host, pid, heartbeat), a clip's
finished frames, the job's priority, and every attempt with its host, pid, worker, start, end and
reason (table ``attempts``). Ledgers of older versions are migrated when opened. Several runners
share one ledger: a task is claimed inside an ``IMMEDIATE`` transaction, so two processes never
claim the same task. SQLite's locking needs a local disk: the run folder must not be on NFS.

A runner that meets another's lock waits: SQLite's busy timeout (:data:`BUSY_SECONDS`) for the
usual case, and a retry with short pauses for the one it answers "database is locked" at once
without waiting, to avoid a deadlock: a connection that already reads and asks to write. Turning
a new ledger to WAL is such a case, when several runners open it at the same moment (issue 23).

A task left ``running`` by a process that died (a pid that no longer exists on this host, or a
heartbeat older than :data:`STALE_SECONDS` from any host) is found on the next claim and goes back
to ``pending``; its attempt counts, and after ``max_attempts`` it is ``failed`` with the reason.
Pending tasks are claimed by priority (higher first), then in the plan's order.

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
from pathlib import Path

from vidstyle.jobs.plan import Task
from vidstyle.jobs.rows import ADDED, SCHEMA, Recovery, Row, steps_left

STALE_SECONDS = 600.0  # a running task whose heartbeat is older is taken as abandoned
HEARTBEAT_SECONDS = 15.0  # how often a runner refreshes the heartbeat of its task
STATUSES = ("pending", "running", "done", "failed", "cancelled")
BUSY_SECONDS = 60.0  # how long a runner waits for another runner's lock before it gives up
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


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
        self.recovered: list[Recovery] = []  # what _recover did, for the run's log
        self.db = _connect(path)

    def close(self) -> None:
        self.db.close()

    # ---------------------------------------------------------------------------- the plan

    def sync(self, tasks: list[Task]) -> int:
        """Add the plan's new tasks as pending and mark which tasks the plan holds; finished
        tasks stay as they are. Returns how many tasks were new."""
        with self.transaction():
            before = self.db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
            self.db.execute("UPDATE tasks SET in_plan = 0")
            for t in tasks:
                self.db.execute(
                    "INSERT INTO tasks (key, job, kind, source, style, output, variant, options,"
                    " steps, pixels, position, priority) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(key) DO UPDATE SET in_plan = 1, position = excluded.position,"
                    " priority = excluded.priority",
                    (t.key, t.job, t.kind, str(t.source), t.style_field, str(t.output), t.variant,
                     json.dumps(t.options, default=str), t.steps, t.pixels, t.position,
                     t.priority),
                )  # fmt: skip
            after = self.db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
        return after - before

    # --------------------------------------------------------------------------- claiming

    def claim(self, fits=None, keys: set[str] | None = None) -> str | None:
        """Take the first pending task of the plan (by priority, then the plan's order; among
        ``keys``, and that ``fits(steps_left, pixels)``, when given) for this process: running,
        one more attempt. Abandoned tasks are recovered first.

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
        anyway: Callable[[str], bool] | None = None,
    ) -> list[str]:
        """Like :meth:`claim`, and with it up to ``size - 1`` later pending tasks of the same
        ``group(key)`` (not None), in one transaction: tasks to run together (images of one
        working size, style and method in one engine call). When no task fits, the one with
        the fewest steps left among those ``anyway(kind)`` admits is claimed alone (a clip,
        which stops between frames at the deadline).

        Returns:
            The claimed keys, the first task first; empty when no pending task (that fits) is
            left.
        """
        claimed: list[str] = []
        with self.transaction():
            self._recover()
            rows = self.db.execute(
                "SELECT key, kind, steps, pixels, frames_done, frames FROM tasks"
                " WHERE in_plan AND status = 'pending' ORDER BY priority DESC, position"
            ).fetchall()
            rows = [(r[0], r[1], steps_left(*r[2:3], *r[4:]), r[3]) for r in rows
                    if keys is None or r[0] in keys]  # fmt: skip
            for key, _, left, pixels in rows:
                if len(claimed) >= size or (fits is not None and not fits(left, pixels)):
                    continue
                if claimed and (group is None or group(key) is None
                                or group(key) != group(claimed[0])):  # fmt: skip
                    continue
                claimed.append(key)
            if not claimed and fits is not None and anyway is not None:
                admitted = [(left, i, key) for i, (key, kind, left, _) in enumerate(rows)
                            if anyway(kind)]  # fmt: skip
                claimed = [min(admitted)[2]] if admitted else []
            for key in claimed:
                self._take(key)
        return claimed

    def _take(self, key: str) -> None:
        """The task is this process's: running, one more attempt, its attempt in the history."""
        now = time.time()
        self.db.execute(
            "UPDATE tasks SET status = 'running', attempts = attempts + 1, host = ?, pid = ?,"
            " heartbeat = ?, started = ?, error = NULL WHERE key = ?",
            (self.host, self.pid, now, now, key),
        )
        self.db.execute("INSERT INTO attempts (key, host, pid, started) VALUES (?,?,?,?)",
                        (key, self.host, self.pid, now))  # fmt: skip

    def _recover(self) -> None:
        """Running tasks whose process is gone go back to pending, or fail after max_attempts."""
        now = time.time()
        for key, host, pid, heartbeat, attempts in self.db.execute(
            "SELECT key, host, pid, heartbeat, attempts FROM tasks WHERE status = 'running'"
        ).fetchall():
            dead = host == self.host and pid is not None and not alive(pid)
            if not (dead or (heartbeat or 0) < now - STALE_SECONDS):
                continue
            reason = f"the process running it (pid {pid} on {host}) stopped without finishing"
            failed = attempts >= self.max_attempts
            error = f"{reason}, {attempts} attempts" if failed else reason
            self.db.execute("UPDATE tasks SET status = ?, error = ?, pid = NULL WHERE key = ?",
                            ("failed" if failed else "pending", error, key))  # fmt: skip
            self._ended(key, "lost", reason, heartbeat or now)
            self.recovered.append(Recovery(key, reason, attempts, heartbeat or now, failed))

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
        self._ended(key, "retry", error)
        self.db.execute("INSERT INTO attempts (key, host, pid, started) VALUES (?,?,?,?)",
                        (key, self.host, self.pid, time.time()))  # fmt: skip
        (attempts,) = self.db.execute("SELECT attempts FROM tasks WHERE key = ?", (key,)).fetchone()
        return attempts

    def release(self, key: str, seconds: float, why: str | None = None) -> None:
        """Stopped on purpose (deadline, Ctrl-C): pending again, the attempt not counted; ``why``
        goes into the attempt's history."""
        self.db.execute(
            "UPDATE tasks SET status = 'pending', attempts = MAX(attempts - 1, 0),"
            " seconds = seconds + ?, pid = NULL WHERE key = ?",
            (seconds, key),
        )
        self._ended(key, "stopped", why)

    def progress(self, key: str, frames_done: int, frames: int | None) -> None:
        """A clip's frames finished so far (of ``frames`` in all, when known)."""
        self.db.execute("UPDATE tasks SET frames_done = ?, frames = COALESCE(?, frames)"
                        " WHERE key = ?", (frames_done, frames, key))  # fmt: skip

    def worker(self, key: str, name: str) -> None:
        """Name the worker (a Ray worker) of the task's open attempt."""
        self.db.execute("UPDATE attempts SET worker = ? WHERE rowid = (SELECT MAX(rowid) FROM"
                        " attempts WHERE key = ?)", (name, key))  # fmt: skip

    def _end(self, key, status, seconds, error, detail) -> None:
        self.db.execute(
            "UPDATE tasks SET status = ?, seconds = seconds + ?, error = ?, finished = ?,"
            " pid = NULL, detail = ? WHERE key = ?",
            (status, seconds, error, time.time(), json.dumps(detail or {}), key),
        )
        self._ended(key, {"done": "done", "failed": "failed"}.get(status, "retry"), error)

    def _ended(self, key: str, outcome: str, reason: str | None, when: float | None = None):
        """Close the task's open attempt in the history with its outcome and reason."""
        self.db.execute("UPDATE attempts SET ended = ?, outcome = ?, reason = ? WHERE rowid ="
                        " (SELECT MAX(rowid) FROM attempts WHERE key = ? AND ended IS NULL)",
                        (when or time.time(), outcome, reason, key))  # fmt: skip

    # ----------------------------------------------------------------------------- reading

    def rows(self, plan_only: bool = True) -> list[Row]:
        """Every task (of the current plan), in the plan's order."""
        where = "WHERE in_plan" if plan_only else ""
        query = (
            "SELECT key, job, kind, source, style, output, variant, steps, pixels, status,"
            " attempts, seconds, error, host, pid, heartbeat, started, finished, detail,"
            f" frames_done, frames, priority FROM tasks {where} ORDER BY position"
        )
        return [Row(*r[:18], json.loads(r[18] or "{}"), *r[19:]) for r in self.db.execute(query)]

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

    def transaction(self):
        """A write transaction that takes the lock at once (``with ledger.transaction():``)."""
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
    with _Immediate(db):
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


def alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
