"""``benchmarks/gpu.py`` is not dead code (issue 21, item 10): its smoke mode runs on the CPU
(``--cpu-check``), with the tiny engine in this process and the real script's 32-bit guard in its
own subprocess, and prints one table with the checks in the asked order."""

import importlib.util
from pathlib import Path

from tinyvgg import tiny_engine

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("gpu_benchmark", ROOT / "benchmarks" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_smoke_mode_prints_one_table_in_order_and_its_checks_pass_on_the_cpu(
    monkeypatch, capsys
):
    gpu = _script()
    monkeypatch.setattr(gpu, "build_engine", lambda method, source: tiny_engine(method))
    monkeypatch.setitem(gpu.CPU_SMOKE, "steps", 2)
    code = gpu.main(["--smoke", "--cpu-check"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["check", "measured", "expected", "verdict"]
    names = [line.split("  ")[0].strip() for line in lines[1:]]
    assert names == [
        "device",
        "peak float32 adam 48^2", "peak float32 adam 64^2",
        "peak bfloat16 adam 48^2", "peak bfloat16 adam 64^2",
        "peak float32 lbfgs 48^2", "peak float32 lbfgs 64^2",
        "bf16 vs f32 loss 48px", "bf16 vs f32 loss 64px",
        "tiled style drop 96px",
        "32-bit guard 128^2",
    ]  # fmt: skip
    verdicts = {name: line.split()[-1] for name, line in zip(names, lines[1:])}
    assert verdicts["tiled style drop 96px"] == "ok"  # tiles, and the same drop to 5%
    assert verdicts["32-bit guard 128^2"] == "ok", lines[-1]  # tiled in the subprocess
    assert "tiles of" in lines[-1]
    assert code == 0


def test_no_weights_is_one_line_not_a_traceback(monkeypatch, capsys, tmp_path):
    gpu = _script()
    code = gpu.main(["--smoke", "--weights", str(tmp_path / "missing.h5")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "missing.h5" in err[0] and "--weights" in err[0]
