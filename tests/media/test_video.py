"""Tests for vidstyle.media.video: probing, decoding, encoding with audio, and failures."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from clipmaker import (
    SAMPLE_RATE,
    audio_duration,
    audio_samples,
    make_audio_only,
    make_pan_clip,
    pan_frames,
    sine_tone,
    write_clip,
)

from vidstyle.errors import DecodeError, EncodeError, InputError
from vidstyle.fsutil import is_temporary
from vidstyle.media.encode import write_video
from vidstyle.media.video import list_sequence, probe, read_frames

FAST_VP9 = {"deadline": "realtime", "cpu-used": "8"}


@pytest.fixture
def pan_clip(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A 96x64, 12-frame, 12 fps H.264 mp4 (B-frames on) with a 1 s AAC tone."""
    path = tmp_path / "pan.mp4"
    return path, make_pan_clip(path)


def nearest(frame: np.ndarray, sources: np.ndarray) -> int:
    """Index of the source frame most like ``frame`` (mean absolute difference)."""
    errors = np.abs(sources.astype(np.float32) - frame.astype(np.float32)).mean(axis=(1, 2, 3))
    return int(np.argmin(errors))


def mean_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if is_temporary(p))


# --- probe and read_frames ---------------------------------------------------------------------


def test_probe_reports_size_rate_count_and_audio(pan_clip):
    path, _ = pan_clip
    info = probe(path)
    assert (info.width, info.height) == (96, 64)
    assert info.fps == 12 and isinstance(info.fps, Fraction)
    assert info.frame_count == 12
    assert info.duration == pytest.approx(1.0, abs=0.01)
    assert info.has_audio and info.codec == "h264" and info.rotation == 0
    assert isinstance(info.time_base, Fraction) and info.path == path


def test_read_frames_yields_each_frame_once_in_presentation_order(pan_clip):
    path, source = pan_clip
    with av.open(str(path)) as container:
        pts = [p.pts for p in container.demux(video=0) if p.pts is not None]
    assert pts != sorted(pts), "the clip should have B-frames (decode order != display order)"
    frames = list(read_frames(path))
    assert [f.index for f in frames] == list(range(12))
    assert [f.time for f in frames] == pytest.approx([i / 12 for i in range(12)], abs=1e-3)
    assert [nearest(f.rgb, source) for f in frames] == list(range(12))
    assert all(f.rgb.shape == (64, 96, 3) and f.rgb.dtype == np.uint8 for f in frames)
    assert max(mean_error(f.rgb, s) for f, s in zip(frames, source)) < 10


def test_read_frames_start_end_and_max_frames(pan_clip):
    path, source = pan_clip
    window = list(read_frames(path, start=0.25, end=0.75))
    assert [nearest(f.rgb, source) for f in window] == [3, 4, 5, 6, 7, 8]
    assert [f.index for f in window] == list(range(6))
    assert window[0].time == pytest.approx(0.25, abs=1e-3)
    assert len(list(read_frames(path, max_frames=4))) == 4
    assert [f.index for f in read_frames(path, start=0.5, max_frames=2)] == [0, 1]


@pytest.mark.parametrize("gop", ["6", "250"])
def test_read_frames_seeks_into_a_longer_clip(tmp_path, gop):
    path = tmp_path / "long.mp4"
    source = make_pan_clip(path, size=(48, 32), frames=60, shift=(1, 1), audio=False,
                           options={"g": gop})  # fmt: skip
    frames = list(read_frames(path, start=3.0, end=3.5))
    assert [nearest(f.rgb, source) for f in frames] == [36, 37, 38, 39, 40, 41]
    assert frames[0].time == pytest.approx(3.0, abs=1e-3)


def test_empty_range_and_bad_arguments(pan_clip):
    path, _ = pan_clip
    with pytest.raises(DecodeError, match="no video frames"):
        list(read_frames(path, start=5.0))
    with pytest.raises(ValueError):
        list(read_frames(path, start=0.5, end=0.5))
    with pytest.raises(ValueError):
        list(read_frames(path, max_frames=0))


