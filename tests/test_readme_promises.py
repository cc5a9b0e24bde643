"""What the README promises, through the command line with the tiny random-weight engine: the demo,
the batch deadlines, a clip killed with SIGKILL resuming frame by frame, the start image and its
seed, the video options (--keep-size, --warm-start prev, --preserve-colors histogram),
--style-scale and VIDSTYLE_DEBUG=1. Each test names the breakage it catches."""

import datetime as dt
import os

import av
import numpy as np
import pytest
from conftest import textured
from held import Gate, vidstyle
from PIL import Image
from typer.testing import CliRunner

from vidstyle import batch
from vidstyle._cli import app
from vidstyle.errors import UsageError

runner = CliRunner()


@pytest.fixture
def tiny(tiny_cli):
    """Every engine built is the tiny one (conftest's ``tiny_cli``); no extra arguments."""
    return []


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), int)


def _gap(a, b) -> int:
    return int(np.abs(np.asarray(a, int) - np.asarray(b, int)).max())


def _frames(folder, count, size=(32, 24), seed=0):
    """``count`` unrelated textured frames (width, height) as PNGs in ``folder``."""
    folder.mkdir()
    for index in range(count):
        picture = textured(size[1], size[0], seed=seed + index)
        Image.fromarray(picture).save(folder / f"f{index}.png")
    return folder


# --- vidstyle demo ------------------------------------------------------------------------------


def test_demo_writes_every_output_with_exit_0_and_nothing_on_stderr(tmp_path):
    """Catches: a demo output missing (a photo, the clip, its sound, its frames), a non-zero exit,
    or a line on stderr (a warning, TensorFlow's logs) on the README's first command."""
    cache = tmp_path / "cache"
    cache.mkdir()
    from vidstyle.weights import BIN_FILE

    (cache / BIN_FILE).write_bytes(b"")  # found, never loaded: the engine is the tiny one
    env = {**os.environ, "VIDSTYLE_CACHE": str(cache)}
    env.pop("VIDSTYLE_DEBUG", None)
    # at most 3 steps per picture (the demo's 100 and 20 are its timing, not its outputs)
    run = vidstyle(["demo"], cwd=tmp_path, env=env, steps=3)
    out, err = run.communicate(timeout=600)
    assert (run.returncode, err) == (0, ""), out
    demo = tmp_path / "vidstyle-demo"
    from vidstyle.controller import DEMO_METHOD, find_samples
    from vidstyle.media.images import fitted_size

    for name in ("astronaut", "coffee", "rocket"):  # each photo, shrunk to the demo's size
        photo = Image.open(find_samples() / "photos" / f"{name}.jpg")
        made = Image.open(demo / f"{name}.png")
        assert made.mode == "RGB" and made.size == fitted_size(*photo.size, DEMO_METHOD.max_size)
    with av.open(str(demo / "pan.mp4")) as clip:
        assert clip.streams.audio
        assert sum(1 for _ in clip.decode(video=0)) == 12


# --- batch deadlines ----------------------------------------------------------------------------


def test_until_is_the_next_such_local_time():
    """Catches: today's time when it has passed (a run that stops at once), the minutes
    ignored, or a deadline at the same minute as now."""
    evening = dt.datetime(2026, 3, 10, 22, 0).timestamp()
    assert batch.deadline_from("07:30", None, now=evening) == dt.datetime(2026, 3, 11, 7, 30
                                                                          ).timestamp()  # fmt: skip
    assert batch.deadline_from("23:15", None, now=evening) == dt.datetime(2026, 3, 10, 23, 15
                                                                          ).timestamp()  # fmt: skip
    assert batch.deadline_from("22:00", None, now=evening) == evening + 24 * 3600
    assert batch.deadline_from(None, None, now=evening) is None
    for text in ("7", "24:00", "07:60", "7h"):
        with pytest.raises(UsageError, match="cannot read until"):
            batch.deadline_from(text, None, now=evening)


def test_for_reads_hours_minutes_and_seconds():
    """Catches: ``1h30m`` read as one hour (or 30 minutes), or an unreadable text accepted."""
    now = 1_000_000.0
    for text, seconds in (("1h30m", 5400), ("8h", 28800), ("90m", 5400), ("45s", 45),
                          ("1h0m5s", 3605)):  # fmt: skip
        assert batch.deadline_from(None, text, now=now) == now + seconds, text
    for text in ("1d", "h", "30 m", "1.5h"):
        with pytest.raises(UsageError, match="cannot read for"):
            batch.deadline_from(None, text, now=now)
    with pytest.raises(UsageError, match="not both"):
        batch.deadline_from("07:30", "8h", now=now)


