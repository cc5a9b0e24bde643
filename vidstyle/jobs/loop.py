"""The run loop: the one loop every run goes through, whichever back end does the work.

It gives each idle lane of the back end work it claims (a task, a group of same-size images, a
clip's shot), dispatches it, collects what ended, and stops on a signal, at the deadline, or when
nothing is left. What became of each task is written by the back end through the run's one
:class:`~vidstyle.jobs.recorder.Recorder` (ledger, ``run.log``, result, bar).

Back ends (:mod:`vidstyle.jobs.backends`):

- :class:`~vidstyle.jobs.backends.inprocess.InProcess`: one lane, this process; dispatching runs
  the work at once (``batch`` without ``--ray``, and the one-shot commands).
- :class:`~vidstyle.jobs.backends.ray.RayBackend`: one lane per Ray worker; dispatching sends
  the work, collecting waits for the first to end (``batch --ray``).
"""

from __future__ import annotations

import time
from typing import Protocol

from vidstyle.jobs.recorder import Recorder, RunResult, work_left
from vidstyle.jobs.stop import StopFlag


class Backend(Protocol):
    """What the run loop asks of a back end. Lanes are the back end's own objects."""

    def idle(self) -> list:
        """The lanes that can take work now."""

    def claim(self, lane) -> object | None:
        """Work for ``lane`` (claimed in the ledger through the recorder), or None."""

    def dispatch(self, lane, work) -> bool:
        """Start ``work`` on ``lane``; True when the lane is now busy (False: the work needed
        no lane, e.g. a clip cut into shots that are claimed next)."""

    def busy(self) -> bool:
        """Whether work is under way (or a lane is coming back for work that waits)."""

    def collect(self) -> None:
        """Wait a little for work to end, and record what ended."""

    def halt(self, signum: int) -> None:
        """Ask the work under way to stop at its next chunk of steps."""

    def close(self) -> None:
        """Put back what was claimed and not run (the run is ending)."""


def run_loop(
    backend: Backend, recorder: Recorder, stop: StopFlag, unit: str = "tasks"
) -> RunResult:
    """Claim, dispatch and collect until nothing is left, nothing fits the deadline, or a signal
    (or a fatal error: ``result.stopped_by``) stops the run.

    Args:
        backend: does the work (see the module's docstring).
        recorder: records every outcome; its ``result`` is returned.
        stop: the deadline and the signal flag.
        unit: what the run's bar counts (``tasks``, ``images``).

    Returns:
        What the run did and why it stopped.
    """
    result, ledger, shown = recorder.result, recorder.ledger, recorder.shown
    pending = [r for r in ledger.rows() if r.status in ("pending", "running")]
    started, halted = time.monotonic(), False
    shown.begin(len(pending), unit)
    if recorder.estimates:
        shown.remaining(work_left(ledger))
    try:
        while True:
            if stop.signal is not None and not halted:
                halted, result.signal = True, stop.signal
                result.stopped_by = f"signal {stop.signal}"
                backend.halt(stop.signal)
            if not halted and not result.stopped_by:
                _feed(backend)
            if not backend.busy():
                break
            backend.collect()
        backend.close()
    finally:
        shown.end()
    if not result.stopped_by and stop.deadline is not None and ledger.count("pending"):
        result.stopped_by = "deadline"
    result.seconds = time.monotonic() - started
    return result


def _feed(backend: Backend) -> None:
    """Give every idle lane work, as long as there is work to claim."""
    for lane in backend.idle():
        while (work := backend.claim(lane)) is not None:
            if backend.dispatch(lane, work):
                break
