"""The recorder: the one writer of a run's ledger, whichever back end runs the work. It claims
tasks (the ledger's one claim, with the deadline's rule), moves each task in the ledger (running,
finished, failed, given up, released, its heartbeat, a clip's frames), writes its ``run.log``
line, counts it in the run's :class:`RunResult`, ends its item on the run's bar, and tells the
caller (the report is rewritten there). The run loop (:mod:`vidstyle.jobs.loop`) and its back
ends (:mod:`vidstyle.jobs.backends`) only ever touch the ledger through it.

Failures are counted one way, whichever back end: an attempt that failed where another may
succeed (an unexpected error, a worker that died) is logged as ``retry`` while the ledger gives
the task another attempt, and kept among the task's faults (shown when it ends); a task counts as
failed once it is given up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

from vidstyle.errors import VidstyleError, param, render
from vidstyle.jobs.executor import Ran
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.plan import Task
from vidstyle.jobs.rows import estimate
from vidstyle.progress import Reporter

GPU_FAULT = "a GPU fault this process cannot recover from: run the same command again to go on"


@dataclass
class RunResult:
    """How a run ended: tasks it finished and failed, and the signal that stopped it."""

    done: int = 0
    failed: int = 0
    stopped_by: str | None = None  # "deadline", "error", "signal N", or GPU_FAULT
    signal: int | None = None
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    errors: dict[str, VidstyleError] = field(default_factory=dict)  # task key -> its error
    recoveries: list[str] = field(default_factory=list)  # tasks of dead processes found, why


def work_left(ledger: Ledger) -> float:
    """Estimated seconds for the plan's tasks not yet done (pending or running; a clip's from
    its frames not yet finished), at the ledger's measured speed."""
    rate = ledger.seconds_per_step_pixel()
    rows = [r for r in ledger.rows() if r.status in ("pending", "running")]
    return sum(estimate(r.steps_left, r.pixels, rate) for r in rows)


