"""``python -m benchmarks.scale`` with the in-process runner (0 workers) over the tiny network:
a real night through ``vidstyle.batch.run``, its ledger read for the rates."""

import json

import benchlog

from benchmarks import scale


def test_a_night_in_process(tmp_path, capsys):
    argv = ["--workers", "0", "--tasks", "3", "--size", "32", "--steps", "2",
            "--json", str(tmp_path / "s.json")]  # fmt: skip
    out, entry = benchlog.run(scale, argv, tmp_path, capsys, make_engine=benchlog.tiny_engines())
    (table,) = entry["tables"]
    assert [row[:2] for row in table[1:]] == [["in-process", "3"]]
    (row,) = json.loads((tmp_path / "s.json").read_text())
    assert row["tasks"] == 3 and row["failed"] == 0 and row["per_hour"] > 0
    assert table[1][5] == "1.00x"
