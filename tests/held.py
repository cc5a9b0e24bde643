"""Engine calls held on a file the test writes, and vidstyle commands run in a subprocess with the
tiny engine: for the kill, stop and resume tests, without sleeps.

Each call of ``Engine.stylize`` (one image, or one frame of a clip) first takes a numbered ticket
(a file ``ticket-N`` in the gate's folder, created exclusively), then waits until the number in
the gate's ``allow`` file is above N. The test waits for a ticket (a call under way, held) before
it kills or signals, and writes ``allow`` to let calls through: which call is under way when the
process is killed no longer depends on the machine's speed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


class Gate:
    """The folder of a gate: ``allow`` (how many calls may run) and the tickets taken."""

    def __init__(self, folder: str | Path, allow: int = 0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.allow(allow)

    def allow(self, calls: int) -> None:
        """Let the first ``calls`` engine calls run (the others wait)."""
        part = self.folder / "allow.part"
        part.write_text(str(calls))
        os.replace(part, self.folder / "allow")

    def tickets(self) -> int:
        """How many engine calls have started (run, or held)."""
        return sum(1 for _ in self.folder.glob("ticket-*"))

    def wait_for_tickets(self, count: int, process=None, timeout: float = 300) -> None:
        """Wait until ``count`` calls have started (a progress marker, not a guess of time).

        Raises:
            AssertionError: when ``process`` ended first, or after ``timeout`` seconds.
        """
        end = time.monotonic() + timeout
        while self.tickets() < count:
            assert process is None or process.poll() is None, f"exited {process.poll()}"
            assert time.monotonic() < end, f"{self.tickets()} of {count} calls started"
            time.sleep(0.05)

    def signals(self) -> list[str]:
        """How the program's signal handlers ended, in order (``returned`` or ``raised``)."""
        notes = sorted(self.folder.glob("signal-*"), key=lambda p: int(p.name.split("-")[1]))
        return [how for how in (p.read_text() for p in notes) if how]

    def wait_for_signals(self, count: int, process=None, timeout: float = 60) -> list[str]:
        """Wait until the program's handlers have run for ``count`` signals (an event, not a
        guess of time); returns :meth:`signals`.

        Raises:
            AssertionError: when ``process`` ended first, or after ``timeout`` seconds.
        """
        end = time.monotonic() + timeout
        while len(self.signals()) < count:
            assert process is None or process.poll() is None, f"exited {process.poll()}"
            assert time.monotonic() < end, f"{len(self.signals())} of {count} signals handled"
            time.sleep(0.02)
        return self.signals()

    def take(self) -> int:
        """In the process under test: take the next ticket and wait until it is let through."""
        number = 0
        while True:
            try:
                os.close(os.open(self.folder / f"ticket-{number}", os.O_CREAT | os.O_EXCL))
                break
            except FileExistsError:
                number += 1
        while number >= int((self.folder / "allow").read_text() or 0):
            time.sleep(0.02)
        return number


class _Opened(Gate):
    """A gate opened in the process under test (its ``allow`` file is the test's)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)


def hold(engine, folder: str | Path):
    """``engine`` with each ``stylize`` call held on the gate in ``folder``."""
    gate, stylize = _Opened(folder), engine.stylize

    def held(*args, **kwargs):
        gate.take()
        return stylize(*args, **kwargs)

    engine.stylize = held
    return engine


def _held_tiny(folder: str, method):
    from tinyvgg import tiny_engine

    return hold(tiny_engine(method), folder)


def held_tiny_factory(folder: str | Path):
    """A picklable engine factory (for Ray workers too): tiny engines held on ``folder``."""
    return partial(_held_tiny, str(folder))


def _install(folder: str, tiny: bool, steps: int | None = None) -> None:
    """In the process under test: engines are tiny (``tiny``) and every engine's ``stylize`` is
    held on the gate in ``folder`` (when given) and runs at most ``steps`` steps (when given).
    The engine module is patched when the program imports it, so TensorFlow starts when and as
    the program starts it (after its log set-up)."""

    def patch(optimize):
        if tiny:
            from tinyvgg import tiny_engine

            optimize.build_engine = lambda method, source, gpu=0: tiny_engine(method)
        if steps is not None:
            optimize_one = optimize.Engine._optimize

            def capped(self, request):
                wanted = request.steps or self.method.steps
                return optimize_one(self, request.replace(steps=min(wanted, steps)))

            optimize.Engine._optimize = capped
        if folder:
            gate, stylize = _Opened(folder), optimize.Engine.stylize

            def held(self, *args, **kwargs):
                gate.take()
                return stylize(self, *args, **kwargs)

            optimize.Engine.stylize = held

    sys.meta_path.insert(0, _AfterImport("vidstyle.engine.optimize", patch))
    if folder:
        _note_signals(Path(folder))


def _note_signals(folder: Path) -> None:
    """In the process under test: every Python signal handler the program installs writes a file
    ``signal-N`` in ``folder`` once it has run (``returned``, or ``raised`` when it raised)."""
    import signal

    install = signal.signal

    def note(how: str) -> None:
        number = 0
        while True:
            try:
                fd = os.open(folder / f"signal-{number}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                break
            except FileExistsError:
                number += 1
        os.write(fd, how.encode())  # one small write: the reader skips the file while empty
        os.close(fd)

    def noted(signum, handler):
        if not callable(handler) or getattr(handler, "noted", False):
            return install(signum, handler)

        def run(number, frame):
            try:
                handler(number, frame)
            except BaseException:
                note("raised")
                raise
            note("returned")

        run.noted = True
        return install(signum, run)

    signal.signal = noted


class _AfterImport:
    """A meta path finder that runs ``action(module)`` once the module ``name`` is imported."""

    def __init__(self, name: str, action):
        self.name, self.action = name, action

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        import importlib.util

        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        run, action = spec.loader.exec_module, self.action

        def exec_module(module):
            run(module)
            action(module)

        spec.loader.exec_module = exec_module
        return spec


def vidstyle(args: list[str], gate: Gate | None = None, tiny: bool = True,
             steps: int | None = None, **popen):  # fmt: skip
    """``python -m vidstyle ARGS`` in a subprocess (stdout and stderr piped, as text), its engine
    the tiny one (``tiny``), held on ``gate`` and capped at ``steps`` steps per optimization
    (when given: for tests of a command's outputs, not of its optimization)."""
    code = ("import sys; sys.path[:0] = {paths!r}; import held; "
            "held._install({folder!r}, {tiny!r}, {steps!r}); import runpy; "
            "sys.argv = ['vidstyle', *{args!r}]; runpy.run_module('vidstyle', run_name='__main__')"
            ).format(paths=[str(ROOT), str(TESTS)], folder=str(gate.folder) if gate else "",
                     tiny=tiny, steps=steps, args=[str(a) for a in args])  # fmt: skip
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
    return subprocess.Popen([sys.executable, "-c", code], **popen)
