"""The ledger: every task of a run and what became of it, in SQLite (``ledger.sqlite`` in the run
folder), so that a night survives crashes, reboots and several processes at once.

Per task it keeps the status (``pending``, ``running``, ``done``, ``failed``, ``cancelled``), the
attempts, the seconds spent, the error, the output, who runs it (host, pid, heartbeat), a clip's
finished frames, the job's priority, and every attempt with its host, pid, worker, start, end and
reason (table ``attempts``). Ledgers of older versions are migrated when opened. Several runners
share one ledger: a task is claimed inside an ``IMMEDIATE`` transaction, so two processes never
claim the same task. SQLite's locking needs a local disk: the run folder must not be on NFS.
Opening the file for several runners at once is :mod:`vidstyle.jobs.store`.

A task left ``running`` by a process that died (a pid that no longer exists on this host, or a
heartbeat older than :data:`STALE_SECONDS` from any host) is found on the next claim and goes back
to ``pending``; its attempt counts, and after ``max_attempts`` it is ``failed`` with the reason.
Pending tasks are claimed by priority (higher first), then in the plan's order.

The one-shot commands (``image``, ``folder``, ``video``) run through the same runner with a
ledger in memory (``Ledger(None)``): nothing is written beside the user's files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path

from vidstyle.jobs.plan import Task
from vidstyle.jobs.rows import Attempt, Recovery, Row, steps_left
from vidstyle.jobs.settings import RunConfig
from vidstyle.jobs.store import BUSY_SECONDS, Immediate, connect

STALE_SECONDS = 600.0  # a running task whose heartbeat is older is taken as abandoned
HEARTBEAT_SECONDS = 15.0  # how often a runner refreshes the heartbeat of its task


class Ledger:
    """One run folder's ledger.

    Args:
        path: the SQLite file (created with its folder when missing), or None for a ledger in
            memory, of this process alone (no heartbeats: no other process looks).
        max_attempts: attempts a task gets before it is ``failed`` (the run's option's default:
            :class:`vidstyle.jobs.settings.RunConfig`).
    """

    def __init__(self, path: Path | None, max_attempts: int = RunConfig.max_attempts):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_attempts = max_attempts
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.recovered: list[Recovery] = []  # what _recover did, for the run's log
        self.db = connect(path)

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
        prefer: Callable[[str], Hashable] | None = None,
    ) -> list[str]:
        """Like :meth:`claim`, and with it up to ``size - 1`` later pending tasks of the same
        ``group(key)`` (not None), in one transaction: tasks to run together (images of one
        working size, style and method in one engine call). When no task fits, the one with
        the fewest steps left among those ``anyway(kind)`` admits is claimed alone (a clip,
        which stops between frames at the deadline). Among tasks of one priority, those with
        the lowest ``prefer(key)`` come first (a worker's affinity for its last task's style
        and size), then the plan's order.

        Returns:
            The claimed keys, the first task first; empty when no pending task (that fits) is
            left.
        """
        claimed: list[str] = []
        with self.transaction():
            self._recover()
            rows = self.db.execute(
                "SELECT key, kind, steps, pixels, frames_done, frames, priority FROM tasks"
                " WHERE in_plan AND status = 'pending' ORDER BY priority DESC, position"
            ).fetchall()
            if prefer is not None:  # stable: the plan's order kept among equals
                rows.sort(key=lambda r: (-r[6], prefer(r[0])))
            rows = [(r[0], r[1], steps_left(*r[2:3], *r[4:6]), r[3]) for r in rows
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

    def recover(self) -> list[Recovery]:
        """Find the tasks of dead processes now, as a claim does first: pending again, or failed
        after their last attempt. Returns what was found (also left in ``recovered``)."""
        with self.transaction():
            self._recover()
        return self.recovered

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

    def heartbeat(self, *keys: str) -> None:
        """Tell other runners this process is still at ``keys``."""
        _beat(self.db, keys, self.pid)

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

    def reset(self, key: str, statuses: tuple[str, ...], why: str) -> bool:
        """By hand: the task back to pending with a fresh attempt count (0), its error cleared and
        its history kept, when its status is one of ``statuses``. Returns whether it was."""
        marks = ",".join("?" * len(statuses))
        return self._by_hand(key, "reset", why, "UPDATE tasks SET status = 'pending', attempts = 0,"
                             f" error = NULL, pid = NULL WHERE key = ? AND status IN ({marks})",
                             statuses)  # fmt: skip

    def cancel(self, key: str) -> bool:
        """By hand: a pending or failed task cancelled. Returns whether it was."""
        update = ("UPDATE tasks SET status = 'cancelled' WHERE key = ?"
                  " AND status IN ('pending', 'failed')")  # fmt: skip
        return self._by_hand(key, "cancelled", "cancelled by hand", update)

    def _by_hand(self, key: str, outcome: str, why: str, update: str, args=()) -> bool:
        """Run ``update`` on the task; when it changed it, note why in its history, now."""
        if not self.db.execute(update, (key, *args)).rowcount:
            return False
        now = time.time()
        self.db.execute("INSERT INTO attempts (key, host, pid, started, ended, outcome, reason)"
                        " VALUES (?,?,?,?,?,?,?)", (key, self.host, self.pid, now, now, outcome,
                                                    why))  # fmt: skip
        return True

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
        names = [column.name for column in dataclasses.fields(Row)]
        query = f"SELECT {', '.join(names)} FROM tasks {where} ORDER BY position"
        rows = [dict(zip(names, values)) for values in self.db.execute(query)]
        return [Row(**(row | {"detail": json.loads(row["detail"] or "{}")})) for row in rows]

    def history(self, key: str) -> list[Attempt]:
        """Every attempt of the task, oldest first."""
        query = ("SELECT host, pid, worker, started, ended, outcome, reason FROM attempts"
                 " WHERE key = ? ORDER BY rowid")  # fmt: skip
        return [Attempt(*r) for r in self.db.execute(query, (key,))]

    def reasons(self) -> dict[str, list[tuple[float, str]]]:
        """Per task key: why its attempts did not end it (time, reason), oldest first."""
        out: dict[str, list[tuple[float, str]]] = {}
        query = ("SELECT key, COALESCE(ended, started), reason FROM attempts"
                 " WHERE reason IS NOT NULL AND outcome != 'done' ORDER BY rowid")  # fmt: skip
        for key, when, reason in self.db.execute(query):
            out.setdefault(key, []).append((when or 0.0, reason))
        return out

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
        return Immediate(self.db)


def _beat(db: sqlite3.Connection, keys: tuple[str, ...], pid: int) -> None:
    """One heartbeat of the tasks ``keys`` that process ``pid`` runs."""
    for key in keys:
        db.execute("UPDATE tasks SET heartbeat = ? WHERE key = ? AND pid = ?",
                   (time.time(), key, pid))  # fmt: skip


def alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
