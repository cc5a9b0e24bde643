"""Synthetic test media: seeded textures, panning clips, tones, written with PyAV in tmp folders.

Plain functions shared by the media tests (``from clipmaker import ...``; ``tests/conftest.py``
puts this folder on ``sys.path``). Nothing here imports vidstyle, so the helpers cannot hide a bug
in the code under test.

Motion convention (the same as ``vidstyle.media.flow``): a ``shift`` of ``(dx, dy)`` means the
content at pixel ``(x, y)`` of one frame is at ``(x + dx, y + dy)`` in the next frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

SAMPLE_RATE = 48000


def make_texture(width: int, height: int, seed: int = 0, colors=None) -> np.ndarray:
    """A smooth, detailed texture (octaves of upsampled noise), HxWx3 uint8.

    Args:
        width: width in pixels.
        height: height in pixels.
        seed: random seed; different seeds give unrelated images.
        colors: None for independent noise in each channel (rich texture for optical flow), or
            a list of RGB colours: one noise field mapped through a gradient of those colours,
            like a photo of a scene with that palette.

    Returns:
        The texture.
    """
    rng = np.random.default_rng(seed)
    channels = 3 if colors is None else 1
    out = np.zeros((height, width, channels), np.float32)
    for cell, weight in ((3, 0.25), (8, 0.35), (24, 0.4)):
        small = rng.random((height // cell + 2, width // cell + 2, channels)).astype(np.float32)
        big = cv2.resize(small, (small.shape[1] * cell, small.shape[0] * cell), cv2.INTER_CUBIC)
        out += weight * big.reshape(big.shape[0], big.shape[1], channels)[:height, :width]
    out = (out - out.min()) / (out.max() - out.min())
    if colors is None:
        return np.rint(out * 255.0).astype(np.uint8)
    palette = np.asarray(colors, np.float32)
    stops = np.linspace(0.0, 1.0, len(palette))
    rgb = [np.interp(out[..., 0], stops, palette[:, c]) for c in range(3)]
    return np.clip(np.rint(np.stack(rgb, axis=2)), 0, 255).astype(np.uint8)


def pan_frames(
    size: tuple[int, int] = (96, 64),
    frames: int = 12,
    shift: tuple[int, int] = (3, 2),
    seed: int = 0,
    colors=None,
) -> np.ndarray:
    """Frames of a window panning across a texture so that content moves by ``shift`` per frame.

    Args:
        size: (width, height) of a frame.
        frames: number of frames.
        shift: (dx, dy) content motion per frame in pixels (integers).
        seed: texture seed.
        colors: texture palette, see :func:`make_texture`.

    Returns:
        Array (frames, height, width, 3) uint8.
    """
    width, height = size
    dx, dy = shift
    margin = 8
    tex_w = width + abs(dx) * frames + 2 * margin
    tex_h = height + abs(dy) * frames + 2 * margin
    texture = make_texture(tex_w, tex_h, seed, colors)
    x0 = margin + (abs(dx) * frames if dx > 0 else 0)
    y0 = margin + (abs(dy) * frames if dy > 0 else 0)
    out = []
    for i in range(frames):
        x, y = x0 - i * dx, y0 - i * dy
        out.append(texture[y : y + height, x : x + width])
    return np.stack(out)


def sine_tone(
    seconds: float, rate: int = SAMPLE_RATE, freq: float = 440.0, sweep: float = 0.0
) -> np.ndarray:
    """A stereo sine tone, planar float32 of shape (2, samples), amplitude 0.5.

    ``sweep`` (Hz per second) raises the pitch over time, so that every stretch of the signal
    is unlike every other and an offset can be measured by correlation.
    """
    t = np.arange(round(seconds * rate)) / rate
    mono = (0.5 * np.sin(2 * np.pi * (freq * t + sweep * t * t / 2))).astype(np.float32)
    return np.stack([mono, mono])


def _add_audio(container, codec: str, rate: int):
    stream = container.add_stream(codec, rate=rate, layout="stereo")
    return stream


def _encode_audio(container, stream, samples: np.ndarray, rate: int) -> None:
    ctx = stream.codec_context
    fmt = ctx.format.name
    size = ctx.frame_size or 1024
    resampler = av.AudioResampler(format=fmt, layout="stereo", rate=rate)
    for start in range(0, samples.shape[1], size):
        chunk = np.ascontiguousarray(samples[:, start : start + size])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for out in resampler.resample(frame):
            container.mux(stream.encode(out))
    container.mux(stream.encode(None))


def write_clip(
    path: Path,
    frames: np.ndarray,
    fps: int | Fraction = 12,
    codec: str = "libx264",
    times: Sequence[float] | None = None,
    audio_codec: str | None = None,
    audio_seconds: float | None = None,
    audio_sweep: float = 0.0,
    rotation: int | None = None,
    rotate_tag: str | None = None,
    options: dict[str, str] | None = None,
) -> None:
    """Encode RGB frames (and optionally a 440 Hz tone) into ``path`` with PyAV.

    Args:
        path: output file; the container follows the suffix.
        frames: (n, h, w, 3) uint8 frames.
        fps: frame rate; frame ``i`` is at ``i / fps`` unless ``times`` is given.
        codec: video encoder (libx264, libvpx, libvpx-vp9, gif, mpeg4).
        times: explicit presentation times in seconds (variable frame rate).
        audio_codec: audio encoder (aac, libmp3lame, libopus), or None for no audio.
        audio_seconds: tone length; defaults to the video length.
        audio_sweep: pitch rise of the tone in Hz per second (see :func:`sine_tone`).
        rotation: display-matrix rotation in degrees *clockwise* (as FFmpeg's "rotate" tag).
        rotate_tag: a legacy "rotate" metadata tag value to store (mkv keeps it).
        options: extra encoder options.
    """
    path = Path(path)
    n, height, width = frames.shape[:3]
    fps = Fraction(fps)
    tb = Fraction(1, 90000) if times is not None else 1 / fps
    pts = [round(t / tb) for t in times] if times is not None else list(range(n))
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height = width, height
        stream.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
        stream.codec_context.time_base = tb
        if rotation is not None:
            stream.set_display_rotation(-rotation)
        if rotate_tag is not None:
            stream.metadata["rotate"] = rotate_tag
        audio = None
        if audio_codec is not None:
            audio = _add_audio(container, audio_codec, SAMPLE_RATE)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[i]), format="rgb24")
            frame.pts = pts[i]
            frame.time_base = tb
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio is not None:
            seconds = audio_seconds if audio_seconds is not None else n / float(fps)
            tone = sine_tone(seconds, sweep=audio_sweep)
            _encode_audio(container, audio, tone, SAMPLE_RATE)


def make_pan_clip(
    path: Path,
    size: tuple[int, int] = (96, 64),
    frames: int = 12,
    fps: int = 12,
    shift: tuple[int, int] = (3, 2),
    audio: bool = True,
    codec: str = "libx264",
    audio_codec: str = "aac",
    seed: int = 0,
    **kwargs,
) -> np.ndarray:
    """Write a panning clip (see :func:`pan_frames`) with an optional tone; return its frames.

    Args:
        path: output file.
        size: (width, height).
        frames: frame count.
        fps: frame rate.
        shift: content motion per frame.
        audio: add a 440 Hz stereo tone as long as the video.
        codec: video encoder.
        audio_codec: audio encoder when ``audio``.
        seed: texture seed.
        **kwargs: passed on to :func:`write_clip`.

    Returns:
        The source frames, (frames, height, width, 3) uint8.
    """
    data = pan_frames(size, frames, shift, seed)
    write_clip(path, data, fps, codec, audio_codec=audio_codec if audio else None, **kwargs)
    return data


def make_audio_only(path: Path, seconds: float = 1.0, codec: str = "aac") -> None:
    """Write a file with only a stereo 440 Hz tone (e.g. ``.m4a`` with AAC)."""
    with av.open(str(path), "w") as container:
        stream = _add_audio(container, codec, SAMPLE_RATE)
        _encode_audio(container, stream, sine_tone(seconds), SAMPLE_RATE)


def audio_samples(path: Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """The first audio stream decoded (encoder priming removed), as mono float32 at ``rate``."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    with av.open(str(path)) as container:
        chunks = []
        for frame in container.decode(container.streams.audio[0]):
            chunks += [out.to_ndarray()[0] for out in resampler.resample(frame)]
        chunks += [out.to_ndarray()[0] for out in resampler.resample(None)]
    return np.concatenate(chunks)


def audio_duration(path: Path) -> float:
    """Seconds of decoded audio in the first audio stream (samples / rate, priming removed)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.codec_context.sample_rate
