"""What a pipeline reports during one task, relayed: to the run's reporter (the run's bar, or a
worker's events), with the task's name before each of a clip's frames, and to the run's
:class:`~vidstyle.jobs.recorder.Recorder`, which keeps a clip's finished frames in the ledger (for
the estimates and ``batch status``) and logs the frame a clip resumes from.
"""

from __future__ import annotations

from vidstyle.jobs.plan import Task
from vidstyle.progress import NullReporter, Reporter


class Relay(NullReporter):
    """The reporter a pipeline is given for one task (see the module's docstring).

    Args:
        outer: the run's reporter.
        task: the task (a group's first).
        inline: the task's own items are the run's (one clip run alone: its frames are the run's
            bar), so its ``begin``, ``end_item`` and ``end`` are passed on too and its items keep
            their names.
        recorder: told a clip's finished frames as they end (``progress``), and the frames it
            resumes from (``resumed``, as its first frame to run starts); None: not told.
    """

    def __init__(self, outer: Reporter, task: Task, inline: bool = False, recorder=None):
        self.outer, self.task, self.inline, self.recorder = outer, task, inline, recorder
        self.frames: int | None = None
        self.finished, self.running = 0, False  # a clip's frames ended; whether one ran yet

    @property
    def wants_steps(self) -> bool:
        """Whether the run's reporter shows steps (the loss is read back only for it)."""
        return getattr(self.outer, "wants_steps", True)

    def begin(self, total: int | None, unit: str) -> None:
        self.frames = total
        if self.inline:
            self.outer.begin(total, unit)

    def start_item(self, name: str, steps: int) -> None:
        if self.task.kind == "video":
            if not self.running and self.finished and self.recorder is not None:
                self.recorder.resumed(self.task, self.finished, self.frames)
            self.running = True
            if not self.inline:
                of = f"/{self.frames}" if self.frames else ""
                name = f"{self.task.label} {name}{of}"
        self.outer.start_item(name, steps)

    def step(self, done: int, loss: float) -> None:
        self.outer.step(done, loss)

    def level(self, index: int, works: list) -> None:
        self.outer.level(index, works)

    def train(self, status) -> None:
        self.outer.train(status)

    def end_item(self, name: str, status: str, seconds: float) -> None:
        if self.task.kind == "video" and status in ("done", "skipped"):
            self.finished += 1
            if self.recorder is not None and status == "done":
                self.recorder.progress(self.task, self.finished, self.frames)
        if self.inline:
            self.outer.end_item(name, status, seconds)

    def end(self) -> None:
        if self.inline:
            self.outer.end()
