"""``python -m benchmarks.tf32`` at a tiny size over the tiny network."""

import benchlog

from benchmarks import tf32


def test_emulated_tf32_against_float32(tmp_path, capsys):
    argv = ["--size", "32", "--iterations", "10", "--optimizer", "adam"]
    out, entry = benchlog.run(tf32, argv, tmp_path, capsys, make_engine=benchlog.tiny_engines())
    (table,) = entry["tables"]
    assert [row[0] for row in table] == ["iterations", "0", "5", "10"]
    start = abs(float(table[1][3]))
    assert 0 < start < 1e-2  # the rounding shows, a little
    assert entry["precision"] == "float32 against emulated TF32"
