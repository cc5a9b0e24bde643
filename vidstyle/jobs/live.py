"""The run's report kept up to date while a night goes on, without spending the night writing
HTML: :class:`LiveReport` rewrites ``report.html`` (:func:`vidstyle.jobs.report.write_report`) as
tasks start and end, at most once every :data:`REPORT_SECONDS` (a change in between is written at
the next progress step after them), and always when the run ends. A page slow to write (a night
of thousands of tasks: 0.7 s for 1000 stills on a 2-core CPU) waits :data:`SLOW_FACTOR` times
as long as its last write took, so writing it never takes more than about a tenth of the run,
but never more than :data:`MAX_WAIT_SECONDS` (a first page that made every input's thumbnail is
slow once)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from vidstyle.jobs.report import write_report
from vidstyle.jobs.rows import Row
from vidstyle.progress import NullReporter

REPORT_SECONDS = 5.0  # the live page is rewritten at most this often (and always at the end)
SLOW_FACTOR = 10.0  # and waits at least this many times as long as its last write took
MAX_WAIT_SECONDS = 60.0  # but never more than this


class LiveReport(NullReporter):
    """``report.html`` kept up to date during a run, without spending the night writing HTML.

    Call it (``live()``) when something changed (the recorder's hook as each task ends): the page
    is rewritten at once, unless it was written less than ``every`` seconds ago (or less than
    :data:`SLOW_FACTOR` times its last write's seconds); then the change is kept due and written
    at the first call, item or progress step after that.
    It is also one of the run's reporters: an item starting (a task, a clip's frame) is a change
    too (the page shows what runs), and the steps of a long task bring out a change kept due.
    :meth:`close` always writes.

    Args:
        run_dir: the run folder.
        rows: what reads the ledger's rows (read under the report's lock).
        title: the page's title.
        every: the fewest seconds between two writes.
        clock: seconds, monotonic (tests pass their own).
    """

    wants_steps = True  # progress steps are when a due page is written during a long task

    def __init__(
        self,
        run_dir: Path,
        rows: Callable[[], list[Row]],
        title: str,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.run_dir, self.rows, self.title, self.clock = run_dir, rows, title, clock
        self.every = REPORT_SECONDS if every is None else every
        self.last: float | None = None  # when the page was last written
        self.wait = self.every  # seconds from the last write to the next one
        self.due = False

    def __call__(self) -> None:
        """Something changed: write the page now, or as soon as the throttle lets it."""
        self.due = True
        self._flush()

    def start_item(self, name: str, steps: int, lane: str | None = None) -> None:
        """A task (or a clip's frame) starts: a change (the page shows it running)."""
        self()

    def step(self, done: int, loss: float, lane: str | None = None) -> None:
        """A chunk of steps ended: write a change kept due, if the throttle lets it now."""
        self._flush()

    def close(self) -> Path:
        """Write the page now (the run ends: its last state is always written).

        Returns:
            The report's path.
        """
        return self._write()

    def _flush(self) -> None:
        if self.due and (self.last is None or self.clock() - self.last >= self.wait):
            self._write()

    def _write(self) -> Path:
        self.due, began = False, self.clock()
        path = write_report(self.run_dir, self.rows, self.title)
        self.last = self.clock()
        self.wait = max(self.every, min(SLOW_FACTOR * (self.last - began), MAX_WAIT_SECONDS))
        return path
