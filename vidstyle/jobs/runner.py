"""The runner: the one set-up of a run, whichever back end does the work. It makes the run's
:class:`~vidstyle.jobs.recorder.Recorder`, opens the back end (in this process,
:class:`~vidstyle.jobs.backends.inprocess.InProcess`, or on Ray workers,
:class:`~vidstyle.jobs.cluster.Cluster`) and runs the one loop (:mod:`vidstyle.jobs.loop`)
until nothing is left, the deadline says no more fit, or a signal asks it to stop. Every command
that stylizes runs its plan of :class:`~vidstyle.jobs.plan.Task` here: ``batch`` with its ledger
on disk, ``image``, ``folder`` and ``video`` with one in memory (see :mod:`vidstyle.controller`).
Tasks are claimed one at a time, or (:class:`View` ``group_size``) images of one setup together,
to be optimized in one engine call, by either back end.

Stopping is orderly (:mod:`vidstyle.jobs.stop`). SIGINT (Ctrl-C) and SIGTERM set a flag that
the next chunk of steps reads: the task goes back to ``pending`` (the attempt not counted) and
the runner returns, for exit codes 130 and 143. A second Ctrl-C interrupts at once. At the
deadline a clip under way stops between frames (its finished frames are kept in its work
folder). Tasks are claimed when their estimate (a clip's: for its frames not yet finished) ends
before the deadline; when none does and time remains, a clip starts all the same (see
:meth:`Recorder.anyway`). A ``kill -9`` loses at most the image or frame under way: outputs are
written atomically, and the next run finds the task of the dead process. The one-shot commands
install no handlers (``StopFlag(watched=False)``): Ctrl-C raises KeyboardInterrupt through the
run, finished outputs kept.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.loop import Backend, run_loop
from vidstyle.jobs.plan import Task
from vidstyle.jobs.recorder import Recorder, RunResult
from vidstyle.jobs.stop import StopFlag
from vidstyle.progress import NullReporter, Reporter


@dataclass(frozen=True)
class View:
    """How a run shows its tasks, claims them, and what its caller does as each one ends.

    Attributes:
        unit: what the run's bar counts (``tasks``, ``images``).
        estimates: tell the reporter the seconds of work left (from the ledger's speed).
        inline: a run of one clip whose frames are the run's items (see
            :class:`vidstyle.jobs.relay.Relay`): the run itself reports nothing.
        group_size: tasks claimed together: up to this many with equal ``group_key`` run in one
            engine call (GPU batching), each still done or failed on its own.
        group_key: which tasks may run together (None: alone), see :func:`same_work`.
        finished: called with each task whose output is written, before it counts as done (the
            folder's manifest records it there); a VidstyleError it raises fails the task. It
            returns the status to show (None: ``done``).
    """

    unit: str = "tasks"
    estimates: bool = True
    inline: bool = False
    group_size: int = 1
    group_key: Callable[[Task], Hashable | None] | None = None
    finished: Callable[[Task], str | None] | None = None


def same_work(task: Task) -> Hashable | None:
    """What images must share to run in one engine call: their setup (the method, the styles
    and the working size, from the header); None for a clip or an unreadable header."""
    if task.kind != "image" or not task.size:
        return None
    return task.setup


class Opens(Protocol):
    """A back end before it runs: what :func:`run_tasks` opens for a run."""

    def open(self, recorder: Recorder, reporter: Reporter, stop: StopFlag,
             view: View) -> AbstractContextManager[Backend]:  # fmt: skip
        """The back end, ready for the run loop (closed, its workers gone, after it)."""


def run_tasks(
    tasks: list[Task],
    ledger: Ledger,
    backend: Opens,
    reporter: Reporter | None = None,
    stop: StopFlag | None = None,
    after_task: Callable[[], None] | None = None,
    log: Callable[[str], None] | None = None,
    view: View | None = None,
) -> RunResult:
    """Claim and run the plan's pending tasks until none is left (or none fits the deadline).

    Args:
        tasks: the plan (already in the ledger, see :meth:`Ledger.sync`).
        ledger: the run's ledger.
        backend: where the work runs: ``InProcess(executor)`` or ``Cluster(config, factory)``.
        reporter: progress: the run's tasks, and each image's or frame's steps.
        stop: the deadline and the signal flag (see :func:`vidstyle.jobs.stop.stop_on_signals`).
        after_task: called after every task (the report is rewritten there).
        log: where a line about every task goes (``run.log``).
        view: how the run is shown, grouped claims, and the hook as a task finishes.

    Returns:
        What the run did and why it stopped.

    Raises:
        UsageError: the back end cannot start (Ray not installed, a cluster too small).
    """
    reporter, stop, view = reporter or NullReporter(), stop or StopFlag(), view or View()
    shown = NullReporter() if view.inline else reporter  # what the run itself reports
    recorder = Recorder(ledger, tasks, log or (lambda line: None), shown, stop.deadline,
                        view.estimates, after_task, view.finished)  # fmt: skip
    with backend.open(recorder, reporter, stop, view) as lanes:
        return run_loop(lanes, recorder, stop, view.unit)
