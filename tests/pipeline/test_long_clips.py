"""Long-term consistency and multi-pass (Ruder et al. 2016, sec. 3.2 and 3.3) with the tiny
random-weight model on synthetic image sequences: the mask maths, an occluded region restored,
and passes that resume where they stopped."""

import json

import numpy as np
import pytest
from clipmaker import make_texture, pan_frames
from PIL import Image
from tinyvgg import tiny_engine

from vidstyle.config import PASS_STEPS, MethodConfig, VideoConfig
from vidstyle.errors import UsageError
from vidstyle.media import flow
from vidstyle.pipeline import temporal
from vidstyle.pipeline.passes import LR_SHARE, neighbours
from vidstyle.pipeline.video import stylize_clip
from vidstyle.progress import NullReporter

WIDTH, HEIGHT = 64, 48
SQUARE = (slice(16, 32), slice(24, 40))  # rows, columns of the region that is occluded


def test_each_pixel_counts_for_its_nearest_reliable_earlier_frame():
    c1 = np.array([[1, 0, 0, 0, 1]], np.float32)
    c2 = np.array([[1, 1, 0, 0, 0]], np.float32)
    c4 = np.array([[1, 1, 1, 0, 0]], np.float32)
    long1, long2, long4 = temporal.long_term_masks([c1, c2, c4])
    assert long1.tolist() == [[1, 0, 0, 0, 1]]
    assert long2.tolist() == [[0, 1, 0, 0, 0]]  # max(c2 - c1, 0)
    assert long4.tolist() == [[0, 0, 1, 0, 0]]  # max(c4 - c1 - c2, 0): not max(c4 - c2 - ...)
    soft = temporal.long_term_masks([np.array([[0.5]]), np.array([[0.8]]), np.array([[1.0]])])
    assert [float(m[0, 0]) for m in soft] == pytest.approx([0.5, 0.3, 0.0])


def test_one_combined_target_is_the_sum_of_the_masked_terms_up_to_a_constant(rng):
    warped = [rng.uniform(0, 255, (3, 4, 3)) for _ in range(3)]
    weights = temporal.long_term_masks([rng.uniform(0, 1, (3, 4)) for _ in range(3)])
    target, mask = temporal.combine(warped, weights)

    def separate(x):
        return sum(np.sum(w[..., None] * (x - image) ** 2) for w, image in zip(weights, warped))

    def combined(x):
        return np.sum(mask[..., None] * (x - target) ** 2)

    a, b = rng.uniform(0, 255, (2, 3, 4, 3))
    assert separate(a) - combined(a) == pytest.approx(separate(b) - combined(b))
    nowhere = [np.zeros((3, 4), np.float32)] * 3
    assert np.allclose(temporal.combine(warped, nowhere)[0], warped[0])


def test_neighbours_follow_the_sweep_and_stop_at_the_clip_ends_and_at_cuts():
    cuts = [False, False, False, False, True, False, False, False]  # a cut before frame 4
    assert neighbours(7, 3, (1, 2, 4), cuts) == [6, 5]  # forward: frame 3 is across the cut
    assert neighbours(2, 2, (1, 2, 4), cuts) == [3]  # backward: frame 4 is across the cut
    assert neighbours(0, 3, (1, 2), cuts) == []
    assert neighbours(4, 2, (1, 2, 4), cuts) == [5, 6]


def test_a_frame_held_on_both_sides_is_held_to_the_mean_of_the_reliable_warps():
    ones = np.ones((1, 4), np.float32)
    start = temporal.Start(np.zeros((1, 4, 3)), ones, (None, None), np.full((1, 4, 3), 10.0),
                           np.array([[1, 1, 0, 0]], np.float32))  # fmt: skip
    joined = temporal.join(start, np.full((1, 4, 3), 30.0), np.array([[1, 0, 1, 0]], np.float32))
    assert joined.target[0, :, 0].tolist() == [20, 10, 30, 10]  # nowhere: the first target
    assert joined.weights.tolist() == [[1, 1, 1, 0]]  # the union, never above 1
    assert joined.warped is start.warped and joined.mask is start.mask


