"""A gate across processes for the shared-ledger tests: the test holds its runner processes at a
point until every one of them has arrived there, then lets them all go at once. No sleep and no
poll decide when they go: each process connects to the test's Unix socket, says its pid and blocks
reading until the test answers; the test blocks accepting until all have come. (It wakes once a
second only to fail at once when a runner has died, and gives up after its timeout, long enough
for a very busy machine: a live runner is never failed for being slow.)"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path


class Gate:
    """The test's side: a socket that ``count`` processes come to (see :func:`wait_at`).

    Args:
        count: the processes to wait for each time the gate opens.
        timeout: seconds to wait for each arrival before the test fails.
    """

    def __init__(self, count: int, timeout: float = 900.0):
        self.count, self.timeout = count, timeout
        self.folder = Path(tempfile.mkdtemp(prefix="gate-"))  # short: a socket path is <108 bytes
        self.path = str(self.folder / "s")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(count)

    def open(self, gone: Callable[[], bool] = lambda: False) -> list[int]:
        """Wait until all ``count`` processes are at the gate, then let them all go.

        Args:
            gone: whether a process that should come has exited (checked each second while
                waiting, so that a runner that died fails the test at once, not at the timeout).

        Returns:
            Their pids, in the order they came.

        Raises:
            TimeoutError: one did not come within the timeout, or ``gone()`` said it never will.
        """
        held = []
        try:
            for _ in range(self.count):
                conn = self._accept(gone)
                conn.settimeout(self.timeout)
                held.append((conn, int(conn.makefile().readline())))
            for conn, _ in held:
                conn.sendall(b"go\n")
        finally:
            for conn, _ in held:
                conn.close()
        return [pid for _, pid in held]

    def _accept(self, gone: Callable[[], bool]) -> socket.socket:
        self.server.settimeout(1.0)
        for _ in range(int(self.timeout)):
            try:
                return self.server.accept()[0]
            except TimeoutError:
                if gone():
                    raise TimeoutError("a runner exited before it came to the gate") from None
        raise TimeoutError(f"a runner did not come to the gate within {self.timeout:.0f} s")

    def close(self) -> None:
        self.server.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def wait_at(path: str) -> None:
    """The held process's side: arrive at the gate at ``path`` and block until it opens."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        conn.sendall(f"{os.getpid()}\n".encode())
        if conn.makefile().readline() != "go\n":
            raise RuntimeError("the gate closed without opening")


def run_held(scripts: list[str], gate: Gate, opens: int, timeout: float = 900.0) -> list[list[int]]:
    """Run each script in its own Python process, open ``gate`` ``opens`` times as they arrive,
    and wait for them all to exit 0.

    Returns:
        The pids that came, per opening of the gate.

    Raises:
        AssertionError: a process exited with another code, or did not come to the gate; the
            message holds every process's exit code and the end of its stderr.
    """
    import subprocess
    import sys

    logs = [tempfile.TemporaryFile("w+") for _ in scripts]
    procs = [subprocess.Popen([sys.executable, "-c", script], stderr=log)
             for script, log in zip(scripts, logs, strict=True)]  # fmt: skip
    arrivals, codes, missed = [], [], None

    def gone() -> bool:
        return any(proc.poll() is not None for proc in procs)

    try:
        try:
            arrivals = [gate.open(gone) for _ in range(opens)]
            codes = [proc.wait(timeout=timeout) for proc in procs]
        except (TimeoutError, subprocess.TimeoutExpired) as error:
            missed = error
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        codes = codes or [proc.returncode for proc in procs]
        stderr = []
        for log in logs:
            log.seek(0)
            stderr.append(log.read()[-6000:])
            log.close()
    if missed is not None or codes != [0] * len(procs):
        told = "\n".join(f"--- runner {i}: exit {code}\n{err}"
                         for i, (code, err) in enumerate(zip(codes, stderr)))  # fmt: skip
        raise AssertionError(f"exit codes {codes} (gate: {missed or 'opened'})\n{told}")
    return arrivals
