"""A small night of work for the batch tests: photos, two styles, a short clip, a job file."""

from __future__ import annotations

from pathlib import Path

import pytest
from clipmaker import pan_frames, write_clip
from conftest import textured
from PIL import Image

from vidstyle.errors import UsageError
from vidstyle.jobs.jobfile import load
from vidstyle.jobs.plan import plan

JOB_FILE = """
[defaults]
max_size = {max_size}
steps = {steps}
output = "styled/{{job}}/{{style}}/{{path}}"

[[job]]
name = "holiday"
input = "photos"
styles = ["styles/starry.jpg", "styles/scream.jpg"]
style_weight = [1e-2, 1e-1]

[[job]]
name = "beach"
input = "clips/beach.mp4"
styles = ["styles/starry.jpg"]
steps_next = {steps_next}
"""


def make_night(
    root: Path, steps: int = 4, steps_next: int = 2, frames: int = 4, max_size: int = 32
) -> Path:
    """Two photos (one with a space in its name), two styles and a clip with sound under
    ``root``; returns the job file (2 images x 2 styles x 2 style weights, plus the clip)."""
    for folder in ("photos", "styles", "clips"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    Image.fromarray(textured(30, 40, seed=1)).save(root / "photos" / "a.jpg")
    Image.fromarray(textured(36, 24, seed=2)).save(root / "photos" / "b b.png")
    Image.fromarray(textured(40, 40, seed=3)).save(root / "styles" / "starry.jpg")
    Image.fromarray(textured(40, 40, seed=4)).save(root / "styles" / "scream.jpg")
    clip = pan_frames((48, 32), frames)
    write_clip(root / "clips" / "beach.mp4", clip, fps=12, audio_codec="aac")
    path = root / "night.toml"
    path.write_text(JOB_FILE.format(steps=steps, steps_next=steps_next, max_size=max_size))
    return path


EXPECTED_OUTPUTS = sorted(
    [f"styled/holiday/{style}/{name}_style_weight-{w}.{ext}"
     for style in ("starry", "scream") for name, ext in (("a", "jpg"), ("b b", "png"))
     for w in ("0.01", "0.1")] + ["styled/beach/starry/beach.mp4"]
)  # fmt: skip


def add_shot_cut(night: Path, frames: int = 3) -> None:
    """Replace the night's clip by one of two shots (``frames`` each) with a cut between them:
    a pan over a texture, then a pan over an unrelated blue one."""
    import numpy as np

    first = pan_frames((48, 32), frames, seed=0)
    second = pan_frames((48, 32), frames, seed=7, colors=[(10, 20, 120), (40, 90, 250)])
    clip = night.parent / "clips" / "beach.mp4"
    write_clip(clip, np.concatenate([first, second]), fps=12, audio_codec="aac")


def ledger_rows(night: Path):
    """The rows of a job file's ledger, read and closed."""
    from vidstyle.jobs.ledger import Ledger

    ledger = Ledger(night.with_name(night.stem + ".vidstyle-run") / "ledger.sqlite")
    try:
        return ledger.rows()
    finally:
        ledger.close()


def plan_error(path: Path, text: str) -> str:
    """The one-line error that planning the job file ``text`` (written to ``path``) gives."""
    path.write_text(text)
    with pytest.raises(UsageError) as caught:
        plan(load(path))
    message = caught.value.message()
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message
