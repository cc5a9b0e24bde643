"""``python -m benchmarks.precision`` at tiny sizes over the tiny network."""

import benchlog

from benchmarks import harness, precision


def test_stills_and_clip_in_two_precisions_scored_in_float32(tmp_path, capsys):
    argv = ["--contents", str(harness.CONTENT), "--style", str(harness.STYLE), "--size", "32",
            "--steps", "2", "--precisions", "bfloat16", "--clip", str(harness.CLIP),
            "--clip-size", "32", "--frames", "2", "--steps-first", "2",
            "--steps-next", "2"]  # fmt: skip
    out, entry = benchlog.run(
        precision, argv, tmp_path, capsys, make_engine=benchlog.tiny_engines()
    )
    stills, clip = entry["tables"]
    assert [row[2] for row in stills[1:]] == ["float32", "bfloat16"]  # float32 added: the reference
    assert stills[1][6] == "1.000" and stills[1][8] == "1.000"  # float32 over itself
    assert [row[2] for row in clip[1:]] == ["float32", "bfloat16"]
    assert all(float(row[5]) > 0 for row in clip[1:])  # the yardstick measured both
    assert entry["precision"] == "float32; bfloat16 (scored in float32)"
