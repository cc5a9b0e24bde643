"""The device setup's GPU cases without a GPU (issue 21, items 3, 6, 7 and 8): a container's MIG
device, TF32's one rule, a process set up with another GPU, Ray's GPU fractions, and a GPU that
NVML sees but TensorFlow does not. NVML, ``nvidia-smi`` and TensorFlow's device list are faked."""

import json
import os
import stat

import pytest
import tensorflow as tf
from test_device import fake_gpus  # noqa: F401 - the fixture: TensorFlow sees two fake GPUs
from test_gpumemory import CARDS, MIB, FakeNVML

from vidstyle.config import VideoConfig
from vidstyle.engine import device, gpumemory, memory
from vidstyle.errors import UsageError

REAL_READ = gpumemory.read  # before any fixture replaces it
MIGS = [{"uuid": "MIG-1111-aaaa", "free": 4800}, {"uuid": "MIG-2222-bbbb", "free": 9700}]
MIG_CARDS = [dict(CARDS[0], mig=MIGS), CARDS[1]]


def _nvml_over(monkeypatch, cards):
    nvml = FakeNVML(cards, [])
    monkeypatch.setattr(gpumemory, "read", lambda entry, env, _=None: REAL_READ(entry, env, nvml))


# --------------------------------------------------------------- item 3: MIG in a container


@pytest.mark.parametrize("cuda, expected", [(None, "MIG-2222-bbbb"), ("0", "MIG-2222-bbbb"),
                                            ("1", "1"), ("GPU-aaaa", "GPU-aaaa")])  # fmt: skip
def test_a_containers_mig_device_is_the_process_device(cuda, expected):
    environ = {"NVIDIA_VISIBLE_DEVICES": "MIG-2222-bbbb"}
    if cuda is not None:
        environ["CUDA_VISIBLE_DEVICES"] = cuda
    assert gpumemory.physical_entry(0, environ) == expected
    assert gpumemory.physical_entry(0, {"NVIDIA_VISIBLE_DEVICES": "all"}) == "0"


def test_the_budget_of_a_containers_mig_slice_is_its_own(fake_gpus, monkeypatch):  # noqa: F811
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("NVIDIA_VISIBLE_DEVICES", "MIG-2222-bbbb")
    _nvml_over(monkeypatch, MIG_CARDS)
    found = device.configure(0)
    assert found.gpu and found.free_bytes == 9700 * MIB and found.label == "MIG-2222-bbbb"
    assert found.note is None and found.capability is None  # a MIG handle has none
    budget, note = memory.budget(0.0, found, {})
    assert note is None and budget == memory.gpu_budget(9700 * MIB, None, {})


def test_an_older_mig_name_reads_the_one_mig_device_the_container_sees():
    one = [dict(CARDS[0], mig=MIGS[1:])]
    reading = REAL_READ("MIG-GPU-bbbb2222-0000/1/0", {}, FakeNVML(one, []))
    assert reading.free == 9700 * MIB and reading.label == "MIG-2222-bbbb"
    two = REAL_READ("MIG-GPU-bbbb2222-0000/1/0", {}, FakeNVML(MIG_CARDS, []))
    assert two.free is None and "no MIG device" in two.note  # two: cannot tell which


SMI_LIST = """GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-bbbb2222-0000)
  MIG 1g.5gb      Device  0: (UUID: MIG-1111-aaaa)
  MIG 2g.10gb     Device  1: (UUID: MIG-2222-bbbb)"""
SMI_TABLE = """\
+------------------+----------------------------------+-----------+-----------------------+
| GPU  GI  CI  MIG |                     Memory-Usage |        Vol|      Shared           |
|      ID  ID  Dev |                       BAR1-Usage | SM     Unc| CE ENC DEC OFA JPG    |
|==================+==================================+===========+=======================|
|  0    7   0   0  |              13MiB /  4864MiB    | 14      0 |  1   0    0    0    0 |
|                  |                 0MiB /  8191MiB  |           |                       |
+------------------+----------------------------------+-----------+-----------------------+
|  0    3   0   1  |             300MiB /  9728MiB    | 28      0 |  2   0    1    0    0 |
|                  |                 0MiB / 16383MiB  |           |                       |
+------------------+----------------------------------+-----------+-----------------------+"""


