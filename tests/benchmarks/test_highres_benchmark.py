"""``python -m benchmarks.highres`` at a tiny size: each mode in a process of its own (the point
of the script: its own peak memory), with the real weights."""

import benchlog
import pytest

from benchmarks import highres


@pytest.mark.real_weights
def test_a_two_level_ladder_in_its_own_process(tmp_path, capsys, real_weights):
    argv = ["--sizes", "64", "--modes", "multi", "--scales", "2", "--optimizer",
            "adam", "--steps", "4", "--out", str(tmp_path / "out"),
            "--weights", str(real_weights.path)]  # fmt: skip
    out, entry = benchlog.run(highres, argv, tmp_path, capsys)
    (table,) = entry["tables"]
    assert [row[:3] for row in table[1:]] == [["64", "multi", "4"]]
    assert table[1][12] == "32/64"  # the forced ladder: two levels
    assert float(table[1][5]) > 0.1  # GiB: its own process's peak
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["multi_64.png"]
    assert entry["precision"] == "float32 (auto)"
