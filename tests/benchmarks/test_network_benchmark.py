"""``python -m benchmarks.network`` at tiny sizes: today's defaults, the network path and the
independent frames on a tiny synthetic clip, over the tiny network and a tiny painter."""

import benchlog

from benchmarks import network
from vidstyle.engine import painter
from vidstyle.pipeline import teaching


def test_the_network_path_beside_today_and_independent_frames(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(painter, "ARCHITECTURE", painter.Architecture(width=4, blocks=1))
    monkeypatch.setattr(teaching, "WINDOW", 2)  # converged after a few steps
    monkeypatch.setattr(teaching, "CONVERGED", 1e9)
    argv = ["--clips", "synth:slow", "--scale", "0.25", "--size", "32", "--frames", "3",
            "--steps-first", "2", "--train-minutes", "1", "--measure-every", "2"]  # fmt: skip
    out, entry = benchlog.run(network, argv, tmp_path, capsys,
                              make_engine=benchlog.tiny_engines())  # fmt: skip
    (table,) = entry["tables"]
    assert [row[1] for row in table[1:]] == ["network", "today", "independent"]
    network_row = dict(zip(table[0], table[1]))
    assert network_row["ratio"] != "-" and table[3][8] == "1.00"  # independent over itself
    keys, train, render = (float(s) for s in network_row["keys+train+render s"].split("+"))
    assert keys > 0 and train > 0 and render > 0
    assert all(float(v) > 0 for v in network_row["vs keys (crisp/drop/content)"].split("/"))
