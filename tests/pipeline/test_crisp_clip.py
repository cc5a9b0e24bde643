"""Later frames as crisp as the first (issue 29), with the real network at a tiny size: a pan by
fractions of a pixel, where the bilinear target blurred each frame a little more."""

from pathlib import Path

import cv2
import pytest
from clipmaker import pan_frames
from PIL import Image

from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.media.images import load_image
from vidstyle.pipeline.video import stylize_clip

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="module")
def subpixel_pan(tmp_path_factory):
    """Six 64x48 frames of a pan by (1.5, 0.5) px per frame (made at twice the size)."""
    folder = tmp_path_factory.mktemp("subpixel")
    for i, frame in enumerate(pan_frames((128, 96), 6, shift=(3, 1), seed=3)):
        small = cv2.resize(frame, (64, 48), interpolation=cv2.INTER_AREA)
        Image.fromarray(small).save(folder / f"{i:04d}.png")
    return folder


@pytest.mark.real_weights
def test_later_frames_keep_the_first_frames_crispness(subpixel_pan, real_engine, tmp_path):
    engine = real_engine(MethodConfig(max_size=64, optimizer="lbfgs", steps=40))
    style = load_image(SAMPLES / "swirls.jpg").rgb
    kept = {}
    for warp in ("crisp", "linear"):
        config = VideoConfig(steps_next=10, temporal_warp=warp)
        out = stylize_clip(engine, subpixel_pan, style, tmp_path / warp, config)
        kept[warp] = out.summary["crispness_kept"]
    # measured (float32): 0.92 against 0.56; each frame against the first, the worst
    assert kept["crisp"] > 0.85
    assert kept["linear"] < 0.7  # the bilinear target's blur, compounded
