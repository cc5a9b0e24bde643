"""``python -m benchmarks.step`` at tiny sizes, the recipe and vidstyle over the tiny network."""

import json

import benchlog

from benchmarks import step


def test_recipe_against_vidstyle_per_precision(tmp_path, capsys):
    argv = ["--sizes", "32", "--steps", "10", "--repeats", "1", "--precisions", "auto", "bfloat16",
            "--json", str(tmp_path / "step.json")]  # fmt: skip
    out, entry = benchlog.run(step, argv, tmp_path, capsys, make_engine=benchlog.tiny_engines())
    (table,) = entry["tables"]
    assert table[0][:5] == ["size", "precision", "recipe s/step", "vidstyle s/step", "ratio"]
    assert [row[1] for row in table[1:]] == ["float32 (auto)", "bfloat16"]
    for row in json.loads((tmp_path / "step.json").read_text()):
        recipe, ours = row["recipe_s_per_step"], row["vidstyle_s_per_step"]
        assert recipe > 0 and ours >= 0  # 0: tiny steps under the setup's noise (busy machine)
        assert row["ratio"] == (recipe / ours if ours else None)
        assert len(row["runs"]["recipe"]) == 1  # one repeat, interleaved
    assert entry["precision"] == "float32 (auto); bfloat16; recipe float32"


def test_new_sizes_show_no_retrace(tmp_path, capsys):
    argv = ["--new-sizes", "32", "48", "--repeats", "1"]
    out, entry = benchlog.run(step, argv, tmp_path, capsys, make_engine=benchlog.tiny_engines())
    (table,) = entry["tables"]
    assert [row[0] for row in table] == ["size", "32", "48"]
    assert table[1][1] == table[2][1]  # the second size traced nothing new