def _fake_smi(tmp_path, monkeypatch):
    """An ``nvidia-smi`` that answers ``-L``, ``--query-gpu`` and no argument as an A100 in MIG
    mode does."""
    (tmp_path / "list.txt").write_text(SMI_LIST + "\n")
    (tmp_path / "table.txt").write_text(SMI_TABLE + "\n")
    script = tmp_path / "nvidia-smi"
    script.write_text(f"""#!/bin/sh
case "$1" in
  -L) cat {tmp_path / "list.txt"} ;;
  --query-gpu=*) echo "0, GPU-bbbb2222-0000, 00000000:AF:00.0, NVIDIA A100, Enabled, [N/A]" ;;
  *) cat {tmp_path / "table.txt"} ;;
esac
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")


class _NoNVML:
    def nvmlInit(self):
        raise RuntimeError("NVML Shared Library Not Found")


def test_nvidia_smi_reads_a_mig_devices_memory_from_its_table(tmp_path, monkeypatch):
    _fake_smi(tmp_path, monkeypatch)
    reading = REAL_READ("MIG-2222-bbbb", {}, _NoNVML())
    assert reading.free == (9728 - 300) * MIB and reading.label == "MIG-2222-bbbb"
    assert REAL_READ("MIG-1111", {}, _NoNVML()).free == (4864 - 13) * MIB
    assert REAL_READ("MIG-9999", {}, _NoNVML()).free is None


# ---------------------------------------------------------------------- item 6: TF32's rule


def test_tf32_is_off_for_the_process_whatever_the_precision(monkeypatch):
    from tinyvgg import tiny_engine

    from vidstyle.config import MethodConfig

    monkeypatch.setattr(device, "_configured", {})
    tf.config.experimental.enable_tensor_float_32_execution(True)  # as TensorFlow starts
    tiny_engine(MethodConfig(precision="bfloat16"))  # its set-up takes no precision
    assert not tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(True)
    tiny_engine(MethodConfig(precision="float16"))  # every later engine applies the same rule
    assert not tf.config.experimental.tensor_float_32_execution_enabled()


def test_tf32_on_is_one_rule_for_the_process_and_the_other_setting_is_refused(monkeypatch):
    """Issue 32, item 3: the TF32 opt-in turns it on for the process; an engine asking for the
    other setting later is refused in one line, so no engine's kernels follow another's."""
    from tinyvgg import tiny_engine

    from vidstyle.config import MethodConfig

    monkeypatch.setattr(device, "_configured", {})
    try:
        device.configure()  # the set-up alone: off, nothing fixed yet
        assert not tf.config.experimental.tensor_float_32_execution_enabled()
        fast = tiny_engine(MethodConfig(tf32=True))
        assert fast.method.tf32 and tf.config.experimental.tensor_float_32_execution_enabled()
        device.configure()  # a later set-up keeps the rule in force
        assert tf.config.experimental.tensor_float_32_execution_enabled()
        with pytest.raises(UsageError, match="tf32 off asked for after TF32 was turned on in this"):
            tiny_engine(MethodConfig())
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(False)


# ------------------------------------------------------------ item 7: GPUs and Ray's fractions


def test_an_engine_without_a_device_keeps_the_gpu_the_process_set_up(fake_gpus):  # noqa: F811
    from tinyvgg import tiny_engine

    assert device.configure(1).index == 1
    engine = tiny_engine()  # Engine(method, extractor): no device given
    assert engine.device.gpu and engine.device.index == 1
    with pytest.raises(UsageError, match="one GPU per process"):
        device.configure(0)  # an explicit other index is still refused


@pytest.mark.parametrize("gpus", [0.5, 0.25, 2, 1.5])
def test_ray_takes_whole_single_gpus_per_worker_only(gpus):
    from vidstyle.jobs.settings import ClusterConfig

    with pytest.raises(UsageError, match="must be 0 or 1") as raised:
        ClusterConfig(gpus_per_worker=gpus)
    assert "\n" not in raised.value.message()
    for fine in (None, 0, 1, 1.0):
        ClusterConfig(gpus_per_worker=fine)


# --------------------------------------------------------------- item 8: the CPU fall-back


def test_a_gpu_nvml_sees_but_tensorflow_does_not_is_said_in_one_line(fake_gpus,  # noqa: F811
                                                                    monkeypatch):  # fmt: skip
    from tinyvgg import tiny_engine

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    engine = tiny_engine()
    assert not engine.device.gpu and engine.device.label == "CPU"
    note = engine.memory_note
    assert note.startswith("running on the CPU") and "GPU-bbbb2222-0000" in note
    assert "\n" not in note and engine.memory_budget is not None  # the host's budget


def test_no_gpu_anywhere_is_no_note(monkeypatch):
    monkeypatch.setattr(device, "_configured", {})
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(
        gpumemory, "read", lambda entry, env, _=None: REAL_READ(entry, env, _NoNVML())
    )
    found = device.configure()
    assert not found.gpu and found.note is None


def test_the_clip_report_names_the_device(tmp_path):
    from vidstyle.pipeline.clipout import write_report

    records = [{"cut": False, "seconds": 1.0}, {"cut": False, "seconds": 0.5}]
    path = tmp_path / "out.mp4.report.json"
    write_report(path, records, None, VideoConfig(), "float32", "GPU-bbbb2222-0000 (AF:00.0)")
    summary = json.loads(path.read_text())["summary"]
    assert summary["device"] == "GPU-bbbb2222-0000 (AF:00.0)"
    assert summary["precision"] == "float32"


@pytest.mark.parametrize("quiet", [False, True])
def test_the_cli_names_the_device_and_says_why_not_the_gpu_even_when_quiet(
    fake_gpus,  # noqa: F811
    tiny_cli,
    monkeypatch,
    tmp_path,
    quiet,
):
    from conftest import textured
    from PIL import Image
    from typer.testing import CliRunner

    from vidstyle._cli import app

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    Image.fromarray(textured(24, 32, seed=1)).save(tmp_path / "photo.png")
    Image.fromarray(textured(24, 24, seed=2)).save(tmp_path / "style.png")
    args = ["image", str(tmp_path / "photo.png"), "-s", str(tmp_path / "style.png"),
            "-o", str(tmp_path / "out.png"), "--steps", "1", "--max-size", "32"]  # fmt: skip
    result = CliRunner().invoke(app, args + (["--quiet"] if quiet else []))
    assert result.exit_code == 0, result.output
    assert "running on the CPU: NVML sees GPU GPU-bbbb2222-0000" in result.output
    assert ("device: CPU, precision" in result.output) is not quiet


# ---------------------------------- issue 32, item 6: a container's MIG device by indices

ONE_MIG_CARD = [dict(CARDS[0], mig=MIGS)]


@pytest.mark.parametrize("cuda", [None, "0"])
def test_a_containers_mig_device_named_by_indices_is_the_process_device(cuda):
    environ = {"NVIDIA_VISIBLE_DEVICES": "0:1"}
    if cuda is not None:
        environ["CUDA_VISIBLE_DEVICES"] = cuda
    assert gpumemory.physical_entry(0, environ) == "0:1"
    assert gpumemory.is_mig("0:1") and not gpumemory.is_mig("0") and not gpumemory.is_mig("0:")


def test_a_mig_device_by_indices_reports_its_own_memory_from_nvml():
    reading = REAL_READ("0:1", {}, FakeNVML(ONE_MIG_CARD, []))
    assert reading.free == 9700 * MIB and reading.label == "MIG-2222-bbbb"
    assert REAL_READ("0:0", {}, FakeNVML(ONE_MIG_CARD, [])).label == "MIG-1111-aaaa"
    # PCI bus order: the T4 (3B) is GPU 0, the A100 in MIG mode (AF) GPU 1
    assert REAL_READ("1:1", {}, FakeNVML(MIG_CARDS, [])).free == 9700 * MIB
    missing = REAL_READ("1:5", {}, FakeNVML(MIG_CARDS, []))
    assert missing.free is None and "no MIG device is 1:5" in missing.note


def test_a_mig_device_by_indices_reports_its_own_memory_from_nvidia_smi(tmp_path, monkeypatch):
    _fake_smi(tmp_path, monkeypatch)
    assert REAL_READ("0:1", {}, _NoNVML()).free == (9728 - 300) * MIB
    assert REAL_READ("0:0", {}, _NoNVML()).free == (4864 - 13) * MIB


def test_the_budget_of_a_mig_slice_by_indices_is_its_own(fake_gpus, monkeypatch):  # noqa: F811
    from vidstyle.engine import precision

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("NVIDIA_VISIBLE_DEVICES", "0:1")
    _nvml_over(monkeypatch, ONE_MIG_CARD)
    found = device.configure(0)
    assert found.gpu and found.free_bytes == 9700 * MIB and found.note is None
    assert found.label == "MIG-2222-bbbb" and found.capability is None
    environ = {"NVIDIA_VISIBLE_DEVICES": "0:1"}
    assert precision.gpu_capability(0, environ, FakeNVML(ONE_MIG_CARD, [])) == (8, 0)