def test_an_unreadable_deadline_is_a_usage_error_on_the_command_line(tmp_path):
    """Catches: the CLI not passing ``--for`` / ``--until`` to the parser (a night that runs
    with no deadline)."""
    night = tmp_path / "night.toml"
    night.write_text('[[job]]\nname = "x"\ninput = "a.png"\nstyles = ["b.png"]\n')
    for option in (["--for", "1x"], ["--until", "25:00"]):
        result = runner.invoke(app, ["batch", "run", str(night), "--quiet", *option])
        assert result.exit_code == 2, result.output
        assert f"cannot read {option[0]} {option[1]!r}" in result.output


# --- a clip killed with SIGKILL ------------------------------------------------------------------


def test_kill_9_during_a_clip_resumes_frame_by_frame(tmp_path):
    """A real SIGKILL (no clean-up code runs) after three frames, the fourth under way. Catches:
    a rerun that starts the clip over (it stylizes 6 frames, not 3), finished frames not the
    ones in the output, or a frame lost."""
    frames = _frames(tmp_path / "frames", 6)
    Image.fromarray(textured(24, 24, seed=9)).save(tmp_path / "paint.png")
    (tmp_path / "unused.bin").write_bytes(b"")
    args = ["video", "frames", "-s", "paint.png", "-o", "out", "--steps", "3",
            "--steps-next", "2", "--weights", "unused.bin", "--quiet"]  # fmt: skip
    gate = Gate(tmp_path / "gate", allow=3)
    first = vidstyle(args, gate, cwd=tmp_path)
    try:
        gate.wait_for_tickets(4, first)  # frames 1-3 done and saved; frame 4 held
        first.kill()
        first.wait()
    finally:
        gate.allow(1000)
    work = tmp_path / "out.vidstyle-work" / "frames"
    kept = [_pixels(p) for p in sorted(work.glob("*.png"))]
    assert len(kept) == 3 and not (tmp_path / "out").exists()
    again = Gate(tmp_path / "again", allow=1000)
    second = vidstyle(args, again, cwd=tmp_path)
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    assert again.tickets() == 3  # only the frames the kill lost or never reached
    final = [_pixels(p) for p in sorted((tmp_path / "out").glob("*.png"))]
    assert len(final) == len(list(frames.iterdir())) == 6
    assert all(_gap(a, b) == 0 for a, b in zip(kept, final))


# --- the start image and its seed ---------------------------------------------------------------


@pytest.fixture
def photo(tmp_path):
    Image.fromarray(textured(24, 32, seed=1)).save(tmp_path / "photo.png")
    Image.fromarray(textured(32, 32, seed=2)).save(tmp_path / "paint.png")
    return tmp_path / "photo.png"


def _image(photo, tiny, name, *extra):
    out = photo.with_name(name)
    result = runner.invoke(app, ["image", str(photo), "-s", str(photo.with_name("paint.png")),
                                 "-o", str(out), "--quiet", *tiny, *extra])  # fmt: skip
    assert result.exit_code == 0, result.output
    return _pixels(out)


def test_init_noise_file_and_seed(photo, tiny, tmp_path):
    """At a learning rate too small to move a pixel, the result is the start image. Catches:
    ``--init`` ignored (the content comes back), ``--seed`` ignored (seeds 1 and 2 alike), noise
    that is not reproducible, or a start FILE not used."""
    still = ["--lr", "1e-7", "--steps", "2", "--max-size", "32"]
    content = _image(photo, tiny, "content.png", *still)
    assert _gap(content, _pixels(photo)) <= 1
    one = _image(photo, tiny, "one.png", "--init", "noise", "--seed", "1", *still)
    assert np.abs(one - _pixels(photo)).mean() > 40  # noise, not the photo
    assert np.abs(np.diff(one, axis=1)).mean() > 40  # uncorrelated from pixel to pixel
    assert _gap(_image(photo, tiny, "again.png", "--init", "noise", "--seed", "1", *still),
                one) == 0  # fmt: skip
    two = _image(photo, tiny, "two.png", "--init", "noise", "--seed", "2", *still)
    assert np.abs(two - one).mean() > 40
    start = tmp_path / "start.png"
    Image.fromarray(textured(24, 32, seed=5)).save(start)
    from_file = _image(photo, tiny, "file.png", "--init", str(start), *still)
    assert _gap(from_file, _pixels(start)) <= 1


def test_style_scale_changes_the_style_targets(photo, tiny):
    """Catches: ``--style-scale`` ignored (the same result as the default scale of 1)."""
    common = ["--steps", "20", "--max-size", "32", "--lr", "0.05"]
    plain = _image(photo, tiny, "plain.png", *common)
    assert _gap(_image(photo, tiny, "same.png", *common, "--style-scale", "1"), plain) == 0
    assert _gap(_image(photo, tiny, "half.png", *common, "--style-scale", "0.5"), plain) > 2


