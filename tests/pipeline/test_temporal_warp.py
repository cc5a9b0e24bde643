"""The temporal target's warp (``--temporal-warp``, issues 19 and 29): the start of a later frame
is the previous result warped with Lanczos (crisp: restored), its temporal target warped with the
chosen interpolation."""

import numpy as np
import pytest
from clipmaker import make_texture, pan_frames
from PIL import Image
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig, VideoConfig
from vidstyle.errors import UsageError
from vidstyle.media import flow
from vidstyle.media.warped import restore_detail
from vidstyle.pipeline import temporal
from vidstyle.pipeline.video import stylize_clip


class HalfPixel:
    """A flow source of a uniform shift by half a pixel (so that interpolations differ)."""

    def pair(self, a, b, content_a, content_b):
        """The flows a->b and b->a of the shift."""
        forward = np.full(content_a.shape[:2] + (2,), 0.5, np.float32)
        return forward, -forward


@pytest.mark.parametrize("target_warp", ["linear", "lanczos", "crisp"])
def test_the_start_is_lanczos_and_the_target_takes_the_chosen_warp(target_warp):
    content = make_texture(32, 24, seed=1)
    result = make_texture(32, 24, seed=2)
    near = [temporal.Neighbour(1, 0, content, result)]
    start = temporal.start_from(1, content, near, HalfPixel(), target_warp, fresh=False)
    shift = np.full((24, 32, 2), -0.5, np.float32)
    lanczos = np.clip(flow.warp(result.astype(np.float32), shift), 0, 255)
    if target_warp == "crisp":  # Lanczos with the detail it lost put back
        chosen = restore_detail(lanczos, result, shift, start.mask)[0]
    else:
        chosen = np.clip(flow.warp(result.astype(np.float32), shift, target_warp), 0, 255)
    inner = np.s_[2:-2, 2:-2]
    start_warp = chosen if target_warp == "crisp" else lanczos
    np.testing.assert_allclose(start.warped[inner], start_warp[inner], atol=1e-4)
    np.testing.assert_allclose(start.target, chosen, atol=1e-4)
    differ = np.abs(start.target - start.warped)[inner].mean()
    assert (differ > 1.0) if target_warp == "linear" else differ == 0.0


def test_the_video_loop_passes_the_configured_warp(tmp_path, monkeypatch):
    folder = tmp_path / "clip"
    folder.mkdir()
    for i, frame in enumerate(pan_frames((40, 32), 3, shift=(2, 1))):
        Image.fromarray(frame).save(folder / f"{i:04d}.png")
    seen, real = [], temporal.start_from

    def spy(*args, **kwargs):
        warp = args[4] if len(args) > 4 else kwargs.get("target_warp", "crisp")
        seen.append((warp, args[5] if len(args) > 5 else kwargs.get("fresh", True)))
        return real(*args, **kwargs)

    monkeypatch.setattr(temporal, "start_from", spy)
    engine = tiny_engine(MethodConfig(steps=2))
    for warp, new in (("lanczos", "content"), ("linear", "warp"), ("crisp", "content")):
        seen.clear()
        config = VideoConfig(steps_next=2, temporal_warp=warp, new_content=new, passes=3,
                             steps_pass=1)  # fmt: skip
        stylize_clip(engine, folder, make_texture(24, 24, seed=3), tmp_path / warp, config)
        assert seen and set(seen) == {(warp, new == "content")}  # every later frame, every pass


def test_an_unknown_warp_is_refused():
    with pytest.raises((UsageError, ValueError)):
        VideoConfig(temporal_warp="cubic")
