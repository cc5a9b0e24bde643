"""Same-size images of a folder optimized together as one batch (tiny random-weight model)."""

from pathlib import Path

import numpy as np
import pytest
from conftest import textured
from PIL import Image
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.errors import DecodeError
from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.plan import Task
from vidstyle.pipeline.image import stylize_files

METHOD = MethodConfig(max_size=40, steps=20)


def _claimed_groups(keys: dict, size: int) -> list[list[str]]:
    """Every grouped claim of a ledger in memory holding tasks ``keys`` (key -> group), in the
    order they are claimed."""
    ledger = Ledger(None)
    tasks = [Task(key=key, job="j", kind="image", source=Path(key), style=Path("s.png"),
                  output=Path("out") / key, position=n)
             for n, key in enumerate(keys)]  # fmt: skip
    ledger.sync(tasks)
    found = []
    while claimed := ledger.claim_group(size=size, group=keys.get):
        found.append(claimed)
    ledger.close()
    return found


def test_grouped_claims_collect_equal_keys_up_to_the_size_in_first_seen_order():
    keys = {"a": 1, "b": 2, "c": 1, "d": 1, "e": None, "f": 2, "g": 1}
    found = _claimed_groups(keys, 2)
    assert found == [["a", "c"], ["b", "f"], ["d", "g"], ["e"]]
    assert _claimed_groups(dict.fromkeys("abcdefg", 1), 1) == [[n] for n in "abcdefg"]


@pytest.fixture
def spy_engine():
    engine = tiny_engine(METHOD)
    calls = []
    stylize = engine.stylize

    def recording(content, *args, **kwargs):
        calls.append(content.shape)
        return stylize(content, *args, **kwargs)

    engine.stylize = recording
    return engine, calls


def _photos(tmp_path):
    paths = []
    for name, (height, width), seed in (("a.png", (30, 40), 1), ("b.png", (24, 24), 2),
                                        ("c.png", (30, 40), 3)):  # fmt: skip
        Image.fromarray(textured(height, width, seed)).save(tmp_path / name)
        paths.append(tmp_path / name)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return paths + [broken]


def test_same_size_images_run_as_one_batch_with_the_results_they_get_alone(tmp_path, spy_engine):
    engine, calls = spy_engine
    style = textured(40, 40, seed=9)
    photos = _photos(tmp_path)
    jobs = [(p, tmp_path / f"out_{p.name}") for p in photos]
    outcomes = stylize_files(engine, jobs, style)
    assert sorted(calls) == [(1, 24, 24, 3), (2, 30, 40, 3)]  # a and c together, b alone
    assert isinstance(outcomes[3][1], DecodeError) and "broken.png" in outcomes[3][1].message()
    assert not (tmp_path / "out_broken.png").exists()
    alone = tiny_engine(METHOD)
    for (photo, output), (result, error) in zip(jobs[:3], outcomes[:3], strict=True):
        assert error is None
        single = stylize_files(alone, [(photo, tmp_path / "single.png")], style)[0][0]
        assert np.abs(result.astype(int) - single.astype(int)).max() <= 1
        assert np.array_equal(np.asarray(Image.open(output)), result)


def test_a_batch_too_large_for_memory_runs_one_image_at_a_time(tmp_path, spy_engine):
    engine, calls = spy_engine
    engine.memory_budget = int(1.5 * 30 * 40 * 3.0 * 2**30 / 1e6)  # one 30x40 image, not two
    photos = _photos(tmp_path)
    jobs = [(p, tmp_path / f"out_{p.name}") for p in (photos[0], photos[2])]
    outcomes = stylize_files(engine, jobs, textured(40, 40, seed=9))
    assert calls == [(1, 30, 40, 3), (1, 30, 40, 3)]
    assert all(error is None for _, error in outcomes)


def test_an_output_that_cannot_be_written_fails_before_its_input_is_read(tmp_path, spy_engine):
    engine, calls = spy_engine
    photos = _photos(tmp_path)
    (tmp_path / "blocker").write_text("a file")
    blocked = tmp_path / "blocker"
    jobs = [(photos[0], blocked / "a.png"), (photos[1], tmp_path / "b.gif"),
            (photos[3], blocked / "broken.png"), (photos[2], tmp_path / "c.tif")]  # fmt: skip
    outcomes = stylize_files(engine, jobs, textured(40, 40, seed=9))
    assert "blocker is a file" in outcomes[0][1].message()
    assert "cannot write '.gif' images" in outcomes[1][1].message()
    assert "blocker is a file" in outcomes[2][1].message()  # not the decode error: never read
    assert outcomes[3][1] is None and calls == [(1, 30, 40, 3)]
    assert Image.open(tmp_path / "c.tif").format == "TIFF"


def test_a_batch_that_runs_out_of_device_memory_is_retried_one_image_at_a_time(tmp_path):
    import tensorflow as tf

    from vidstyle.errors import TooLargeError

    engine = tiny_engine(METHOD)
    calls = []
    optimize = engine._optimize

    def small_device(content, *args):  # room for one 30x40 image only
        calls.append(content.shape)
        if content.shape[0] > 1 or content.shape[1:3] == (24, 24) and len(calls) > 3:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
        return optimize(content, *args)

    engine._optimize = small_device
    photos = _photos(tmp_path)[:3]
    jobs = [(p, tmp_path / f"out_{p.name}") for p in (photos[0], photos[2], photos[1])]
    outcomes = stylize_files(engine, jobs, textured(40, 40, seed=9))
    assert calls[:3] == [(2, 30, 40, 3), (1, 30, 40, 3), (1, 30, 40, 3)]
    assert outcomes[0][1] is None and outcomes[1][1] is None  # each succeeded alone
    assert (tmp_path / "out_a.png").exists() and (tmp_path / "out_c.png").exists()
    failed = outcomes[2][1]  # b.png ran out of memory alone: its own one-line error
    assert isinstance(failed, TooLargeError) and failed.path == photos[1]
    assert "b.png: the device ran out of memory" in failed.message()


def test_a_quiet_run_gives_the_engine_no_on_step(tmp_path, spy_engine):
    from vidstyle.progress import NullReporter, PlainReporter, step_callback

    engine, _ = spy_engine
    seen = []
    stylize = engine.stylize
    engine.stylize = lambda request: seen.append(request.on_step) or stylize(request)
    photo = _photos(tmp_path)[1]
    stylize_files(engine, [(photo, tmp_path / "out.png")], textured(40, 40, seed=9), NullReporter())
    assert seen == [None]  # nothing will read the loss back from the device
    assert step_callback(NullReporter()) is None
    plain = PlainReporter(None)
    assert step_callback(plain) == plain.step
