"""``python -m benchmarks.bias``: the yardstick's bias on a steady clip (no network)."""

import benchlog

from benchmarks import bias, harness


def test_the_yardstick_charges_the_truth_under_sub_pixel_motion(tmp_path, capsys):
    argv = [str(harness.STYLE), "--width", "32"]
    out, entry = benchlog.run(bias, argv, tmp_path, capsys)
    (table,) = entry["tables"]
    assert [row[0] for row in table[1:]] == ["(0.5, 0.5)", "(0.3, 0.1)", "(1.5, 0.5)",
                                             "(2.5, 1)", "(2, 1)"]  # fmt: skip
    truth, bilinear = table[0].index("truth known"), table[0].index("bilinear known")
    assert all(float(row[bilinear]) == 0 for row in table[1:])  # its own warp is free
    assert all(float(row[truth]) > 10 for row in table[1:5])  # the steady truth is not
    assert float(table[5][truth]) == 0  # ... under a whole-pixel shift it is
    assert entry["precision"] == "no network"
