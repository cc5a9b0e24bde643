"""``python -m benchmarks.video`` at tiny sizes with the tiny random-weight engine."""

import benchlog

from benchmarks import harness, video


def test_rows_of_video_options_run_and_are_logged(tmp_path, capsys):
    argv = ["--size", "32", "--frames", "3", "--steps-first", "2", "--steps-next", "2",
            "--rows", "defaults", "today", "lt:long_term=1/2", "--stills", "2"]  # fmt: skip
    out, entry = benchlog.run(video, argv, tmp_path, capsys, make_engine=benchlog.tiny_engines())
    (table,) = entry["tables"]
    assert [row[0] for row in table] == ["row", "defaults", "today", "lt"]
    assert entry["precision"] == harness.precision_label("auto") == "float32 (auto)"
    for row in table[1:]:
        mse, e_warp = float(row[1]), float(row[2])  # the yardstick measured every row
        assert mse > 0 and abs(e_warp - 3 * mse / 255**2) < 1e-3
    assert "| defaults" in out and "pan.mp4, 3 frames" in out
    head = table[0]
    for row in table[1:]:  # the yardstick's bias beside its figure, the frame against its still
        low, content_low = float(row[head.index("σ1 mse")]), float(row[head.index("σ1 content")])
        assert 0 < low < float(row[1]) and 0 < content_low < float(row[3])
        steady, steady_low = (float(row[head.index(c)]) for c in ("steady ½px", "steady σ1"))
        assert 0 < steady_low < steady  # the steady clip of the row's last result
        assert 0 < float(row[head.index("vs still")]) < 10
