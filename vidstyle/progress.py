"""Progress reporting: a small protocol the pipelines call, a rich display, plain log lines for
when the output is not a terminal, and a null sink for ``--quiet`` and library use.
"""

from __future__ import annotations

import time
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class Reporter(Protocol):
    """What the pipelines tell about a run: items (images or frames), and steps within an item."""

    def begin(self, total: int | None, unit: str) -> None:
        """A run of ``total`` items (None: not known) starts; ``unit`` names them ("frames")."""

    def start_item(self, name: str, steps: int) -> None:
        """An item starts with ``steps`` optimization steps."""

    def step(self, done: int, loss: float) -> None:
        """``done`` steps of the current item are finished; ``loss`` is the latest total loss."""

    def end_item(self, name: str, status: str, seconds: float) -> None:
        """The current item ended as ``done``, ``skipped`` or ``failed``."""

    def end(self) -> None:
        """The run is over."""

    def remaining(self, seconds: float) -> None:
        """The run's own estimate of the seconds left (a batch: measured speed x work left)."""


class NullReporter:
    """Reports nothing, and wants no losses: see :func:`step_callback`."""

    wants_steps = False

    def begin(self, total: int | None, unit: str) -> None:
        pass

    def start_item(self, name: str, steps: int) -> None:
        pass

    def step(self, done: int, loss: float) -> None:
        pass

    def end_item(self, name: str, status: str, seconds: float) -> None:
        pass

    def end(self) -> None:
        pass

    def remaining(self, seconds: float) -> None:
        pass


class _Eta(ProgressColumn):
    """The run's own estimate when it gives one (``eta`` field), else rich's from the rate."""

    def __init__(self):
        super().__init__()
        self.rich = TimeRemainingColumn()

    def render(self, task) -> Text:
        eta = task.fields.get("eta")
        return Text(duration(eta), style="progress.remaining") if eta is not None else (
            self.rich.render(task))  # fmt: skip


def duration(seconds: float) -> str:
    """``1h02m``, ``3m05s`` or ``12s``."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class RichReporter:
    """A live display: the run's bar (items, ETA) and the current item's bar (steps, loss, ETA)."""

    def __init__(self, console: Console):
        columns = (TextColumn("{task.description}", markup=False), BarColumn(),
                   MofNCompleteColumn(), TaskProgressColumn(),
                   TextColumn("{task.fields[info]}", markup=False), TimeElapsedColumn(),
                   TextColumn("ETA"), _Eta())  # fmt: skip
        self.progress = Progress(*columns, console=console, transient=False)
        self.run_task = self.item_task = None
        self.started = 0.0

    def begin(self, total: int | None, unit: str) -> None:
        self.progress.start()
        self.run_task = self.progress.add_task(unit, total=total, info="")

    def start_item(self, name: str, steps: int) -> None:
        self.started = time.monotonic()
        if self.item_task is not None:
            self.progress.remove_task(self.item_task)
        self.item_task = self.progress.add_task(f"  {name}", total=max(steps, 1), info="")

    def step(self, done: int, loss: float) -> None:
        self.progress.update(self.item_task, completed=done, info=f"loss {loss:.4g}")

    def end_item(self, name: str, status: str, seconds: float) -> None:
        self.progress.advance(self.run_task)
        self.progress.update(self.run_task, info=f"last: {status} in {seconds:.1f}s")

    def end(self) -> None:
        if self.item_task is not None:
            self.progress.remove_task(self.item_task)
            self.item_task = None
        self.progress.stop()

    def remaining(self, seconds: float) -> None:
        self.progress.update(self.run_task, eta=seconds)


class PlainReporter:
    """Plain lines for logs: one when an item starts, every ``every`` steps, and when it ends."""

    def __init__(self, console: Console, every: int = 100):
        self.console = console
        self.every = every
        self.total = self.index = self.steps = 0
        self.unit = "items"
        self.started = 0.0
        self.next_report = every

    def begin(self, total: int | None, unit: str) -> None:
        self.total, self.unit, self.index = total, unit, 0

    def start_item(self, name: str, steps: int) -> None:
        self.steps, self.started, self.next_report = steps, time.monotonic(), self.every
        number = self.index + 1  # skipped items and whole batches count as they end
        count = f"{number}/{self.total}" if self.total else str(number)
        self.console.print(f"[{count}] {name}: {steps} steps", highlight=False, markup=False)

    def step(self, done: int, loss: float) -> None:
        if done < self.next_report and done < self.steps:
            return
        self.next_report = (done // self.every + 1) * self.every
        elapsed = time.monotonic() - self.started
        eta = elapsed / done * (self.steps - done) if done else 0.0
        line = f"  step {done}/{self.steps} loss {loss:.4g} {elapsed:.0f}s ETA {eta:.0f}s"
        self.console.print(line, highlight=False, markup=False)

    def end_item(self, name: str, status: str, seconds: float) -> None:
        self.index += 1
        self.console.print(f"  {name}: {status} in {seconds:.1f}s", highlight=False, markup=False)

    def end(self) -> None:
        pass

    def remaining(self, seconds: float) -> None:
        line = f"  about {duration(seconds)} of work left"
        self.console.print(line, highlight=False, markup=False)


class Tee:
    """Tells several reporters the same things (the screen and the run's log)."""

    def __init__(self, *reporters: Reporter):
        self.reporters = reporters

    def begin(self, total: int | None, unit: str) -> None:
        for r in self.reporters:
            r.begin(total, unit)

    def start_item(self, name: str, steps: int) -> None:
        for r in self.reporters:
            r.start_item(name, steps)

    def step(self, done: int, loss: float) -> None:
        for r in self.reporters:
            r.step(done, loss)

    def end_item(self, name: str, status: str, seconds: float) -> None:
        for r in self.reporters:
            r.end_item(name, status, seconds)

    def end(self) -> None:
        for r in self.reporters:
            r.end()

    def remaining(self, seconds: float) -> None:
        for r in self.reporters:
            r.remaining(seconds)


def step_callback(reporter: Reporter):
    """What to pass the engine as ``on_step``: None when the reporter shows no steps (a
    :class:`NullReporter`, ``wants_steps = False``), so that nothing reads the loss back from the
    device; otherwise ``reporter.step``."""
    return reporter.step if getattr(reporter, "wants_steps", True) else None


def reporter_for(console: Console, quiet: bool) -> Reporter:
    """The reporter that fits: none when quiet, rich on a terminal, plain lines otherwise."""
    if quiet:
        return NullReporter()
    return RichReporter(console) if console.is_terminal else PlainReporter(console)
