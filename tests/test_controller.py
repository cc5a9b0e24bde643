"""The one-shot commands run through the jobs runner (tiny random-weight model): ``image``,
``folder`` and ``video`` plan tasks, claim them from a ledger in memory (a folder's same-size
images together, ``batch`` at a time) and report through the same reporter as batch jobs."""

import json

import numpy as np
import pytest
from clipmaker import write_clip
from conftest import textured
from PIL import Image
from tinyvgg import tiny_engine

from vidstyle import controller
from vidstyle.config import FolderConfig, MethodConfig, VideoConfig
from vidstyle.errors import ResumeError
from vidstyle.jobs.ledger import Ledger
from vidstyle.pipeline.folder import MANIFEST_NAME

METHOD = MethodConfig(max_size=40, steps=3)


class Recorder:
    """A reporter that keeps every call but the steps."""

    wants_steps = False

    def __init__(self, stop_after_frames: int | None = None):
        self.calls = []
        self.stop_after = stop_after_frames

    def begin(self, total, unit):
        self.calls.append(("begin", total, unit))

    def start_item(self, name, steps, lane=None):
        self.calls.append(("start", name))

    def step(self, done, loss, lane=None):
        pass

    def end_item(self, name, status, seconds):
        self.calls.append(("end", name, status))
        ended = sum(call[0] == "end" for call in self.calls)
        if self.stop_after is not None and ended >= self.stop_after:
            raise KeyboardInterrupt

    def end(self):
        self.calls.append(("end run",))

    def remaining(self, seconds):
        self.calls.append(("remaining",))


@pytest.fixture
def claims(monkeypatch):
    """Every claim from a ledger: (the ledger's file, or None in memory; the claimed keys)."""
    seen = []
    claim_group = Ledger.claim_group

    def spy(self, *args, **kwargs):
        keys = claim_group(self, *args, **kwargs)
        if keys:
            seen.append((self.path, keys))
        return keys

    monkeypatch.setattr(Ledger, "claim_group", spy)
    return seen


@pytest.fixture
def engines():
    """``make_engine`` building tiny engines that note the shape of every batch they stylize."""
    built, shapes = [], []

    def make(method):
        engine = tiny_engine(method)
        stylize = engine.stylize

        def noting(content, *args, **kwargs):
            shapes.append(content.shape)
            return stylize(content, *args, **kwargs)

        engine.stylize = noting
        built.append(engine)
        return engine

    make.built, make.shapes = built, shapes
    return make


def _save(path, height, width, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(textured(height, width, seed=seed)).save(path)


def test_image_is_one_task_claimed_from_a_ledger_in_memory(tmp_path, claims, engines):
    _save(tmp_path / "photo.png", 30, 40, 1)
    _save(tmp_path / "paint.png", 40, 40, 2)
    reporter = Recorder()
    result = controller.stylize_image(tmp_path / "photo.png", tmp_path / "paint.png",
                                      tmp_path / "out.png", METHOD, engines, reporter)  # fmt: skip
    assert result.shape == (30, 40, 3)
    assert claims == [(None, ["image"])]
    assert reporter.calls == [("begin", 1, "images"), ("start", "photo.png"),
                              ("end", "photo.png", "done"), ("end run",)]  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "paint.png", "photo.png"]


def test_a_failed_image_raises_its_own_error(tmp_path, claims, engines):
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    _save(tmp_path / "paint.png", 40, 40, 2)
    with pytest.raises(Exception, match="photo.png"):
        controller.stylize_image(tmp_path / "photo.png", tmp_path / "paint.png",
                                 tmp_path / "out.png", METHOD, engines)  # fmt: skip
    assert not (tmp_path / "out.png").exists()


def _folder(tmp_path):
    photos = tmp_path / "photos"
    for name, (height, width) in {"a.png": (30, 40), "b.png": (24, 24), "c.png": (30, 40),
                                  "d.png": (30, 40), "e.png": (24, 24),
                                  "sub/f.png": (30, 40)}.items():  # fmt: skip
        _save(photos / name, height, width, len(name))
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    _save(tmp_path / "paint.png", 40, 40, 9)
    return photos, tmp_path / "paint.png", tmp_path / "styled"


