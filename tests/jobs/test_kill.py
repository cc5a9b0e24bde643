"""The real ``vidstyle batch run`` in a subprocess (with the tiny engine, and each engine call
held on a file the test releases): killed with SIGKILL mid-task and rerun, or stopped by SIGTERM
or a second Ctrl-C, it ends with every task done once and the same outputs as a run that was
never interrupted."""

import json
import shutil
import signal

import numpy as np
import pytest
from held import Gate, vidstyle
from nightmaker import EXPECTED_OUTPUTS, make_night
from PIL import Image
from typer.testing import CliRunner

from vidstyle._cli import app
from vidstyle.jobs.ledger import Ledger

CLIP = "styled/beach/starry/beach.mp4"


def _batch(night, *args, gate=None, wait=True):
    (night.parent / "unused.bin").write_bytes(b"")  # the tiny engine loads no weights
    command = ["batch", "run", str(night), "--quiet", "--weights", "unused.bin", *args]
    process = vidstyle(command, gate, cwd=night.parent)
    if wait:
        process.wait(timeout=600)
    return process


def _rows(night):
    path = night.with_name("night.vidstyle-run") / "ledger.sqlite"
    if not path.is_file():
        return []
    ledger = Ledger(path)
    try:
        return ledger.rows()
    finally:
        ledger.close()


def _wait_for(night, process, predicate, timeout=300):
    """Wait until the ledger's rows meet ``predicate`` (a state the held calls keep still)."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end and process.poll() is None:
        rows = _rows(night)
        if rows and predicate(rows):
            return
        time.sleep(0.05)
    raise AssertionError(f"not reached (exit {process.poll()}): {[r.status for r in _rows(night)]}")


def _statuses(rows):
    return sorted(r.status for r in rows)


def _pixels(path):
    if path.suffix == ".mp4":
        from vidstyle.media.video import read_frames

        return np.stack([f.rgb for f in read_frames(path, None, None, None)]).astype(int)
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """One set of input files for both runs: x264 may encode the same clip differently twice
    (here, in a process with TensorFlow), so each run must not make its own."""
    root = tmp_path_factory.mktemp("inputs")
    make_night(root, steps=20, steps_next=10, frames=6, max_size=48)
    return root


def _copy(inputs, root):
    shutil.copytree(inputs, root, dirs_exist_ok=True)
    return root / "night.toml"


@pytest.fixture(scope="module")
def reference(tmp_path_factory, inputs):
    """The same night run once without interruption (in this process: the same tiny engine as
    the subprocess's, without a Python and TensorFlow of its own to start)."""
    from conftest import shared_tiny_engine

    from vidstyle import batch

    root = tmp_path_factory.mktemp("whole")
    result = batch.run(_copy(inputs, root), engine_factory=shared_tiny_engine)
    assert (result.done, result.failed) == (9, 0)
    return root


def test_kill_9_mid_run_loses_at_most_the_task_under_way(tmp_path, reference, inputs):
    night = _copy(inputs, tmp_path)
    gate = Gate(tmp_path / "gate", allow=3)  # three images, then the fourth is held
    first = _batch(night, gate=gate, wait=False)
    gate.wait_for_tickets(4, first)
    # three done and the next one running (not between two tasks): held there, it stays so
    _wait_for(night, first, lambda rows: _statuses(rows).count("done") == 3
              and "running" in _statuses(rows))  # fmt: skip
    first.kill()  # SIGKILL
    first.wait()
    before = {r.key: r for r in _rows(night)}
    killed = [r for r in before.values() if r.status == "running"]
    assert len(killed) == 1  # the task under way, left running by the dead process
    assert sum(r.status == "done" for r in before.values()) == 3
    second = _batch(night)
    assert second.returncode == 0, second.stderr.read()
    after = {r.key: r for r in _rows(night)}
    assert all(r.status == "done" for r in after.values())
    assert after[killed[0].key].attempts == 2  # the killed attempt counts
    for key, row in before.items():  # finished tasks were not redone
        if row.status == "done":
            assert after[key].finished == row.finished and after[key].attempts == 1
    assert "stopped without finishing" in (tmp_path / "night.vidstyle-run" / "run.log").read_text()
    for name in EXPECTED_OUTPUTS:
        if name.endswith(".mp4"):  # x264 may encode the same frames differently in another
            continue  # process, so the clip's frames are compared through their report below
        difference = np.abs(_pixels(tmp_path / name) - _pixels(reference / name)).max()
        assert difference <= 1, name
    clip = [json.loads((root / f"{CLIP}.report.json").read_text())["frames"]
            for root in (tmp_path, reference)]  # fmt: skip
    for key in ("style_loss", "crispness"):  # measured on the frames before they are encoded
        assert [f[key] for f in clip[0]] == pytest.approx([f[key] for f in clip[1]], rel=1e-3)
    assert len(_pixels(tmp_path / CLIP)) == 6


def _held_night(tmp_path, gate):
    """A night of images whose first engine call is held: its task is running, in its call."""
    night = make_night(tmp_path, steps=400, steps_next=10, frames=6)
    shutil.rmtree(tmp_path / "clips")
    night.write_text(night.read_text().split('[[job]]\nname = "beach"')[0])
    run = _batch(night, gate=gate, wait=False)
    gate.wait_for_tickets(1, run)
    _wait_for(night, run, lambda rows: "running" in _statuses(rows))
    return night, run


def test_sigterm_stops_at_a_chunk_and_the_task_is_pending_again(tmp_path):
    gate = Gate(tmp_path / "gate")
    night, run = _held_night(tmp_path, gate)
    (running,) = [r for r in _rows(night) if r.status == "running"]
    cancel = CliRunner().invoke(app, ["batch", "cancel", str(night), running.key[:8]])
    assert cancel.exit_code == 0, cancel.output  # a running task is left as it is
    assert [r.status for r in _rows(night) if r.key == running.key] == ["running"]
    run.send_signal(signal.SIGTERM)
    gate.allow(1000)  # the call goes on to its first chunk of steps, which reads the flag
    assert run.wait(timeout=120) == 143
    rows = _rows(night)
    assert not any(r.status == "running" for r in rows)
    stopped = [r for r in rows if r.seconds > 0 and r.status == "pending"]
    assert len(stopped) == 1 and stopped[0].attempts == 0
    assert gate.tickets() == 1  # no other task started
    assert "is pending again" in run.stderr.read()


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    """The first Ctrl-C waits for the next chunk; the second does not wait: the held call is
    never let through, so only an immediate stop ends the process."""
    gate = Gate(tmp_path / "gate")
    night, run = _held_night(tmp_path, gate)
    run.send_signal(signal.SIGINT)
    # the first one handled (seen, not waited for), and it let the run wait for a chunk
    assert gate.wait_for_signals(1, run) == ["returned"]
    assert run.poll() is None
    run.send_signal(signal.SIGINT)
    try:
        code = run.wait(timeout=60)
    finally:
        gate.allow(1000)
    assert code == 130, run.stderr.read()
    assert gate.signals() == ["returned", "raised"]  # the second one interrupted
    assert gate.tickets() == 1 and not (tmp_path / "styled").exists()
