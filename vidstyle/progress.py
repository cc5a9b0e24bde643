"""Progress reporting: a small protocol the pipelines call, plain log lines (a batch run's log,
and the command's output when it is not a terminal), and a null sink for ``--quiet`` and library
use. The rich display lives with the command line (``vidstyle._cli.reporters``).

An image run coarse to fine, or in tiles, is also told level by level (``level``): the item's
line shows ``level 3/5 1024x768, 9 tiles``, and the plan of its levels is shown once, before its
first level. A run of one untiled level (the usual small image) shows none of this.

A clip rendered by a network (``render = "network"``) also trains it: ``train`` is told, after
each step, the loss, the patches per second and the time left in the training's time box.

Several workers (a batch over a Ray cluster) report their items side by side: ``start_item``
and ``step`` take an optional ``lane`` (the worker's name); the rich display keeps one item line
per lane and plain lines are prefixed by it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console

from vidstyle.engine.planner import Work, level_line, plan_line


@dataclass(frozen=True)
class TrainStatus:
    """Where the training of a clip's network stands, after a step.

    Attributes:
        steps: steps done (those of earlier runs of the same command too).
        seconds: seconds trained (likewise).
        budget: the time box, in seconds.
        loss: the step's total loss.
        rate: patches per second over this run's steps.
    """

    steps: int
    seconds: float
    budget: float
    loss: float
    rate: float

    @property
    def left(self) -> float:
        """Seconds left in the time box (training may stop earlier, once converged)."""
        return max(0.0, self.budget - self.seconds)

    def line(self) -> str:
        """``step 120 · loss 0.4321 · 95 patches/s · 4m10s left``."""
        return (f"step {self.steps} · loss {self.loss:.4g} · {self.rate:.0f} patches/s · "
                f"{duration(self.left)} left")  # fmt: skip


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

    def train(self, status: TrainStatus, lane: str | None = None) -> None:
        """A training step of a clip's network is done (see :class:`TrainStatus`)."""

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

    def train(self, status: TrainStatus, lane: str | None = None) -> None:
        pass

    def end(self) -> None:
        pass

    def remaining(self, seconds: float) -> None:
        pass


def duration(seconds: float) -> str:
    """``1h02m``, ``3m05s`` or ``12s``."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class PlainReporter:
    """Plain lines for logs: one when an item starts, every ``every`` steps, and when it ends;
    an item of a lane (worker) has its lines prefixed by the lane."""

    def __init__(self, console: Console, every: int = 100, train_every: float = 30.0):
        self.console = console
        self.every = every
        self.train_every = train_every  # seconds between lines of a training
        self.trained: dict[str | None, float] = {}  # lane -> seconds trained at its last line
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

    def train(self, status: TrainStatus, lane: str | None = None) -> None:
        """A line at the first step, then every ``train_every`` seconds of training."""
        last = self.trained.get(lane)
        if last is not None and status.seconds - last < self.train_every:
            return
        self.trained[lane] = status.seconds
        where = f"{lane}: " if lane else ""
        self.console.print(f"  {where}training {status.line()}", highlight=False, markup=False)

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

    def train(self, status: TrainStatus, lane: str | None = None) -> None:
        for r in self.reporters:
            r.train(status, **({"lane": lane} if lane else {}))

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
