"""``run.log`` in a run folder: every line of a run (each task's start and end, every fault, every
change by hand) with its time and the pid of the runner that wrote it, appended across runs.
Several runners sharing the run folder write it a whole line at a time, so their lines never mix.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rich.console import Console


class RunLog:
    """``run.log``: every line with its time and the pid of the runner that wrote it, appended
    across runs (``2026-01-31 23:59:59 [4242] start ...``).

    Args:
        path: the log file (created with its folder when missing).
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = _Lines(path)
        self.console = Console(file=self.file, width=200, no_color=True, highlight=False,
                               soft_wrap=True)  # fmt: skip

    def __call__(self, line: str) -> None:
        self.console.print(line, markup=False)

    def close(self) -> None:
        self.file.close()


class _Lines:
    """A text file opened for appending that starts every line with the time and this process's
    pid, and writes each line whole in one ``write``: the lines of runners sharing the file never
    mix."""

    def __init__(self, path: Path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        self.partial = ""

    def write(self, text: str) -> int:
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            self._put(line)
        return len(text)

    def _put(self, line: str) -> None:
        data = f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{os.getpid()}] {line}\n".encode()
        while data:
            data = data[os.write(self.fd, data) :]

    def flush(self) -> None:
        """Lines are written as they end: nothing is held but an unfinished one."""

    def close(self) -> None:
        if self.partial:
            self._put(self.partial)
            self.partial = ""
        os.close(self.fd)
