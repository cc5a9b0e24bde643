"""``python -m benchmarks.quality`` at tiny sizes, the recipe and vidstyle over the tiny network."""

import json

import benchlog
import pytest

from benchmarks import quality


def test_candidates_against_the_recipe(tmp_path, capsys):
    argv = ["--size", "32", "--recipe-steps", "4", "--checkpoint-every", "2",
            "--candidates", "adam:steps=10,scales=1",
            "--json", str(tmp_path / "q.json")]  # fmt: skip
    engines = benchlog.tiny_engines()
    out, entry = benchlog.run(quality, argv, tmp_path, capsys, make_engine=engines)
    (table,) = entry["tables"]
    assert [row[0] for row in table] == [
        "config", "recipe (tutorial)", "adam:steps=10,scales=1"]  # fmt: skip
    figures = json.loads((tmp_path / "q.json").read_text())
    assert [c[0] for c in figures["recipe"]["curve"]] == [2, 4]  # the checkpoints
    for row in figures["candidates"]:
        assert row["steps_run"] == 10 and row["loss"] > 0
        assert row["loss_ratio"] == row["loss"] / figures["recipe"]["loss"]
    assert entry["precision"] == "float32 (auto); recipe float32"


def test_a_bad_candidate_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as error:
        quality.main(["--candidates", "adam:stepz=3", "--results", "-"])
    assert error.value.code == 2
    assert "stepz" in capsys.readouterr().err
