"""Progress reporting: a small protocol the pipelines call, a rich display, plain log lines for
when the output is not a terminal, and a null sink for ``--quiet`` and library use.

An image run coarse to fine, or in tiles, is also told level by level (``level``): the item's
line shows ``level 3/5 1024x768, 9 tiles``, and the plan of its levels is shown once, before its
first level. A run of one untiled level (the usual small image) shows none of this.

Several workers (a batch over a Ray cluster) report their items side by side: ``start_item``
and ``step`` take an optional ``lane`` (the worker's name); the rich display keeps one item line
per lane and plain lines are prefixed by it.
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

from vidstyle.engine.ladder import Work, level_line, plan_line


class Reporter(Protocol):
    """What the pipelines tell about a run: items (images or frames), and steps within an item."""

    def begin(self, total: int | None, unit: str) -> None:
        """A run of ``total`` items (None: not known) starts; ``unit`` names them ("frames")."""

    def start_item(self, name: str, steps: int, lane: str | None = None) -> None:
        """An item starts with ``steps`` optimization steps (on worker ``lane``, if given)."""

    def step(self, done: int, loss: float, lane: str | None = None) -> None:
        """``done`` steps of the current item are finished; ``loss`` is the latest total loss."""

    def level(self, index: int, works: list[Work], lane: str | None = None) -> None:
        """The current item's level ``index`` (0 first) of ``works`` (every level's size, tiles
        and memory, coarsest first) starts; told only of multi-level or tiled runs."""

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

    def start_item(self, name: str, steps: int, lane: str | None = None) -> None:
        pass

    def step(self, done: int, loss: float, lane: str | None = None) -> None:
        pass

    def level(self, index: int, works: list[Work], lane: str | None = None) -> None:
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
    """A live display: the run's bar (items, ETA) and the current item's bar (steps, loss, ETA),
    or one item bar per lane (worker)."""

    def __init__(self, console: Console):
        columns = (TextColumn("{task.description}", markup=False), BarColumn(),
                   MofNCompleteColumn(), TaskProgressColumn(),
                   TextColumn("{task.fields[info]}", markup=False), TimeElapsedColumn(),
                   TextColumn("ETA"), _Eta())  # fmt: skip
        self.progress = Progress(*columns, console=console, transient=False)
        self.run_task = self.item_task = None
        self.lanes: dict[str, object] = {}  # lane -> its item's bar
        self.levels: dict[str | None, str] = {}  # lane -> its item's level line
        self.plans: dict[str | None, str] = {}  # lane -> the last plan shown
        self.started = 0.0

    def begin(self, total: int | None, unit: str) -> None:
        self.progress.start()
        self.run_task = self.progress.add_task(unit, total=total, info="")

    def start_item(self, name: str, steps: int, lane: str | None = None) -> None:
        self.started = time.monotonic()
        old = self.item_task if lane is None else self.lanes.get(lane)
        if old is not None:
            self.progress.remove_task(old)
        label = f"  {name}" if lane is None else f"  {lane}: {name}"
        new = self.progress.add_task(label, total=max(steps, 1), info="")
        self.levels.pop(lane, None)
        if lane is None:
            self.item_task = new
        else:
            self.lanes[lane] = new

    def step(self, done: int, loss: float, lane: str | None = None) -> None:
        task = self.item_task if lane is None else self.lanes.get(lane)
        if task is not None:
            info = f"loss {loss:.4g}"
            if lane in self.levels:
                info = f"{self.levels[lane]} · {info}"
            self.progress.update(task, completed=done, info=info)

    def level(self, index: int, works: list[Work], lane: str | None = None) -> None:
        """The level in the item's line; the plan printed above the bars when it is new."""
        plan = plan_line(works)
        if index == 0 and self.plans.get(lane) != plan:
            self.plans[lane] = plan
            where = f"{lane}: " if lane else ""
            self.progress.console.print(f"  {where}{plan}", highlight=False, markup=False)
        self.levels[lane] = level_line(index, works)
        task = self.item_task if lane is None else self.lanes.get(lane)
        if task is not None:
            self.progress.update(task, info=self.levels[lane])

    def end_item(self, name: str, status: str, seconds: float) -> None:
        self.progress.advance(self.run_task)
        self.progress.update(self.run_task, info=f"last: {status} in {seconds:.1f}s")

    def end(self) -> None:
        for task in [self.item_task, *self.lanes.values()]:
            if task is not None:
                self.progress.remove_task(task)
        self.item_task, self.lanes = None, {}
        self.progress.stop()

    def remaining(self, seconds: float) -> None:
        self.progress.update(self.run_task, eta=seconds)


class PlainReporter:
    """Plain lines for logs: one when an item starts, every ``every`` steps, and when it ends;
    an item of a lane (worker) has its lines prefixed by the lane."""

    def __init__(self, console: Console, every: int = 100):
        self.console = console
        self.every = every
        self.total = self.index = 0
        self.unit = "items"
        self.items: dict[str | None, list] = {}  # lane -> [steps, started, next report]

    def begin(self, total: int | None, unit: str) -> None:
        self.total, self.unit, self.index = total, unit, 0

    def start_item(self, name: str, steps: int, lane: str | None = None) -> None:
        self.items[lane] = [steps, time.monotonic(), self.every]
        number = self.index + 1  # skipped items and whole batches count as they end
        count = f"{number}/{self.total}" if self.total else str(number)
        where = f"{lane}: " if lane else ""
        self.console.print(f"[{count}] {where}{name}: {steps} steps", highlight=False,
                           markup=False)  # fmt: skip

    def step(self, done: int, loss: float, lane: str | None = None) -> None:
        item = self.items.get(lane)
        if item is None:
            return
        steps, started, next_report = item
        if done < next_report and done < steps:
            return
        item[2] = (done // self.every + 1) * self.every
        elapsed = time.monotonic() - started
        eta = elapsed / done * (steps - done) if done else 0.0
        where = f"{lane}: " if lane else ""
        line = f"  {where}step {done}/{steps} loss {loss:.4g} {elapsed:.0f}s ETA {eta:.0f}s"
        self.console.print(line, highlight=False, markup=False)

    def level(self, index: int, works: list[Work], lane: str | None = None) -> None:
        """The item's plan before its first level, then a line as each level starts."""
        where = f"{lane}: " if lane else ""
        if index == 0:
            self.console.print(f"  {where}{plan_line(works)}", highlight=False, markup=False)
        line = f"  {where}{level_line(index, works)}"
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

    def start_item(self, name: str, steps: int, lane: str | None = None) -> None:
        for r in self.reporters:
            r.start_item(name, steps, **({"lane": lane} if lane else {}))

    def step(self, done: int, loss: float, lane: str | None = None) -> None:
        for r in self.reporters:
            r.step(done, loss, **({"lane": lane} if lane else {}))

    def level(self, index: int, works: list[Work], lane: str | None = None) -> None:
        for r in self.reporters:
            r.level(index, works, **({"lane": lane} if lane else {}))

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


def level_callback(reporter: Reporter):
    """What to pass the engine as ``on_level``: None when the reporter shows no steps (see
    :func:`step_callback`) or knows no levels; otherwise ``reporter.level``."""
    if not getattr(reporter, "wants_steps", True):
        return None
    return getattr(reporter, "level", None)


def reporter_for(console: Console, quiet: bool) -> Reporter:
    """The reporter that fits: none when quiet, rich on a terminal, plain lines otherwise."""
    if quiet:
        return NullReporter()
    return RichReporter(console) if console.is_terminal else PlainReporter(console)