@pytest.mark.parametrize(
    ("name", "kwargs", "tolerance"),
    [
        ("vp9.webm", {"codec": "libvpx-vp9", "audio_codec": "libopus", "options": FAST_VP9}, 10),
        ("vp8.webm", {"codec": "libvpx", "audio": False}, 10),
        ("anim.gif", {"codec": "gif", "audio": False}, 25),
        ("clip.mkv", {"audio_codec": "libmp3lame"}, 10),
        ("clip.mov", {}, 10),
        ("clip.avi", {"codec": "mpeg4", "audio": False, "options": {"qscale": "2"}}, 20),
    ],
)
def test_containers_and_codecs_are_read(tmp_path, name, kwargs, tolerance):
    path = tmp_path / name
    source = make_pan_clip(path, **kwargs)
    info = probe(path)
    frames = list(read_frames(path))
    assert (info.width, info.height) == (96, 64)
    assert len(frames) == 12
    times = [f.time for f in frames]
    assert times[0] == pytest.approx(0.0, abs=1e-3) and times == sorted(set(times))
    assert [nearest(f.rgb, source) for f in frames] == list(range(12))
    assert max(mean_error(f.rgb, s) for f, s in zip(frames, source)) < tolerance


def corner_marked_frames(count: int = 3) -> np.ndarray:
    """Landscape 96x64 grey frames with a red block in the top-left corner."""
    frames = np.full((count, 64, 96, 3), 128, np.uint8)
    frames[:, :16, :16] = (230, 20, 20)
    return frames


def red_corner(rgb: np.ndarray) -> str:
    h, w = rgb.shape[:2]
    corners = {"tl": rgb[:8, :8], "tr": rgb[:8, w - 8 :], "bl": rgb[h - 8 :, :8]}
    corners["br"] = rgb[h - 8 :, w - 8 :]
    return max(corners, key=lambda k: corners[k][..., 0].mean() - corners[k][..., 1].mean())


@pytest.mark.parametrize(
    ("name", "kwargs", "rotation", "corner"),
    [
        ("matrix90.mp4", {"rotation": 90}, 90, "tr"),  # clockwise: top-left goes top-right
        ("matrix180.mp4", {"rotation": 180}, 180, "br"),
        ("matrix270.mov", {"rotation": 270}, 270, "bl"),
        ("tag90.mkv", {"rotate_tag": "90"}, 90, "tr"),  # legacy tag, same meaning
    ],
)
def test_rotation_is_applied_clockwise_like_ffmpeg(tmp_path, name, kwargs, rotation, corner):
    path = tmp_path / name
    write_clip(path, corner_marked_frames(), **kwargs)
    info = probe(path)
    assert info.rotation == rotation
    upright = (64, 96) if rotation == 90 or rotation == 270 else (96, 64)
    assert (info.width, info.height) == upright
    frame = next(read_frames(path))
    assert frame.rgb.shape == (upright[1], upright[0], 3) and frame.rgb.flags.c_contiguous
    assert red_corner(frame.rgb) == corner


# --- bad inputs ----------------------------------------------------------------------------------


