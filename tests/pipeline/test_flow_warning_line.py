"""`vidstyle video` says on stderr, in one line, when a clip's flow looked unreliable for a run of
frames (issue 24: the report's ``flow_warning``), and says nothing of the kind for a steady pan."""

import json

import numpy as np
from clipmaker import pan_frames, write_clip
from typer.testing import CliRunner

from vidstyle._cli import app

STYLE = __import__("pathlib").Path(__file__).resolve().parents[2] / "samples" / "swirls.jpg"


def _video(source, out):
    args = ["video", str(source), "-s", str(STYLE), "-o", str(out), "--quiet",
            "--max-size", "64", "--steps-first", "2", "--steps-next", "1"]  # fmt: skip
    return CliRunner().invoke(app, args)


def test_a_run_of_unreliable_frames_gives_a_warning_line_on_stderr(tmp_path, tiny_cli):
    noise = np.random.default_rng(0).integers(0, 256, (5, 48, 64, 3)).astype(np.uint8)
    source = tmp_path / "noise.mkv"
    write_clip(source, noise, fps=12, codec="ffv1")  # lossless: every frame unrelated
    result = _video(source, tmp_path / "noise.mp4")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "optical flow" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "frames 1-4" in lines[0]
    assert "optical flow" not in result.stdout
    (path,) = tmp_path.glob("*report.json")
    report = json.loads(path.read_text())
    assert report["summary"]["flow_warning"] in lines[0]


def test_a_steady_pan_gives_no_warning(tmp_path, tiny_cli):
    source = tmp_path / "pan.mp4"
    write_clip(source, pan_frames((64, 48), 5), fps=12)
    result = _video(source, tmp_path / "out.mp4")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr and "optical flow" not in result.output
