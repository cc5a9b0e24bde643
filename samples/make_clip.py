"""Make ``pan.mp4``: a 2-second H.264 clip panning across ``photos/coffee.jpg``, with a tone.

A camera window of 240x160 moves right by 6 px and down by 1 px per frame at 12 fps, then the
clip cuts to a window of ``photos/rocket.jpg`` for its last 6 frames, so the demo shows a shot
cut too. The sound is a 440 Hz tone with a slow tremolo, AAC. Run: ``python samples/make_clip.py``.
"""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
FPS, FRAMES, CUT_AT, SIZE, RATE = 12, 24, 18, (240, 160), 48000


def frames() -> list[np.ndarray]:
    coffee = np.asarray(Image.open(HERE / "photos" / "coffee.jpg").convert("RGB"))
    rocket = np.asarray(Image.open(HERE / "photos" / "rocket.jpg").convert("RGB"))
    out = []
    for i in range(FRAMES):
        source, x, y = (coffee, 40 + 6 * i, 60 + i) if i < CUT_AT else (rocket, 150 + 4 * i, 80)
        out.append(np.ascontiguousarray(source[y : y + SIZE[1], x : x + SIZE[0]]))
    return out


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t) * (0.75 + 0.25 * np.sin(2 * np.pi * 2 * t))).astype(
        np.float32
    )


def main(path: Path = HERE / "pan.mp4") -> None:
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS, options={"crf": "20"})
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        audio = out.add_stream("aac", rate=RATE, layout="mono")
        for i, rgb in enumerate(frames()):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode())
        samples = tone(FRAMES / FPS)
        for start in range(0, len(samples), 1024):
            chunk = samples[start : start + 1024][None]
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            out.mux(audio.encode(frame))
        out.mux(audio.encode())


if __name__ == "__main__":
    main()