def test_later_passes_take_steps_pass_steps_and_few_by_default():
    assert VideoConfig(passes=3).later_pass_steps == PASS_STEPS < VideoConfig().steps_next
    assert VideoConfig(passes=3, steps_pass=7).later_pass_steps == 7
    with pytest.raises(UsageError, match="steps_pass"):
        VideoConfig(steps_pass=-1)


def test_later_passes_nudge_with_few_steps_at_a_lower_learning_rate(tmp_path):
    _sequence(tmp_path / "clip", pan_frames((40, 32), 3, shift=(2, 1)))
    engine = Counting(tiny_engine(MethodConfig(steps=4, learning_rate=0.03)))
    stylize_clip(engine, tmp_path / "clip", make_texture(24, 24, seed=3), tmp_path / "out",
                 VideoConfig(steps_next=3, passes=2, optimizer_next="adam"))  # fmt: skip
    nudge = (PASS_STEPS, pytest.approx(0.03 * LR_SHARE))
    assert engine.runs == [(4, None), (3, None), (3, None), nudge, nudge, nudge]
    assert 0 < LR_SHARE < 1


def _sequence(folder, frames) -> None:
    folder.mkdir()
    for index, rgb in enumerate(frames):
        Image.fromarray(rgb).save(folder / f"{index:03d}.png")


def _results(folder, count) -> list[np.ndarray]:
    return [np.asarray(Image.open(folder / f"{i + 1:06d}.png"), np.float32) for i in range(count)]


def occluded_clip(folder, count: int = 12) -> list[int]:
    """A still textured scene with a square of its own texture, crossed by a textured bar moving
    8 px a frame; returns the frames in which the bar covers part of the square."""
    scene, square = make_texture(WIDTH, HEIGHT, seed=1), make_texture(16, 16, seed=5)
    bar = make_texture(12, HEIGHT, seed=9)
    scene[SQUARE] = square
    frames, covered = [], []
    for index in range(count):
        frame = scene.copy()
        left = -12 + 8 * index
        low, high = max(left, 0), min(left + 12, WIDTH)
        if high > low:
            frame[:, low:high] = bar[:, low - left : high - left]
        if low < SQUARE[1].stop and high > SQUARE[1].start:
            covered.append(index)
        frames.append(frame)
    _sequence(folder, frames)
    return covered


def test_a_region_that_comes_back_after_an_occlusion_takes_back_its_look(tmp_path):
    covered = occluded_clip(tmp_path / "clip")
    assert covered == [4, 5, 6]  # offsets 1, 2, 4 reach over it
    engine = tiny_engine(MethodConfig(steps=30, max_size=WIDTH))
    style = make_texture(32, 32, seed=7)
    distances = {}
    for offsets in ((1,), (1, 2, 4)):
        out = tmp_path / f"out-{len(offsets)}"
        stylize_clip(engine, tmp_path / "clip", style, out,
                     VideoConfig(steps_next=30, long_term=offsets))  # fmt: skip
        results = _results(out, 12)
        before = results[covered[0] - 1][SQUARE]
        after = [np.abs(r[SQUARE] - before).mean() for r in results[covered[-1] + 1 :]]
        distances[offsets] = float(np.mean(after))
    assert distances[(1, 2, 4)] < 0.5 * distances[(1,)], distances


class Counting:
    """The tiny engine, counting its optimizations and keeping their steps and learning rates."""

    def __init__(self, engine):
        self.engine, self.calls, self.runs = engine, 0, []

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def stylize(self, request):
        self.calls += 1
        self.runs.append((request.steps, request.learning_rate))
        return self.engine.stylize(request)


class Stopping(NullReporter):
    """Raises after ``after`` frames whose names hold ``where`` are done; keeps the names of the
    items begun."""

    def __init__(self, after: int | None = None, where: str = "(pass 2/3)"):
        self.after, self.where, self.started, self.total = after, where, [], None

    def begin(self, total, unit):
        self.total = total

    def start_item(self, name, steps, lane=None):
        self.started.append(name)

    def end_item(self, name, status, seconds):
        if self.after is not None and status == "done" and self.where in name:
            self.after -= 1
            if self.after == 0:
                raise KeyboardInterrupt


