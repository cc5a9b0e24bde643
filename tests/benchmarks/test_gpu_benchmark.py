"""``python -m benchmarks.gpu`` is not dead code (issue 21, item 10): its smoke mode runs on the
CPU (``--cpu-check``), with the tiny engine in this process and the real script's 32-bit guard in
its own subprocess, and prints (and logs) one table with the checks in the asked order."""

import benchlog
import tensorflow as tf

from benchmarks import gpu


def test_the_smoke_mode_prints_one_table_in_order_and_its_checks_pass_on_the_cpu(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(gpu.CPU_SMOKE, "steps", 2)
    order, tiny = [], benchlog.tiny_engines()  # issue 32, item 4: the guard first, strictly placed

    def make_engine(method):
        order.append("engine")
        return tiny(method)

    def check_guard(args, side):
        order.append("guard")
        return real_guard(args, side)

    def check_device(engines):
        order.append(("soft placement", tf.config.get_soft_device_placement()))
        return real_device(engines)

    real_guard, real_device = gpu.check_guard, gpu.check_device
    monkeypatch.setattr(gpu, "check_guard", check_guard)
    monkeypatch.setattr(gpu, "check_device", check_device)
    out, entry = benchlog.run(gpu, ["--smoke", "--cpu-check"], tmp_path, capsys,
                              make_engine=make_engine)  # fmt: skip
    assert order[0] == "guard" and "engine" in order  # before this process built any engine
    assert ("soft placement", False) in order and tf.config.get_soft_device_placement()
    (table,) = entry["tables"]
    assert table[0] == ["check", "measured", "expected", "verdict"]
    names = [row[0] for row in table[1:]]
    assert names == [
        "32-bit guard 128^2",
        "device",
        "peak float32 adam 48^2", "peak float32 adam 64^2",
        "peak bfloat16 adam 48^2", "peak bfloat16 adam 64^2",
        "peak float32 lbfgs 48^2", "peak float32 lbfgs 64^2",
        "bf16 vs f32 loss 48px", "bf16 vs f32 loss 64px",
        "tiled style drop 96px",
    ]  # fmt: skip
    verdicts = {row[0]: row[3] for row in table[1:]}
    assert verdicts["tiled style drop 96px"] == "ok"  # tiles, and the same drop to 5%
    assert verdicts["32-bit guard 128^2"] == "ok", table[1]  # tiled in the subprocess
    assert "tiles of" in table[1][1]
    assert "| 32-bit guard 128^2" in out


def test_no_weights_is_one_line_not_a_traceback(capsys, tmp_path):
    code = gpu.main(["--smoke", "--weights", str(tmp_path / "missing.h5"), "--results", "-"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "missing.h5" in err[0] and "--weights" in err[0]


def test_an_op_without_a_gpu_kernel_fails_its_check_not_the_smoke():
    """Issue 32, item 4: with soft placement off an op asked of a device it cannot run on is a
    FAIL row with TensorFlow's line, not a silent CPU fallback nor a traceback."""

    def misplaced():
        with tf.device("/GPU:7"):  # no such device here: what a CPU-only kernel meets on a GPU
            return [("misplaced", str(float(tf.reduce_sum(tf.ones(3)))), "runs", "ok")]

    (row,) = gpu.checked(False, "misplaced", misplaced)
    assert row[0] == "misplaced" and row[3] == "FAIL" and "Error" in row[1]
    assert tf.config.get_soft_device_placement()  # restored
