"""``vidstyle video --render network`` in a subprocess killed with SIGKILL during training and
again during rendering, then the same command: it resumes each time, the keyframes are made
once, training goes on from its checkpoint (no step lost but the one under way), the frames
rendered are not rendered again. The tiny engine and a tiny painter; the training step and the
rendering held on files the test releases (:mod:`held`), so nothing depends on the machine's
speed."""

import json
import signal
import subprocess
import sys

import numpy as np
from clipmaker import make_pan_clip
from held import ROOT, TESTS, Gate
from PIL import Image

FRAMES = 9  # three batches of at most four frames


def _run(args, stylize: Gate, train: Gate, render: Gate):
    """The command in a subprocess: tiny engines (their calls counted on ``stylize``), a tiny
    painter whose training steps and renderings wait on ``train`` and ``render``; a checkpoint
    after every step; converged after 6 steps."""
    code = f"""
import sys
sys.path[:0] = {[str(ROOT), str(TESTS)]!r}
import held
held._install({str(stylize.folder)!r}, True)
from vidstyle.engine import painter, training
from vidstyle.pipeline import teaching
painter.ARCHITECTURE = painter.Architecture(width=4, blocks=1)
teaching.CHECKPOINT_SECONDS, teaching.WINDOW, teaching.CONVERGED = 0.0, 3, 1e9
for owner, name, folder in ((training.Trainer, "step", {str(train.folder)!r}),
                            (painter.Painter, "render", {str(render.folder)!r})):
    def gated(*args, _call=getattr(owner, name), _gate=held._Opened(folder), **kwargs):
        _gate.take()
        return _call(*args, **kwargs)
    setattr(owner, name, gated)
import runpy
sys.argv = ["vidstyle", *{[str(a) for a in args]!r}]
runpy.run_module("vidstyle", run_name="__main__")
"""
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _kill(process):
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def test_killed_in_training_and_in_rendering_it_resumes_redoing_nothing(tmp_path):
    clip, out = tmp_path / "clip.mp4", tmp_path / "styled.mp4"
    make_pan_clip(clip, size=(48, 32), frames=FRAMES, shift=(2, 1))
    (tmp_path / "unused.bin").write_bytes(b"")  # the tiny engine loads no weights
    style = tmp_path / "style.png"
    Image.new("RGB", (16, 16), (30, 90, 200)).save(style)
    args = ["video", clip, "-s", style, "-o", out, "--render", "network", "--keyframes", "2",
            "--steps-first", "5", "--train-minutes", "10", "--weights", tmp_path / "unused.bin",
            "--quiet"]  # fmt: skip
    stylize, train, render = (Gate(tmp_path / name) for name in ("stylize", "train", "render"))
    stylize.allow(10**6)
    work = tmp_path / "styled.mp4.vidstyle-work"

    # 1: killed while the fifth training step waits (four were taken and checkpointed)
    train.allow(4)
    process = _run(args, stylize, train, render)
    train.wait_for_tickets(5, process)
    _kill(process)
    assert stylize.tickets() == 2  # the two keyframes
    with np.load(work / "train" / "checkpoint.npz") as saved:
        assert int(saved["steps"]) == 4

    # 2: the same command trains the two steps left (6 in all), then is killed while the
    # second batch of frames waits (the first four frames were saved)
    train.allow(10**6)
    render.allow(1)
    process = _run(args, stylize, train, render)
    render.wait_for_tickets(2, process)
    _kill(process)
    assert stylize.tickets() == 2 and train.tickets() == 5 + 2
    assert len(json.loads((work / "manifest.json").read_text())["frames"]) == 4

    # 3: the same command renders the five frames left, and nothing else
    render.allow(10**6)
    process = _run(args, stylize, train, render)
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    assert stylize.tickets() == 2 and train.tickets() == 7
    assert render.tickets() == 2 + 2  # the held second batch again, and the third
    report = json.loads(out.with_name("styled.mp4.report.json").read_text())
    assert report["summary"]["training_steps"] == 6 and report["summary"]["frames"] == FRAMES
    assert not work.exists() and out.is_file()
