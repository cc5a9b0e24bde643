"""The real ``vidstyle batch run`` in a subprocess, with the real weights: killed with SIGKILL
mid-run and rerun, or stopped by SIGTERM, it ends with every task done once and the same
outputs as a run that was never interrupted."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from nightmaker import EXPECTED_OUTPUTS, make_night
from PIL import Image

from vidstyle.jobs.ledger import Ledger

pytestmark = pytest.mark.real_weights
CLIP = "styled/beach/starry/beach.mp4"


def _batch(night, *args, wait=True):
    command = [sys.executable, "-m", "vidstyle", "batch", "run", str(night), "--quiet", *args]
    process = subprocess.Popen(command, cwd=night.parent, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
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
    end = time.monotonic() + timeout
    while time.monotonic() < end and process.poll() is None:
        rows = _rows(night)
        if rows and predicate(rows):
            return
        time.sleep(0.2)
    raise AssertionError(f"not reached (exit {process.poll()}): {[r.status for r in _rows(night)]}")


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
def reference(tmp_path_factory, real_weights, inputs):
    """The same night run once without interruption."""
    root = tmp_path_factory.mktemp("whole")
    done = _batch(_copy(inputs, root), "--weights", str(real_weights.path))
    assert done.returncode == 0, done.stderr.read()
    return root


def test_kill_9_mid_run_loses_at_most_the_task_under_way(tmp_path, real_weights, reference, inputs):
    night = _copy(inputs, tmp_path)
    weights = ["--weights", str(real_weights.path)]
    first = _batch(night, *weights, wait=False)

    def under_way(rows):  # three done and the next one running (not between two tasks)
        return sum(r.status == "done" for r in rows) >= 3 and any(
            r.status == "running" for r in rows
        )

    _wait_for(night, first, under_way)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    before = {r.key: r for r in _rows(night)}
    killed = [r for r in before.values() if r.status == "running"]
    assert len(killed) == 1  # the task under way, left running by the dead process
    second = _batch(night, *weights)
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


def test_sigterm_stops_at_a_chunk_and_the_task_is_pending_again(tmp_path, real_weights):
    night = make_night(tmp_path, steps=400, steps_next=10, frames=6)
    shutil.rmtree(tmp_path / "clips")
    night.write_text(night.read_text().split('[[job]]\nname = "beach"')[0])
    run = _batch(night, "--weights", str(real_weights.path), wait=False)
    _wait_for(night, run, lambda rows: any(r.status == "running" for r in rows))
    time.sleep(3)  # into the task's steps
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=120) == 143
    rows = _rows(night)
    assert not any(r.status == "running" for r in rows)
    stopped = [r for r in rows if r.seconds > 0 and r.status == "pending"]
    assert len(stopped) == 1 and stopped[0].attempts == 0
    assert "is pending again" in run.stderr.read()
