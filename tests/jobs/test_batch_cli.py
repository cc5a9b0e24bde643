"""`vidstyle batch run` and `vidstyle batch status` through the CLI (tiny random-weight model)."""

import json

import pytest
from conftest import shared_tiny_engine
from ledgerseed import seed_speed
from nightmaker import ledger_rows, make_night
from tinyvgg import tiny_engine
from typer.testing import CliRunner

from vidstyle._cli import app

runner = CliRunner()


@pytest.fixture
def night(tmp_path, monkeypatch):
    monkeypatch.setattr("vidstyle.batch.default_engine_factory", lambda weights: tiny_engine)
    return make_night(tmp_path)


def test_dry_run_prints_the_plan_and_runs_nothing(night, tmp_path):
    result = runner.invoke(app, ["batch", "run", str(night), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "9 tasks, 42 steps, about" in result.output
    assert not (tmp_path / "night.vidstyle-run").exists() and not (tmp_path / "styled").exists()


def test_run_then_status_with_exit_codes(night, monkeypatch):
    factory = shared_tiny_engine  # the session's tiny engines (nothing here is timed)
    monkeypatch.setattr("vidstyle.batch.default_engine_factory", lambda weights: factory)
    before = runner.invoke(app, ["batch", "status", str(night)])
    assert before.exit_code == 3 and "not started yet" in before.output
    done = runner.invoke(app, ["batch", "run", str(night), "--quiet"])
    assert done.exit_code == 0, done.output
    status = runner.invoke(app, ["batch", "status", str(night), "--json"])
    assert status.exit_code == 0
    data = json.loads(status.output)
    zeros = dict.fromkeys(("done", "running", "stopped", "pending", "failed", "cancelled"), 0)
    assert data["exit_code"] == 0 and [j["counts"] for j in data["jobs"]] == [
        zeros | {"done": 8},
        zeros | {"done": 1},
    ]
    assert data["schema"] == 1 and data["counts"] == zeros | {"done": 9}
    table = runner.invoke(app, ["batch", "status", str(night)])
    assert "holiday" in table.output and "beach" in table.output


def test_a_bad_job_file_is_one_line_and_exit_2(night):
    night.write_text(night.read_text().replace("max_size = 32", "max_sise = 32"))
    result = runner.invoke(app, ["batch", "run", str(night)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {night}: [defaults]: unknown key 'max_sise' (did you mean 'max_size'?)"
    ]


def test_a_deadline_that_leaves_no_time_for_some_tasks_exits_3(night):
    bad = runner.invoke(app, ["batch", "run", str(night), "--until", "25:00"])
    assert bad.exit_code == 2 and "cannot read --until '25:00'" in bad.output
    # A measured speed at which a.jpg needs 1000 s, "b b.png" 875 s and the clip 2188 s: 950 s
    # admit b's four tasks; then nothing fits, and the clip starts all the same (it stops between
    # frames at the deadline; here it ends long before); a's images wait for the next run.
    seed_speed(night, 1000 / (4 * 768))
    result = runner.invoke(app, ["batch", "run", str(night), "--for", "15m50s", "--quiet"])
    assert result.exit_code == 3 and "deadline" in result.output
    assert {(r.kind, r.source.rsplit("/", 1)[-1], r.status) for r in ledger_rows(night)} == {
        ("image", "b b.png", "done"), ("image", "a.jpg", "pending"), ("video", "beach.mp4", "done")
    }  # fmt: skip


def test_a_sticky_gpu_fault_stops_the_run_and_says_how_to_go_on(night, monkeypatch):
    import tensorflow as tf

    def broken(content, *args, **kwargs):  # the GPU context is broken: every call would fail
        raise tf.errors.InternalError(None, None, "CUDA_ERROR_ILLEGAL_ADDRESS: illegal address")

    def factory(method):
        engine = tiny_engine(method)
        engine.stylize = broken
        return engine

    monkeypatch.setattr("vidstyle.batch.default_engine_factory", lambda weights: factory)
    result = runner.invoke(app, ["batch", "run", str(night), "--quiet"])
    assert result.exit_code == 3, result.output  # work remains
    line = "stopped by a GPU fault this process cannot recover from: run the same command again"
    assert line in " ".join(result.output.split())
    assert sorted(r.attempts for r in ledger_rows(night)) == [0] * 8 + [1]  # one task tried
