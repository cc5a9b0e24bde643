"""``python -m benchmarks.largemotion`` on tiny synthetic clips: the flows alone (no network),
then a stylization over the tiny network measured by the true flow."""

import benchlog

from benchmarks import largemotion


def test_the_flows_against_the_true_flow(tmp_path, capsys):
    argv = ["--flow-only", "--clips", "slow", "fast", "--scale", "0.5", "--frames", "3",
            "--cost-sizes", "64x48"]  # fmt: skip
    out, entry = benchlog.run(largemotion, argv, tmp_path, capsys)
    flows, costs = entry["tables"]
    assert [row[:3:2] for row in flows[1:]] == [
        ["slow", "dis"], ["slow", "fused"], ["slow", "farneback"],
        ["fast", "dis"], ["fast", "fused"], ["fast", "farneback"]]  # fmt: skip
    epe = {(row[0], row[2]): float(row[3]) for row in flows[1:]}
    assert epe["slow", "fused"] < 1.0 < epe["fast", "dis"]  # a slow pan is easy, 20 px is not
    assert [row[0] for row in costs[1:]] == ["dis 64x48", "fused 64x48"]
    assert entry["precision"] == "no network (flows only)"


def test_a_stylized_clip_by_the_true_flow(tmp_path, capsys):
    argv = ["--clips", "slow", "--scale", "0.25", "--frames", "3", "--steps-first", "2",
            "--steps-next", "2"]  # fmt: skip
    out, entry = benchlog.run(largemotion, argv, tmp_path, capsys,
                              make_engine=benchlog.tiny_engines())  # fmt: skip
    (table,) = entry["tables"]
    assert [row[1] for row in table[1:]] == ["defaults", "independent"]
    assert table[2][3] == "1.00"  # the independent frames over themselves
    assert all(float(row[2]) > 0 for row in table[1:])
