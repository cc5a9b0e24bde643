"""The painter's training material and loop: patches where they belong, the time box, the
checkpoint a killed run resumes from, the early stop once converged."""

import numpy as np
import pytest
from conftest import textured

from vidstyle.pipeline import teaching
from vidstyle.pipeline.teaching import Material, Progress
from vidstyle.progress import NullReporter


def _material(height=40, width=56):
    keys = [textured(height, width, seed=1)]
    frames = [textured(height, width, seed=s) for s in (2, 3)]
    moved = np.roll(frames[0], 3, axis=1)
    return Material(keys, [255 - keys[0]], frames, [(frames[0], moved)])


def test_patches_of_a_keyframe_and_its_result_are_at_the_same_place():
    batch = _material().sample(np.random.default_rng(0))
    assert batch.key_content.shape == (teaching.KEY_PATCHES, 40, 40, 3)
    np.testing.assert_allclose(batch.key_styled, 1.0 - batch.key_content, atol=1e-6)
    assert batch.frames.shape == (1, 40, 56, 3)  # the objective's crop: the whole small frame
    assert batch.pair_a.shape == batch.pair_b.shape == (teaching.PAIR_PATCHES, 40, 40, 3)
    assert batch.pair_flow.shape == (teaching.PAIR_PATCHES, 40, 40, 2)
    assert batch.patches == teaching.KEY_PATCHES + 1 + 2 * 2


def test_without_consecutive_frames_of_one_size_a_batch_has_no_pairs():
    keys = [textured(40, 56, seed=1)]
    frames = [textured(40, 56, seed=2), textured(48, 40, seed=3)]
    batch = Material(keys, [255 - keys[0]], frames, []).sample(np.random.default_rng(0))
    assert len(batch.pair_a) == len(batch.pair_b) == len(batch.pair_flow) == 0
    assert len(batch.pair_mask) == 0 and batch.patches == teaching.KEY_PATCHES + 1


def test_the_objective_judges_a_crop_of_frame_side_with_the_margin_around_it():
    keys, frames = [textured(40, 56, seed=1)], [textured(64, 300, seed=s) for s in (2, 3)]
    material = Material(keys, [255 - keys[0]], frames, [], frame_side=100, frame_crops=2)
    batch = material.sample(np.random.default_rng(0))
    assert material.margin == 12 and batch.margin == 12  # patches of 40: 12 px around 16
    assert batch.frames.shape == (2, 64, 124, 3)  # 100 + 2 x 12 wide; the frames' 64 high
    default = Material(keys, [255 - keys[0]], frames, []).sample(np.random.default_rng(0))
    assert default.frames.shape == (1, 64, min(teaching.FRAME_SIDE + 24, 300) // 4 * 4, 3)


def test_a_pair_trusts_no_pixel_whose_source_is_outside_its_patch():
    batch = _material().sample(np.random.default_rng(1))
    flow, mask = batch.pair_flow[0], batch.pair_mask[0]
    source_x = np.arange(flow.shape[1])[None, :] + flow[..., 0]
    assert not mask[(source_x < 0) | (source_x > flow.shape[1] - 1)].any()
    assert mask.mean() > 0.5  # a pan of 3 px: most of the patch is trusted


def test_frames_smaller_than_the_network_takes_are_padded():
    batch = _material(10, 7).sample(np.random.default_rng(0))
    assert batch.key_content.shape[1:3] == (16, 16)


class _Trainer:
    """A stand-in trainer whose loss falls as ``1 / (1 + steps)`` (or stays, ``flat``)."""

    def __init__(self, flat=False):
        self.steps, self.flat, self.weights = 0, flat, np.zeros(3)

    def step(self, *arrays):
        self.steps += 1
        self.weights = self.weights + 1.0
        return {"total": 1.0 if self.flat else 1.0 / (1 + self.steps)}

    def state(self):
        return {"model_000": self.weights.copy(), "steps": np.array(self.steps)}

    def restore(self, state):
        self.weights, self.steps = state["model_000"].copy(), int(state["steps"])


class _Reports(NullReporter):
    def __init__(self):
        self.statuses = []

    def train(self, status, lane=None):
        self.statuses.append(status)


def test_training_ends_at_its_time_box_and_reports_each_step(tmp_path):
    reports = _Reports()
    progress = teaching.train(_Trainer(), _material(), 0.3, tmp_path / "c.npz", reports)
    assert progress.seconds >= 0.3 and progress.steps == len(reports.statuses) > 0
    last = reports.statuses[-1]
    assert last.steps == progress.steps and last.budget == 0.3 and last.left == 0.0
    assert last.rate > 0 and "patches/s" in last.line()


def test_a_killed_training_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(teaching, "CHECKPOINT_SECONDS", 0.0)  # a checkpoint at every step
    checkpoint, trainer = tmp_path / "train" / "checkpoint.npz", _Trainer()

    def killed():
        if trainer.steps == 5:
            raise SystemExit("killed")

    with pytest.raises(SystemExit):
        teaching.train(trainer, _material(), 60.0, checkpoint, NullReporter(), stop=killed)
    again = _Trainer()
    progress = teaching.resume(again, checkpoint)
    assert progress.steps == again.steps == 5 and len(progress.history) == 5
    assert again.weights.tolist() == [5.0, 5.0, 5.0]
    spent = progress.seconds
    progress = teaching.train(again, _material(), spent + 0.2, checkpoint, NullReporter())
    assert progress.steps > 5 and progress.seconds >= spent + 0.2
    assert [p.name for p in checkpoint.parent.iterdir()] == ["checkpoint.npz"]


def test_a_finished_training_is_not_trained_again(tmp_path):
    checkpoint = tmp_path / "c.npz"
    done = teaching.train(_Trainer(), _material(), 0.2, checkpoint, NullReporter())
    again = _Trainer()
    assert teaching.train(again, _material(), 0.2, checkpoint, NullReporter()).steps == done.steps
    assert again.steps == done.steps  # restored, no step taken


def test_training_stops_once_the_loss_no_longer_falls(tmp_path):
    progress = teaching.train(_Trainer(flat=True), _material(), 60.0, tmp_path / "c.npz",
                              NullReporter())  # fmt: skip
    assert progress.steps == 2 * teaching.WINDOW and progress.seconds < 60


def test_convergence_wants_two_windows_and_a_fall_under_the_threshold():
    falling = [1.0 / (1 + i) for i in range(2 * teaching.WINDOW)]
    assert not Progress(history=falling[:-1]).converged()
    assert not Progress(history=falling).converged()
    assert Progress(history=[1.0] * (2 * teaching.WINDOW)).converged()


def test_the_time_box_is_the_option_or_as_long_as_a_keyframe_took():
    from vidstyle.config import VideoConfig
    from vidstyle.pipeline.network import FALLBACK_MINUTES, training_budget

    assert training_budget(VideoConfig(train_minutes=2.5), {"0": 100.0}) == 150.0
    assert training_budget(VideoConfig(), {"0": 100.0, "40": 140.0}) == 120.0
    assert training_budget(VideoConfig(), {}) == FALLBACK_MINUTES * 60
