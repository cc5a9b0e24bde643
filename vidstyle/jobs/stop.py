"""Stopping a run: the signals, and the deadline.

SIGINT (Ctrl-C) and SIGTERM set a flag (:func:`stop_on_signals`) that the engine reads after
each chunk of steps (:meth:`StopFlag.checker`, passed to the pipeline as ``stop``): the task goes
back to ``pending`` and the run returns, for exit codes 130 and 143; a second Ctrl-C interrupts
at once. At the deadline a clip under way stops between frames: its frame loop reads
:meth:`StopFlag.frame_checker` as each frame starts. The one-shot commands install no handlers
(``StopFlag(watched=False)``).
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass


class Stopped(Exception):
    """Raised at a chunk or frame boundary when the run must stop (signal or deadline)."""


@dataclass
class StopFlag:
    """Why the run should stop: a signal number, or the deadline (epoch seconds) passing."""

    deadline: float | None = None
    signal: int | None = None
    watched: bool = True  # False: nothing sets ``signal`` (no handlers), no need to read it often

    def check_signal(self) -> None:
        if self.signal is not None:
            raise Stopped(f"signal {self.signal}")

    def check_deadline(self) -> None:
        if self.deadline is not None and time.time() >= self.deadline:
            raise Stopped("deadline")

    def checker(self):
        """What the engine calls after each chunk of steps (``stop`` of the pipeline): raises
        :class:`Stopped` once a signal came; None when nothing can set it (a one-shot run)."""
        return self.check_signal if self.watched else None

    def frame_checker(self):
        """What a clip's frame loop calls as each frame starts (``frame_stop`` of the pipeline):
        raises :class:`Stopped` once a signal came or the deadline passed; None when neither can
        happen (a one-shot run)."""
        if not self.watched and self.deadline is None:
            return None

        def check() -> None:
            self.check_signal()
            self.check_deadline()

        return check


def stop_on_signals(stop: StopFlag):
    """Install SIGINT and SIGTERM handlers that set ``stop.signal`` (a second Ctrl-C interrupts
    at once); returns a function that puts the old handlers back. Only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        if stop.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.signal = signum

    for sig in old:
        signal.signal(sig, handler)
    return lambda: [signal.signal(sig, previous) for sig, previous in old.items()]