def test_passes_resume_where_they_stopped_and_give_the_same_frames(tmp_path):
    _sequence(tmp_path / "clip", pan_frames((40, 32), 6, shift=(2, 1)))
    engine = Counting(tiny_engine(MethodConfig(steps=4)))
    style = make_texture(24, 24, seed=3)
    config = VideoConfig(
        steps_next=3, passes=3, long_term=(1, 2), steps_pass=2, optimizer_next="adam"
    )  # every frame on the counted engine
    whole = stylize_clip(engine, tmp_path / "clip", style, tmp_path / "whole", config)
    assert engine.calls == 18 and whole.summary["passes"] == 3
    stopping = Stopping(after=2)
    with pytest.raises(KeyboardInterrupt):
        stylize_clip(engine, tmp_path / "clip", style, tmp_path / "resumed", config, stopping)
    assert stopping.started[-1] == "frame 4 (pass 2/3)"  # pass 2 runs backward: 5, then 4
    engine.calls, again = 0, Stopping()
    resumed = stylize_clip(engine, tmp_path / "clip", style, tmp_path / "resumed", config, again)
    assert engine.calls == 4 + 6  # the rest of pass 2, then pass 3; nothing of pass 1
    assert again.started[0] == "frame 3 (pass 2/3)" and again.total == 18
    assert all("pass 1/3" not in name for name in again.started)
    for made, kept in zip(_results(tmp_path / "resumed", 6), _results(tmp_path / "whole", 6)):
        assert np.array_equal(made, kept)
    assert _measures(resumed) == _measures(whole)


def test_long_term_resumes_with_the_earlier_results_read_back(tmp_path):
    occluded_clip(tmp_path / "clip", count=10)  # the square is covered in frames 4 to 6
    engine = Counting(tiny_engine(MethodConfig(steps=4, max_size=WIDTH)))
    style = make_texture(24, 24, seed=3)
    config = VideoConfig(steps_next=3, long_term=(1, 2, 4), optimizer_next="adam")
    stylize_clip(engine, tmp_path / "clip", style, tmp_path / "whole", config)
    with pytest.raises(KeyboardInterrupt):
        stylize_clip(engine, tmp_path / "clip", style, tmp_path / "resumed", config,
                     Stopping(after=7, where="frame"))  # fmt: skip
    engine.calls = 0
    stylize_clip(engine, tmp_path / "clip", style, tmp_path / "resumed", config)
    assert engine.calls == 3  # frames 7 to 9; frame 7 is held to frame 3, read from the folder
    for made, kept in zip(_results(tmp_path / "resumed", 10), _results(tmp_path / "whole", 10)):
        assert np.array_equal(made, kept)


def _measures(result) -> list[list]:
    """The report's per-frame measures (taken on the frames before the encoder)."""
    frames = json.loads(result.report_path.read_text())["frames"]
    keys = ("crispness", "style_loss", "temporal_error", "content_error", "steps", "cut")
    return [[frame.get(key) for key in keys] for frame in frames]


def test_the_report_of_passes_adds_up_every_pass_and_measures_the_final_frames(tmp_path):
    _sequence(tmp_path / "clip", pan_frames((40, 32), 5, shift=(2, 1)))
    engine = tiny_engine(MethodConfig(steps=6))
    style = make_texture(24, 24, seed=3)
    result = stylize_clip(engine, tmp_path / "clip", style, tmp_path / "out",
                          VideoConfig(steps_next=3, passes=3, steps_pass=2))  # fmt: skip
    frames = json.loads(result.report_path.read_text())["frames"]
    assert [f["steps"] for f in frames] == [6 + 2 + 2] + [3 + 2 + 2] * 4
    assert all(len(f["pass_seconds"]) == 3 for f in frames)
    later = [f["seconds"] for f in frames[1:]]
    assert result.summary["seconds_per_later_frame"] == pytest.approx(np.mean(later))
    final = _results(tmp_path / "out", 5)
    assert frames[2]["crispness"] == pytest.approx(flow.crispness(final[2], _content(tmp_path, 2)))
    assert not (tmp_path / "out.vidstyle-work").exists()


def _content(tmp_path, index):
    return np.asarray(Image.open(tmp_path / "clip" / f"{index:03d}.png"))
