"""``python -m benchmarks.frames`` at a tiny size over the tiny network."""

import json

import benchlog

from benchmarks import frames


def test_candidates_take_turns_over_the_later_frames(tmp_path, capsys):
    argv = ["--size", "32", "--frames", "3", "--steps-first", "2", "--precision", "float32",
            "--candidates", "lbfgs2", "adam3-lr0.05", "--cache", str(tmp_path / "cache"),
            "--json", str(tmp_path / "f.json")]  # fmt: skip
    out, entry = benchlog.run(frames, argv, tmp_path, capsys, make_engine=benchlog.tiny_engines())
    (table,) = entry["tables"]
    assert [row[0] for row in table] == ["candidate", "lbfgs2", "adam3-lr0.05"]
    assert table[1][4] == "1.00x"  # the first is the reference
    figures = json.loads((tmp_path / "f.json").read_text())
    assert [f["frames"] for f in figures.values()] == [2, 2]
    assert figures["adam3-lr0.05"]["evals"] == 3
    assert all(0 < f["optimizing"] <= f["seconds"] for f in figures.values())
    assert out.count("after 1 later frames") == 1 and "after 2 later frames" in out
    assert len(list((tmp_path / "cache").iterdir())) == 2  # the first and last frame, kept
    head = table[0]
    for f in figures.values():  # the yardstick's bias beside it, the last frame's still
        assert 0 < f["low_mse"] < f["mse"] and 0 < f["content_low_mse"] < f["content_mse"]
        assert f["steady_mse"] > 0 and 0 < f["vs_still"] < 10
    assert "vs still" in head and "steady" in head