def broken_file(tmp_path: Path, kind: str, pan_clip) -> Path:
    path, _ = pan_clip
    if kind == "random":
        target = tmp_path / "random.mp4"
        target.write_bytes(np.random.default_rng(3).bytes(20000))
    elif kind == "truncated":  # moov at the end: the index is lost
        target = tmp_path / "truncated.mp4"
        target.write_bytes(path.read_bytes()[: path.stat().st_size * 3 // 10])
    elif kind == "truncated-faststart":  # index intact, data cut
        whole = tmp_path / "whole.mp4"
        write_video(whole, ((f.rgb, f.time) for f in read_frames(path)), Fraction(12))
        target = tmp_path / "cut.mp4"
        target.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    elif kind == "audio-only":
        target = tmp_path / "tone.m4a"
        make_audio_only(target)
    elif kind == "empty":
        target = tmp_path / "empty.mp4"
        target.write_bytes(b"")
    else:
        target = tmp_path / "missing.mp4"
    return target


@pytest.mark.parametrize(
    ("kind", "error", "reason"),
    [
        ("random", DecodeError, "cannot read video"),
        ("truncated", DecodeError, "cannot read video"),
        ("truncated-faststart", DecodeError, "truncated"),
        ("audio-only", DecodeError, "has no video stream"),
        ("empty", DecodeError, "empty"),
        ("missing", InputError, "no such file"),
    ],
)
def test_bad_inputs_raise_domain_errors_naming_the_file(tmp_path, pan_clip, kind, error, reason):
    path = broken_file(tmp_path, kind, pan_clip)
    for attempt in (lambda: probe(path), lambda: list(read_frames(path))):
        with pytest.raises(error, match=reason) as caught:
            attempt()
        assert caught.value.path == path and path.name in str(caught.value)


# --- write_video ---------------------------------------------------------------------------------


def stream_props(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio
        return {
            "codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "audio": audio[0].codec_context.codec.canonical_name if audio else None,
        }


def audio_payloads(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def test_written_mp4_matches_source_and_copies_aac(tmp_path, pan_clip):
    source, frames = pan_clip
    dest = tmp_path / "out" / "styled.mp4"
    decoded = [(f.rgb, f.time) for f in read_frames(source)]
    write_video(dest, iter(decoded), Fraction(12), audio_from=source)
    info, src_info = probe(dest), probe(source)
    assert stream_props(dest) == {"codec": "h264", "pix_fmt": "yuv420p", "audio": "aac"}
    assert (info.frame_count, info.fps, info.width, info.height) == (12, 12, 96, 64)
    assert abs(info.duration - src_info.duration) <= 1 / 12
    assert abs(audio_duration(dest) - audio_duration(source)) < 0.05
    assert audio_payloads(dest) == audio_payloads(source)  # remuxed, not re-encoded
    assert dest.read_bytes()[:64].find(b"moov") > 0  # +faststart: index before the data
    again = list(read_frames(dest))
    assert max(mean_error(f.rgb, s) for f, s in zip(again, frames)) < 10
    assert leftovers(dest.parent) == []


@pytest.mark.parametrize("suffix", [".mkv", ".mov"])
def test_other_containers_are_written(tmp_path, pan_clip, suffix):
    source, _ = pan_clip
    dest = tmp_path / f"styled{suffix}"
    write_video(dest, ((f.rgb, f.time) for f in read_frames(source)), Fraction(12), source)
    info = probe(dest)
    assert info.has_audio and info.codec == "h264" and info.fps == 12
    assert len(list(read_frames(dest))) == 12
    assert abs(audio_duration(dest) - audio_duration(source)) < 0.05


def test_odd_sizes_are_padded_to_even_by_repeating_the_edge(tmp_path):
    frames = pan_frames((95, 63), frames=4)
    dest = tmp_path / "odd.mp4"
    write_video(dest, ((f, i / 12) for i, f in enumerate(frames)), Fraction(12), crf=0)
    assert (probe(dest).width, probe(dest).height) == (96, 64)
    back = next(read_frames(dest)).rgb
    assert mean_error(back[:63, :95], frames[0]) < 8  # 4:2:0 chroma loses some detail
    assert mean_error(back[:63, 95], back[:63, 94]) < 3  # the repeated last column
    assert mean_error(back[63, :95], back[62, :95]) < 3  # the repeated last row


def test_colours_survive_a_round_trip(tmp_path):
    colours = [
        (230, 30, 30),
        (30, 200, 40),
        (40, 50, 220),
        (240, 200, 40),
        (20, 20, 20),
        (250,) * 3,
    ]
    frame = np.zeros((64, 96, 3), np.uint8)
    for i, colour in enumerate(colours):
        frame[:, i * 16 : (i + 1) * 16] = colour
    dest = tmp_path / "colours.mp4"
    write_video(dest, [(frame, 0.0), (frame, 1 / 12)], Fraction(12))
    back = next(read_frames(dest)).rgb
    for i, colour in enumerate(colours):
        patch = back[8:56, i * 16 + 4 : i * 16 + 12].reshape(-1, 3).mean(axis=0)
        assert np.abs(patch - colour).max() < 4, (colour, patch)  # BT.709 written and read


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_variable_frame_times_are_kept(tmp_path, suffix):
    times = [0.0, 0.05, 0.2, 0.3, 0.31, 0.5, 0.9, 1.0]
    frames = pan_frames(frames=len(times))
    dest = tmp_path / f"vfr{suffix}"
    write_video(dest, zip(frames, times), Fraction(12))
    back = list(read_frames(dest))
    assert [f.time for f in back] == pytest.approx(times, abs=1e-3)
    assert [nearest(f.rgb, frames) for f in back] == list(range(len(times)))


def test_audio_in_other_codecs_is_reencoded_to_aac(tmp_path):
    source = tmp_path / "opus.mkv"
    make_pan_clip(source, audio_codec="libopus")
    dest = tmp_path / "out.mp4"
    write_video(dest, ((f.rgb, f.time) for f in read_frames(source)), Fraction(12), source)
    assert stream_props(dest)["audio"] == "aac"
    assert abs(audio_duration(dest) - audio_duration(source)) < 0.05
    assert probe(dest).fps == 12  # mkv's millisecond times snapped back to the 12 fps grid


def test_mp3_audio_is_copied_into_mp4(tmp_path):
    source = tmp_path / "mp3.mkv"
    make_pan_clip(source, audio_codec="libmp3lame")
    dest = tmp_path / "out.mp4"
    write_video(dest, ((f.rgb, f.time) for f in read_frames(source)), Fraction(12), source)
    assert stream_props(dest)["audio"] == "mp3"
    assert audio_payloads(dest) == audio_payloads(source)


def test_trimmed_audio_is_cut_and_reencoded(tmp_path, pan_clip):
    source, _ = pan_clip
    dest = tmp_path / "trim.mp4"
    frames = [(f.rgb, f.time - 0.25) for f in read_frames(source, start=0.25, end=0.75)]
    write_video(dest, frames, Fraction(12), source, audio_start=0.25, audio_end=0.75)
    assert probe(dest).frame_count == 6
    assert audio_duration(dest) == pytest.approx(0.5, abs=0.05)


def lag(signal: np.ndarray, reference: np.ndarray) -> int:
    """Samples by which ``signal`` is late against ``reference`` (best correlation, ±50 ms)."""
    seg = signal[4800:9600]
    return max(range(-2400, 2401), key=lambda k: float(seg @ reference[4800 - k : 9600 - k]))


@pytest.mark.parametrize(("codec", "start"), [("aac", 0.0), ("aac", 0.25), ("libopus", 0.5)])
def test_audio_stays_in_sync_sample_exactly(tmp_path, codec, start):
    source = tmp_path / "sweep.mkv"
    make_pan_clip(source, frames=24, audio_codec=codec, audio_sweep=400.0)
    dest = tmp_path / "out.mp4"
    frames = [(f.rgb, f.time - start) for f in read_frames(source, start=start)]
    write_video(dest, frames, Fraction(12), source, audio_start=start)
    reference = sine_tone(2.0, sweep=400.0)[0][round(start * SAMPLE_RATE) :]
    assert abs(lag(audio_samples(dest), reference)) <= 1
    assert audio_duration(dest) == pytest.approx(2.0 - start, abs=0.03)


def test_audio_ends_with_a_shorter_video(tmp_path, pan_clip):
    source, _ = pan_clip
    dest = tmp_path / "short.mp4"
    write_video(dest, ((f.rgb, f.time) for f in read_frames(source, max_frames=6)), 12, source)
    assert audio_duration(dest) == pytest.approx(0.5, abs=0.05)


def test_source_without_audio_gives_a_silent_video(tmp_path):
    source = tmp_path / "silent.mp4"
    make_pan_clip(source, audio=False)
    dest = tmp_path / "out.mp4"
    write_video(dest, ((f.rgb, f.time) for f in read_frames(source)), Fraction(12), source)
    assert not probe(dest).has_audio


def failing_frames(frames: np.ndarray):
    yield frames[0], 0.0
    yield frames[1], 1 / 12
    raise RuntimeError("stylization failed")


def test_failed_writes_leave_nothing_behind(tmp_path):
    frames = pan_frames(frames=3)
    dest = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="stylization failed"):
        write_video(dest, failing_frames(frames), Fraction(12))
    resized = [(frames[0], 0.0), (frames[1][:32], 0.1)]
    with pytest.raises(EncodeError, match="frame 1 is 96x32") as caught:
        write_video(dest, resized, Fraction(12))
    assert caught.value.path == dest
    with pytest.raises(EncodeError, match="no frames"):
        write_video(dest, [], Fraction(12))
    with pytest.raises(EncodeError, match="webm"):
        write_video(tmp_path / "out.webm", [(frames[0], 0.0)], Fraction(12))
    with pytest.raises(ValueError):
        write_video(dest, [(frames[0].astype(np.float32), 0.0)], Fraction(12))
    with pytest.raises(ValueError):
        write_video(dest, [(frames[0], 0.0)], Fraction(12), audio_start=1.0, audio_end=0.5)
    assert os.listdir(tmp_path) == []
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(EncodeError, match="cannot create the folder"):
        write_video(tmp_path / "file" / "out.mp4", [(frames[0], 0.0)], Fraction(12))


def test_missing_audio_source_is_an_input_error(tmp_path):
    frames = pan_frames(frames=2)
    with pytest.raises(InputError, match="no such file"):
        write_video(tmp_path / "o.mp4", [(frames[0], 0.0)], Fraction(12), tmp_path / "nope.mp4")
    assert os.listdir(tmp_path) == []


# --- list_sequence -------------------------------------------------------------------------------


def test_list_sequence_natural_case_insensitive_order(tmp_path):
    names = ["frame10.png", "Frame2.JPG", "frame1.png", "frame_b.webp", "frame_A.tif", "x.bmp"]
    for name in names + ["notes.txt", ".hidden1.png", "clip.mp4"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.png").mkdir()
    found = [p.name for p in list_sequence(tmp_path)]
    expected = ["frame1.png", "Frame2.JPG", "frame10.png", "frame_A.tif", "frame_b.webp", "x.bmp"]
    assert found == expected


def test_list_sequence_without_images(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="contains no images"):
        list_sequence(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        list_sequence(tmp_path / "missing")


def test_list_sequence_takes_every_readable_image_suffix(tmp_path):
    from vidstyle.media.formats import IMAGE_SUFFIXES

    names = [f"f{i:02d}{suffix}" for i, suffix in enumerate(sorted(IMAGE_SUFFIXES))]
    for name in names + ["f99.txt", "f98.mp4"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_sequence(tmp_path)] == names


def test_a_sequence_of_ppm_frames_is_read(tmp_path):
    from PIL import Image

    for index in (1, 2, 10):
        Image.new("RGB", (6, 4), (index * 20, 0, 0)).save(tmp_path / f"frame{index}.ppm")
    Image.new("L", (6, 4), 7).save(tmp_path / "frame11.pgm")
    found = list_sequence(tmp_path)
    assert [p.name for p in found] == ["frame1.ppm", "frame2.ppm", "frame10.ppm", "frame11.pgm"]


def y4m_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny YUV4MPEG2 clip whose header claims ``width`` x ``height`` frames (data missing)."""
    header = f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n" + b"\x80" * 1000)
    return path


def test_a_clip_claiming_huge_frames_is_refused_before_decoding(tmp_path):
    import time

    from conftest import peak_growth_mib

    path = y4m_header_only(tmp_path / "huge.y4m", 16000, 12000)  # 192 MP: FFmpeg would try
    started = time.process_time()
    for attempt in (lambda: probe(path), lambda: next(read_frames(path))):
        with pytest.raises(InputError, match="16000x12000 is 192 MP, more than the 160 MP") as info:
            attempt()
        assert str(path) in info.value.message() and "\n" not in info.value.message()
    assert time.process_time() - started < 2  # CPU seconds: another worker's load is not ours
    imports = "from vidstyle.media.video import probe, read_frames"
    for action in (f"probe({str(path)!r})", f"next(read_frames({str(path)!r}))"):
        grown, raised = peak_growth_mib(imports, action)  # one decoded frame is 288 MB
        assert raised == "InputError" and grown < 50, (action, grown, raised)


def test_a_clip_claiming_absurd_frames_is_one_line(tmp_path):
    path = y4m_header_only(tmp_path / "absurd.y4m", 60000, 60000)  # FFmpeg refuses it itself
    with pytest.raises((DecodeError, InputError)) as info:
        probe(path)
    assert str(path) in info.value.message() and "\n" not in info.value.message()


def test_encoder_input_is_the_same_bytes_every_time():
    """x264 reads the padding at the end of each plane's lines, which swscale leaves
    uninitialised: unless it is filled, the same frames encode differently from run to run."""
    import hashlib

    from vidstyle.media.encode import _video_frame

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (32, 48, 3)).astype(np.uint8)  # chroma 24 wide, lines of 32
    digests, garbage = set(), []
    for _ in range(60):
        garbage.append(rng.integers(0, 256, int(rng.integers(100, 4000))).astype(np.uint8))
        frame = _video_frame(rgb.copy(), 0)
        assert any(p.line_size > p.width for p in frame.planes)  # there is padding to fill
        digests.add(hashlib.md5(b"".join(bytes(p) for p in frame.planes)).hexdigest())
        garbage = garbage[-5:]
    assert len(digests) == 1
