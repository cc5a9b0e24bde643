"""``python -m benchmarks.memory`` at tiny sizes: its children are fresh processes with the real
weights (the script's point is a process of its own per size)."""

import benchlog
import pytest

from benchmarks import memory


@pytest.mark.real_weights
def test_the_baseline_in_a_process_of_its_own(tmp_path, capsys, real_weights):
    argv = ["--sizes", "--steps", "1", "--weights", str(real_weights.path)]
    out, entry = benchlog.run(memory, argv, tmp_path, capsys)
    (table,) = entry["tables"]
    assert [row[0] for row in table] == ["size", "64x64 (base)"]
    assert float(table[1][1]) > 300  # MiB: TensorFlow and VGG19's weights at least
    assert entry["precision"] == "float32 (auto)"  # the children inherit the tests' pinned auto
