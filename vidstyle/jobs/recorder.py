"""The recorder: the one place where what became of a task is written down, whichever back end
ran it. It moves the task in the ledger (finished, failed, given up, released), writes the
``run.log`` line, counts it in the run's :class:`RunResult`, ends its item on the run's bar, and
tells the caller (the report is rewritten there). The run loop (:mod:`vidstyle.jobs.loop`) and
its back ends (:mod:`vidstyle.jobs.backends`) only ever record through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vidstyle.errors import VidstyleError, param, render
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.plan import Task
from vidstyle.progress import Reporter

# Seconds per optimization step per working pixel before a task has been measured: this
# project's 2-core CPU (benchmarks/step.py: 0.83 s per step at 256x256, 3.26 s at 512x512).
PRIOR_SECONDS_PER_STEP_PIXEL = 1.3e-5


@dataclass
class RunResult:
    """How a run ended: tasks it finished and failed, and the signal that stopped it."""

    done: int = 0
    failed: int = 0
    stopped_by: str | None = None  # "deadline", "error", or "signal N"
    signal: int | None = None
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    errors: dict[str, VidstyleError] = field(default_factory=dict)  # task key -> its error
    recoveries: list[str] = field(default_factory=list)  # tasks of dead processes found, why


def estimate(ledger: Ledger, steps: int, pixels: int) -> float:
    """Seconds a task of ``steps`` steps at ``pixels`` working pixels should take here."""
    rate = ledger.seconds_per_step_pixel() or PRIOR_SECONDS_PER_STEP_PIXEL
    return rate * steps * max(pixels, 1)


def work_left(ledger: Ledger) -> float:
    """Estimated seconds for the plan's tasks not yet done (pending or running; a clip's from
    its frames not yet finished)."""
    rows = [r for r in ledger.rows() if r.status in ("pending", "running")]
    return sum(estimate(ledger, r.steps_left, r.pixels) for r in rows)


@dataclass
class Recorder:
    """Records every outcome of a run (see the module's docstring).

    Attributes:
        ledger: the run's ledger (the recorder is its only writer during a run).
        log: where a line about every task goes (``run.log``).
        shown: where the run shows its tasks (the run's bar).
        deadline: epoch seconds after which no task starts that cannot end in time, or None.
        estimates: tell ``shown`` the seconds of work left after every task.
        after: called after every task that ended or stopped (the report is rewritten there).
        finished: called with each task whose output is written, before it counts as done (the
            folder's manifest records it there); a VidstyleError it raises fails the task. It
            returns the status to show (None: ``done``).
        retry_lines: a failure the ledger gives another attempt is logged as ``retry`` and not
            counted as failed (the Ray back end, whose workers die and come back); the
            in-process back end logs and counts every failed attempt, as it always has.
    """

    ledger: Ledger
    log: Callable[[str], None]
    shown: Reporter
    deadline: float | None = None
    estimates: bool = True
    after: Callable[[], None] | None = None
    finished: Callable[[Task], str | None] | None = None
    retry_lines: bool = False
    result: RunResult = field(default_factory=RunResult)
    faults: dict[str, list[str]] = field(default_factory=dict)  # key -> what went wrong before
    where: dict[str, str] = field(default_factory=dict)  # key -> where it runs (a Ray worker)

    def fits(self, steps: int, pixels: int) -> bool:
        """Whether a task of ``steps`` steps (still to run) at ``pixels`` pixels can end before
        the deadline."""
        if self.deadline is None:
            return True
        return time.time() + estimate(self.ledger, steps, pixels) <= self.deadline

    def anyway(self, kind: str) -> bool:
        """Whether a task that does not fit starts all the same when nothing fits: a clip, while
        time remains (it stops between frames at the deadline, its finished frames kept); an
        image would overrun the deadline or lose its work, so it waits for the next run."""
        return kind == "video" and (self.deadline is None or time.time() < self.deadline)

    def progress(self, task: Task, done: int, total: int | None) -> None:
        """A clip has ``done`` frames finished (of ``total``): kept for estimates and status."""
        self.ledger.progress(task.key, done, total)

    def resumed(self, task: Task, done: int, total: int | None) -> None:
        """A clip goes on from its finished frames: logged."""
        of = f" of {total}" if total else ""
        self.log(f"resume {task.label} from frame {done + 1}{of} ({done} finished frames kept)")

    def started(self, task: Task, where: str = "") -> None:
        """Log the start of a task (``where``: e.g. ``, on w0 (pid 42 on node1)``, repeated on
        the task's other lines)."""
        self.where[task.key] = where
        self.log(f"start {task.label}: {task.kind}, {task.steps} steps, to {task.output}{where}")

    def done(self, task: Task, seconds: float, detail: dict | None, where: str | None = None):
        """The task's output is written: finished in the ledger (with the faults it got over).

        Args:
            where: logged as ``done <task> <where> in <seconds>`` (None: no line).
        """
        status = None
        if self.finished is not None:
            try:
                status = self.finished(task)
            except VidstyleError as error:
                return self.failed(task, seconds, error, retry=False)
        faults = self.faults.pop(task.key, None)
        self.ledger.finish(task.key, seconds, detail | {"faults": faults} if faults else detail)
        self.result.done += 1
        if where is not None:
            self.log(f"done {task.label} {where} in {seconds:.1f}s")
        self.shown.end_item(task.label, status or "done", seconds)
        self._after()

    def failed(self, task: Task, seconds: float, error: VidstyleError | str, retry: bool) -> None:
        """The task failed: another attempt when ``retry`` and attempts are left, else given up.

        Args:
            error: the error, or its message (naming parameters as ``{name}``).
        """
        message = error.message(param) if isinstance(error, VidstyleError) else error
        (self.ledger.fail if retry else self.ledger.give_up)(task.key, seconds, message)
        if self.retry_lines and retry:
            row = next(r for r in self.ledger.rows() if r.key == task.key)
            if row.status == "pending":
                self.faults.setdefault(task.key, []).append(message)
                where = self.where.get(task.key, "")
                self.log(f"retry {task.label}{where}: {render(message)} (attempt {row.attempts})")
                return
        self.result.failed += 1
        self.result.failures.append(message)
        if isinstance(error, VidstyleError):
            self.result.errors[task.key] = error
        self.log(f"failed {task.label}{self.where.get(task.key, '')}: {render(message)}")
        self.shown.end_item(task.label, "failed", seconds)
        self._after()

    def stopped(self, task: Task, seconds: float, why: str, shown: bool = True) -> None:
        """The task stopped (a signal, the deadline): pending again, the attempt not counted.

        Args:
            why: logged in brackets: ``stopped <task> (<why>); it is pending again``.
            shown: end its item on the run's bar (a clip's shots have none of their own).
        """
        self.ledger.release(task.key, seconds, why)
        self.log(f"stopped {task.label}{self.where.get(task.key, '')} ({why}); it is pending again")
        self.result.stopped_by = self.result.stopped_by or why
        if shown:
            self.shown.end_item(task.label, "stopped", seconds)
        self._after()

    def left_open(self, task: Task, seconds: float) -> None:
        """A clip left with shots not run when the run stopped: pending again, its finished
        shots kept."""
        self.ledger.release(task.key, seconds, "stopped with shots not run")
        self.log(f"stopped {task.label}; it is pending again (finished shots kept)")

    def shot_failed(self, task: Task, label: str, message: str) -> int:
        """A shot of a clip failed on a worker that may be tried again: the attempt counts.

        Returns:
            The clip's attempts now (above the ledger's ``max_attempts``: give the clip up).
        """
        attempts = self.ledger.add_attempt(task.key, message)
        self.faults.setdefault(task.key, []).append(f"{label}: {message}")
        if attempts <= self.ledger.max_attempts:
            self.log(f"retry {label}: {render(message)} (attempt {attempts})")
        return attempts

    def recovered(self, labels: dict[str, str] | None = None) -> None:
        """Log the tasks of dead processes that the ledger's last claim found, by their names
        (``labels``: key -> label) and when their process was last heard of, keep why (for the
        finished task's detail and the terminal), and count those out of attempts as failed."""
        for found in self.ledger.recovered:
            name = (labels or {}).get(found.key, found.key)
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(found.when))
            line = (f"{name}: {found.reason} (last heard of at {when}; "
                    f"attempt {found.attempts})")  # fmt: skip
            self.log(f"recovered {line}")
            self.result.recoveries.append(line)
            self.faults.setdefault(found.key, []).append(found.reason)
            if found.failed:
                self.log(f"failed {name}: {found.reason}, {found.attempts} attempts")
                self.result.failed += 1
                self.result.failures.append(f"{found.reason}, {found.attempts} attempts")
        self.ledger.recovered.clear()

    def _after(self) -> None:
        if self.estimates:
            self.shown.remaining(work_left(self.ledger))
        if self.after is not None:
            self.after()