# --- VIDSTYLE_DEBUG -----------------------------------------------------------------------------


def test_vidstyle_debug_shows_the_traceback(tmp_path):
    """Catches: the traceback hidden with VIDSTYLE_DEBUG=1. (Without it, the same command's
    stderr is its one line and nothing else: test_cli_errors.py's
    ``test_the_real_program_keeps_stderr_for_its_own_lines``, also a real process.)"""
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    Image.fromarray(textured(24, 24, seed=2)).save(tmp_path / "paint.png")
    (tmp_path / "unused.bin").write_bytes(b"")
    args = ["image", "bad.png", "-s", "paint.png", "-o", "out.png", "--weights", "unused.bin",
            "--quiet"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "VIDSTYLE_DEBUG"}
    debug = vidstyle(args, cwd=tmp_path, env={**env, "VIDSTYLE_DEBUG": "1"})
    _, debug_err = debug.communicate(timeout=300)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug_err and "DecodeError" in debug_err


# --- video options ------------------------------------------------------------------------------


def _video(tmp_path, tiny, name, *extra, style="paint.png"):
    out = tmp_path / name
    result = runner.invoke(app, ["video", str(tmp_path / "frames"), "-s", str(tmp_path / style),
                                 "-o", str(out), "--quiet", *tiny, *extra])  # fmt: skip
    assert result.exit_code == 0, result.output
    return [_pixels(p) for p in sorted(out.glob("*.png"))]


@pytest.fixture
def clip(tmp_path):
    """Three frames of a pan (32x24; no shot cut between them), and a style."""
    from clipmaker import pan_frames

    (tmp_path / "frames").mkdir()
    for index, frame in enumerate(pan_frames((32, 24), 3, shift=(6, 4))):
        Image.fromarray(frame).save(tmp_path / "frames" / f"f{index}.png")
    Image.fromarray(textured(32, 32, seed=7)).save(tmp_path / "paint.png")
    return [_pixels(p) for p in sorted((tmp_path / "frames").glob("*.png"))]


def test_keep_size_scales_the_frames_back(tmp_path, tiny, clip):
    """Catches: ``--keep-size`` ignored (frames at the working size)."""
    common = ["--max-size", "16", "--steps", "2", "--steps-next", "2"]
    small = _video(tmp_path, tiny, "small", *common)
    kept = _video(tmp_path, tiny, "kept", *common, "--keep-size")
    assert [f.shape[:2] for f in small] == [(12, 16)] * 3
    assert [f.shape[:2] for f in kept] == [(24, 32)] * 3


def test_warm_start_prev_starts_each_frame_from_the_last_result(tmp_path, tiny, clip):
    """At a learning rate too small to move a pixel each frame is its start. Catches: ``prev``
    starting from the content (``none``) or a warped frame."""
    still = [
        "--lr",
        "1e-7",
        "--steps",
        "2",
        "--steps-next",
        "2",
        "--max-size",
        "32",
        "--optimizer-next",
        "adam",
    ]  # Adam's rate holds every frame still (L-BFGS has none)
    prev = _video(tmp_path, tiny, "prev", *still, "--warm-start", "prev")
    none = _video(tmp_path, tiny, "none", *still, "--warm-start", "none")
    assert all(_gap(frame, clip[0]) <= 1 for frame in prev)  # the first result, carried on
    assert all(_gap(frame, content) <= 1 for frame, content in zip(none, clip))
    assert np.abs(clip[1] - clip[0]).mean() > 10  # (the frames differ)


def test_preserve_colors_histogram_in_a_video_matches_the_styles_colours(tmp_path, tiny, clip):
    """Matched to the frames' colour mean and covariance, a style and the same style shifted in
    colour (one scale, another mean) become one style: the clips are alike. Catches:
    ``--preserve-colors histogram`` ignored in a video (the two clips then differ, as they do
    with ``none``)."""
    base = textured(32, 32, seed=7) // 2
    for name, shift in (("paint.png", (0, 0, 0)), ("shifted.png", (120, 10, 60))):
        Image.fromarray((base + np.array(shift)).astype(np.uint8)).save(tmp_path / name)
    common = ["--steps", "20", "--steps-next", "20", "--max-size", "32"]
    for mode, alike in (("histogram", True), ("none", False)):
        one = _video(tmp_path, tiny, f"{mode}-one", *common, "--preserve-colors", mode)
        other = _video(tmp_path, tiny, f"{mode}-other", *common, "--preserve-colors", mode,
                       style="shifted.png")  # fmt: skip
        gaps = [_gap(a, b) for a, b in zip(one, other)]
        assert len(gaps) == 3 and all((g <= 1) == alike for g in gaps), (mode, gaps)
