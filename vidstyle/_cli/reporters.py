"""The live progress display of the command line: rich bars on a terminal, the library's plain
lines otherwise (see :mod:`vidstyle.progress` for the protocol the pipelines call)."""

from __future__ import annotations

import time

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

from vidstyle.engine.planner import Work, level_line, plan_line
from vidstyle.progress import NullReporter, PlainReporter, Reporter, TrainStatus, duration


class _Eta(ProgressColumn):
    """The run's own estimate when it gives one (``eta`` field), else rich's from the rate."""

    def __init__(self):
        super().__init__()
        self.rich = TimeRemainingColumn()

    def render(self, task) -> Text:
        eta = task.fields.get("eta")
        return Text(duration(eta), style="progress.remaining") if eta is not None else (
            self.rich.render(task))  # fmt: skip


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
        self.training: dict[str | None, object] = {}  # lane -> its training's bar
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

    def train(self, status: TrainStatus, lane: str | None = None) -> None:
        """The training's bar (the item's, started at its first step): the seconds of its time
        box, the step, loss and patches per second, and the time left."""
        task = self.item_task if lane is None else self.lanes.get(lane)
        if task is None or self.training.get(lane) != task:
            self.start_item("training", 1, lane)
            task = self.item_task if lane is None else self.lanes[lane]
            self.training[lane] = task
        info = f"step {status.steps} · loss {status.loss:.4g} · {status.rate:.0f} patches/s"
        self.progress.update(task, total=max(status.budget, 1.0), completed=status.seconds,
                             info=info, eta=status.left)  # fmt: skip

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


def reporter_for(console: Console, quiet: bool) -> Reporter:
    """The reporter that fits: none when quiet, rich on a terminal, plain lines otherwise."""
    if quiet:
        return NullReporter()
    return RichReporter(console) if console.is_terminal else PlainReporter(console)