def test_a_folder_claims_same_size_images_together_at_most_batch_at_a_time(
    tmp_path, claims, engines
):
    photos, style, out = _folder(tmp_path)
    reporter = Recorder()
    config = FolderConfig(batch=2)
    results = controller.stylize_folder(photos, style, out, METHOD, config, engines, reporter)
    names = {r.item.name: r for r in results}
    assert [n for n in names] == ["a.png", "b.png", "broken.png", "c.png", "d.png", "e.png",
                                  "sub/f.png"]  # fmt: skip
    assert {n: r.status for n, r in names.items() if r.status != "done"} == {"broken.png": "failed"}
    assert "broken.png" in names["broken.png"].reason
    grouped = [list(keys) for path, keys in claims]  # a folder's tasks are keyed by name
    assert all(path is None for path, _ in claims)  # in memory: no run folder anywhere
    assert grouped == [["a.png", "c.png"], ["b.png", "e.png"], ["broken.png"],
                       ["d.png", "sub/f.png"]]  # fmt: skip
    assert engines.shapes == [(2, 30, 40, 3), (2, 24, 24, 3), (2, 30, 40, 3)]
    assert len(engines.built) == 1
    assert reporter.calls[0] == ("begin", 7, "images")
    started = [call[1] for call in reporter.calls if call[0] == "start"]
    assert started == ["a.png +1", "b.png +1", "broken.png", "d.png +1"]
    manifest = json.loads((out / MANIFEST_NAME).read_text())["outputs"]
    assert sorted(manifest) == ["a.png", "b.png", "c.png", "d.png", "e.png", "sub/f.png"]
    assert not list(tmp_path.glob("*.vidstyle-run")) and not list(out.glob("*.sqlite"))

    claims.clear()
    again = controller.stylize_folder(photos, style, out, METHOD, config, engines, Recorder())
    assert [r.status for r in again].count("skipped") == 6
    assert claims == [(None, ["broken.png"])]  # only the broken one is tried again


def test_a_folder_of_one_at_a_time_and_a_manifest_that_cannot_be_written(
    tmp_path, claims, engines, monkeypatch
):
    from vidstyle.errors import EncodeError
    from vidstyle.pipeline.folder import Manifest

    photos, style, out = _folder(tmp_path)
    record = Manifest.record

    def failing(self, output, stamp):
        if output.name == "c.png":
            raise EncodeError(self.path, "cannot record the output: disk full")
        return record(self, output, stamp)

    monkeypatch.setattr(Manifest, "record", failing)
    results = controller.stylize_folder(photos, style, out, METHOD, FolderConfig(batch=1),
                                        engines, Recorder())  # fmt: skip
    assert all(len(keys) == 1 for _, keys in claims) and len(claims) == 7
    assert all(shape[0] == 1 for shape in engines.shapes)
    status = {r.item.name: (r.status, r.reason) for r in results}
    assert status["c.png"] == ("failed", f"{out / MANIFEST_NAME}: cannot record the output: "
                               "disk full")  # fmt: skip
    assert status["d.png"] == ("done", None)


@pytest.fixture
def clip(tmp_path):
    frames = np.stack([np.roll(textured(24, 32, seed=3), 2 * i, axis=1) for i in range(4)])
    path = tmp_path / "pan.mp4"
    write_clip(path, frames, fps=8)
    _save(tmp_path / "paint.png", 40, 40, 2)
    return path, tmp_path / "paint.png"


def test_a_video_is_one_task_whose_frames_are_the_run_and_a_stale_run_needs_restart(
    tmp_path, clip, claims, engines
):
    source, style = clip
    config = VideoConfig(steps_first=2, steps_next=1, max_frames=3)
    out = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        controller.stylize_video(source, style, out, METHOD, config, engines, Recorder(2))
    assert claims == [(None, ["video"])] and not out.exists()
    other = VideoConfig(steps_first=3, steps_next=1, max_frames=3)
    with pytest.raises(ResumeError, match="another input, style or options"):
        controller.stylize_video(source, style, out, METHOD, other, engines, Recorder())
    reporter = Recorder()
    done = controller.stylize_video(source, style, out, METHOD, other, engines, reporter,
                                    restart=True)  # fmt: skip
    assert done.output == out and out.is_file() and done.summary["frames"] == 3
    assert reporter.calls[0] == ("begin", 3, "frames")
    assert [c[1] for c in reporter.calls if c[0] == "start"] == ["frame 0", "frame 1", "frame 2"]
    assert reporter.calls[-1] == ("end run",) and ("remaining",) not in reporter.calls
    assert done.report_path == tmp_path / "out.mp4.report.json"
    made = sorted(p.name for p in tmp_path.iterdir())  # no work folder left, no run folder
    assert made == ["out.mp4", "out.mp4.report.json", "paint.png", "pan.mp4"]
