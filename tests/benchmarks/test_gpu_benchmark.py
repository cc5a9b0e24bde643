"""``python -m benchmarks.gpu`` is not dead code (issue 21, item 10): its smoke mode runs on the
CPU (``--cpu-check``), with the tiny engine in this process and the real script's 32-bit guard in
its own subprocess, and prints (and logs) one table with the checks in the asked order."""

import benchlog

from benchmarks import gpu


def test_the_smoke_mode_prints_one_table_in_order_and_its_checks_pass_on_the_cpu(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(gpu.CPU_SMOKE, "steps", 2)
    out, entry = benchlog.run(gpu, ["--smoke", "--cpu-check"], tmp_path, capsys,
                              make_engine=benchlog.tiny_engines())  # fmt: skip
    (table,) = entry["tables"]
    assert table[0] == ["check", "measured", "expected", "verdict"]
    names = [row[0] for row in table[1:]]
    assert names == [
        "device",
        "peak float32 adam 48^2", "peak float32 adam 64^2",
        "peak bfloat16 adam 48^2", "peak bfloat16 adam 64^2",
        "peak float32 lbfgs 48^2", "peak float32 lbfgs 64^2",
        "bf16 vs f32 loss 48px", "bf16 vs f32 loss 64px",
        "tiled style drop 96px",
        "32-bit guard 128^2",
    ]  # fmt: skip
    verdicts = {row[0]: row[3] for row in table[1:]}
    assert verdicts["tiled style drop 96px"] == "ok"  # tiles, and the same drop to 5%
    assert verdicts["32-bit guard 128^2"] == "ok", table[-1]  # tiled in the subprocess
    assert "tiles of" in table[-1][1]
    assert "| 32-bit guard 128^2" in out


def test_no_weights_is_one_line_not_a_traceback(capsys, tmp_path):
    code = gpu.main(["--smoke", "--weights", str(tmp_path / "missing.h5"), "--results", "-"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "missing.h5" in err[0] and "--weights" in err[0]