class Recorder:
    """Records every outcome of a run (see the module's docstring).

    Args:
        ledger: the run's ledger (the recorder is its only writer during a run).
        tasks: the plan (already in the ledger).
        log: where a line about every task goes (``run.log``).
        shown: where the run shows its tasks (the run's bar).
        deadline: epoch seconds after which no task starts that cannot end in time, or None.
        estimates: tell ``shown`` the seconds of work left after every task.
        after: called after every task that ended or stopped (the report is rewritten there).
        finished: called with each task whose output is written, before it counts as done (the
            folder's manifest records it there); a VidstyleError it raises fails the task. It
            returns the status to show (None: ``done``).
    """

    def __init__(self, ledger: Ledger, tasks: Iterable[Task], log: Callable[[str], None],
                 shown: Reporter, deadline: float | None = None, estimates: bool = True,
                 after: Callable[[], None] | None = None,
                 finished: Callable[[Task], str | None] | None = None):  # fmt: skip
        self.ledger, self.log, self.shown, self.deadline = ledger, log, shown, deadline
        self.tasks = {task.key: task for task in tasks}
        self.estimates, self.after, self.finished = estimates, after, finished
        self.result = RunResult()
        self.faults: dict[str, list[str]] = {}  # key -> what went wrong before
        self.where: dict[str, str] = {}  # key -> where it runs (a Ray worker)
        self.groups: dict[str, Hashable | None] = {}  # key -> its group (memo)

    # ------------------------------------------------------------------------------ claiming
    def fits(self, steps: int, pixels: int) -> bool:
        """Whether a task of ``steps`` steps (still to run) at ``pixels`` pixels can end before
        the deadline."""
        if self.deadline is None:
            return True
        rate = self.ledger.seconds_per_step_pixel()
        return time.time() + estimate(steps, pixels, rate) <= self.deadline

    def anyway(self, kind: str) -> bool:
        """Whether a task that does not fit starts all the same when nothing fits: a clip, while
        time remains (it stops between frames at the deadline, its finished frames kept); an
        image would overrun the deadline or lose its work, so it waits for the next run."""
        return kind == "video" and (self.deadline is None or time.time() < self.deadline)

    def claim(self, size: int = 1, group: Callable[[Task], Hashable | None] | None = None,
              keys: set[str] | None = None,
              prefer: Callable[[Task], Hashable] | None = None) -> list[Task]:  # fmt: skip
        """Claim a task that fits the deadline (or a clip that does not, when nothing fits and
        time remains: :meth:`anyway`), and with it up to ``size - 1`` more of its ``group``;
        log the tasks of dead processes the claim found (:meth:`recovered`).

        Args:
            size: tasks claimed together.
            group: which tasks may run together (None: alone).
            keys: the tasks that may be claimed (None: any of the plan).
            prefer: orders the tasks of one priority (lowest first) before the plan's order.

        Returns:
            The claimed tasks, the first first; empty when none is left (that fits).
        """
        grouped = None if group is None else self._grouped(group)
        preferred = None if prefer is None else (lambda key: prefer(self.tasks[key]))
        claimed = self.ledger.claim_group(self.fits, set(self.tasks) if keys is None else keys,
                                          size, grouped, self.anyway, preferred)  # fmt: skip
        self.recovered()
        return [self.tasks[key] for key in claimed]

    def _grouped(self, group: Callable[[Task], Hashable | None]):
        def grouped(key: str):
            if key not in self.groups:
                self.groups[key] = group(self.tasks[key])
            return self.groups[key]

        return grouped

    def recovered(self) -> None:
        """Log the tasks of dead processes that the ledger found, by their names and when their
        process was last heard of, keep why (for the finished task's detail and the terminal),
        and count those out of attempts as failed."""
        for found in self.ledger.recovered:
            task = self.tasks.get(found.key)
            name = task.label if task is not None else found.key
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

    # ------------------------------------------------------------------------- under way
    def started(self, task: Task, where: str = "", worker: str | None = None) -> None:
        """Log the start of a task (``where``: e.g. ``, on w0 (pid 42 on node1)``, repeated on
        the task's other lines); ``worker`` names the Ray worker in its attempt's history."""
        self.where[task.key] = where
        if worker is not None:
            self.ledger.worker(task.key, worker)
        self.log(f"start {task.label}: {task.kind}, {task.steps} steps, to {task.output}{where}")

    def beating(self, tasks: list[Task]):
        """Keep the tasks' heartbeat fresh while the block runs (``with recorder.beating(...)``)."""
        return self.ledger.beating(*(task.key for task in tasks))

    def heartbeat(self, keys: Iterable[str]) -> None:
        """Tell other runners that this process is still at the tasks ``keys``."""
        self.ledger.heartbeat(*keys)

    def progress(self, task: Task, done: int, total: int | None) -> None:
        """A clip has ``done`` frames finished (of ``total``): kept for estimates and status."""
        self.ledger.progress(task.key, done, total)

    def resumed(self, task: Task, done: int, total: int | None) -> None:
        """A clip goes on from its finished frames: logged."""
        of = f" of {total}" if total else ""
        self.log(f"resume {task.label} from frame {done + 1}{of} ({done} finished frames kept)")

    # ------------------------------------------------------------------------------ outcomes
    def attempted(self, tasks: list[Task], ran: Ran, seconds: float,
                  where: str | None = None) -> None:  # fmt: skip
        """What one run of a unit of work came to, for each of its tasks (the seconds shared
        among them): stopped, done (``where``: see :meth:`done`) or failed. A fatal error stops
        the run, and so does a sticky CUDA fault (``ran.restart``) in a process no one restarts
        (in-process; the Ray back end clears it as Ray restarts the worker): the tasks stay
        retryable in the ledger for the next run."""
        seconds /= len(tasks)
        if ran.stopped is not None:
            for task in tasks:
                self.stopped(task, seconds, ran.stopped)
            return
        for task, (detail, error) in zip(tasks, ran.outcomes, strict=True):
            if error is None:
                self.done(task, seconds, detail, where)
            else:
                self.failed(task, seconds, error, ran.retry)
        if ran.fatal:
            self.result.stopped_by = "error"  # no weights or no cuDNN: every task would fail so
        elif ran.restart:  # this process's GPU context is broken: every later task would fail
            self.result.stopped_by = GPU_FAULT

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
        """The task failed: tried again when ``retry`` and attempts are left (logged as a
        ``retry``), else given up (counted as failed).

        Args:
            error: the error, or its message (naming parameters as ``{name}``).
        """
        message = error.message(param) if isinstance(error, VidstyleError) else error
        (self.ledger.fail if retry else self.ledger.give_up)(task.key, seconds, message)
        where = self.where.get(task.key, "")
        if retry:
            row = next(r for r in self.ledger.rows() if r.key == task.key)
            if row.status == "pending":
                self.faults.setdefault(task.key, []).append(message)
                self.log(f"retry {task.label}{where}: {render(message)} (attempt {row.attempts})")
                return
        self.result.failed += 1
        self.result.failures.append(message)
        if isinstance(error, VidstyleError):
            self.result.errors[task.key] = error
        self.log(f"failed {task.label}{where}: {render(message)}")
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

    def part_failed(self, task: Task, label: str, message: str) -> str | None:
        """A part of a clip (``label``: its shot) failed on a worker, where another attempt may
        succeed: the attempt counts (logged as a ``retry`` while attempts are left).

        Returns:
            None while attempts are left, else why the clip is given up (:meth:`failed` it).
        """
        attempts = self.ledger.add_attempt(task.key, message)
        self.faults.setdefault(task.key, []).append(f"{label}: {message}")
        if attempts > self.ledger.max_attempts:
            return f"{message}, {attempts - 1} attempts"
        self.log(f"retry {label}: {render(message)} (attempt {attempts})")
        return None

    def _after(self) -> None:
        if self.estimates:
            self.shown.remaining(work_left(self.ledger))
        if self.after is not None:
            self.after()
