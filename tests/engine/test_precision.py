"""``--precision auto``: the choice for faked CPU flags and GPU compute capabilities."""

from __future__ import annotations

import pytest

from vidstyle.config import MethodConfig
from vidstyle.engine import precision
from vidstyle.engine.precision import Hardware, choose, cpu_flags, gpu_capability
from vidstyle.errors import UsageError
from vidstyle.pipeline.fingerprint import fingerprint

AMX_XEON = "processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_tile amx_bf16 amx_int8\n"
EPYC_ZEN3 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma sha_ni\n"
ZEN4 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"


def test_cpu_flags_are_read_from_cpuinfo():
    assert cpu_flags(AMX_XEON) == ("amx_bf16", "avx512_bf16")
    assert cpu_flags(ZEN4) == ("avx512_bf16",)
    assert cpu_flags(EPYC_ZEN3) == ()
    assert cpu_flags("") == ()  # no flags line (not Linux, or an odd kernel)


@pytest.mark.parametrize(
    ("hardware", "expected"),
    [
        (Hardware(None, ("amx_bf16",)), "bfloat16"),
        (Hardware(None, ("avx512_bf16",)), "bfloat16"),
        (Hardware(None, ()), "float32"),  # a CPU without bf16 hardware still gets float32
        (Hardware((9, 0), ()), "bfloat16"),  # H100
        (Hardware((8, 0), ()), "bfloat16"),  # A100
        (Hardware((8, 6), ("amx_bf16",)), "bfloat16"),
        (Hardware((7, 5), ("amx_bf16",)), "float16"),  # T4: the GPU decides, not the CPU
        (Hardware((7, 0), ()), "float16"),  # V100
        (Hardware((6, 1), ("amx_bf16",)), "float32"),  # Pascal
    ],
)
def test_auto_picks_what_the_hardware_multiplies(hardware, expected):
    choice = choose("auto", hardware)
    assert choice.precision == expected
    assert choice.reason  # shown in the plan and the summary


def test_an_explicit_precision_is_kept_and_mixed_says_what_it_means():
    for asked in ("float32", "bfloat16", "float16"):
        assert choose(asked, Hardware((9, 0), ("amx_bf16",))).precision == asked
    mixed = choose("mixed", Hardware(None, ("amx_bf16",)))
    assert mixed.precision == "bfloat16"
    assert mixed.reason.startswith("mixed: ")
    assert choose("mixed", Hardware(None, ())).precision == "float32"


class FakeNvml:
    """``pynvml`` with two GPUs, listed out of PCI order: bus 0x81 is an A100, 0x01 a T4."""

    def __init__(self):
        self.gpus = [("GPU-aaaa", "00000000:81:00.0", (8, 0)), ("GPU-bbbb", "00000000:01:00.0",
                                                                  (7, 5))]  # fmt: skip

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i):
        return self.gpus[i]

    def nvmlDeviceGetUUID(self, handle):
        return handle[0].encode()

    def nvmlDeviceGetPciInfo(self, handle):
        return type("Pci", (), {"busId": handle[1].encode()})

    def nvmlDeviceGetCudaComputeCapability(self, handle):
        return handle[2]


def test_gpu_capability_follows_pci_order_and_cuda_visible_devices():
    nvml = FakeNvml()
    assert gpu_capability(0, {}, nvml) == (7, 5)  # GPU 0 in PCI bus order is the T4
    assert gpu_capability(1, {}, nvml) == (8, 0)
    assert gpu_capability(0, {"CUDA_VISIBLE_DEVICES": "1"}, nvml) == (8, 0)
    assert gpu_capability(0, {"CUDA_VISIBLE_DEVICES": "GPU-aaaa"}, nvml) == (8, 0)
    assert gpu_capability(0, {"CUDA_VISIBLE_DEVICES": "MIG-1234"}, nvml) == (8, 0)
    assert gpu_capability(0, {"CUDA_VISIBLE_DEVICES": ""}, nvml) is None
    assert gpu_capability(0, {"CUDA_VISIBLE_DEVICES": "-1"}, nvml) is None


def test_no_driver_means_no_gpu(monkeypatch):
    class Broken(FakeNvml):
        def nvmlInit(self):
            raise RuntimeError("NVML Shared Library Not Found")

    monkeypatch.setattr(precision.shutil, "which", lambda name: None)  # and no nvidia-smi
    assert gpu_capability(0, {}, Broken()) is None


def test_resolve_reads_this_machine_once(monkeypatch):
    monkeypatch.delenv("VIDSTYLE_AUTO_PRECISION", raising=False)
    monkeypatch.setattr(precision, "_resolved", {})
    monkeypatch.setattr(precision, "cpu_flags", lambda: ("amx_bf16",))
    monkeypatch.setattr(precision, "gpu_capability", lambda gpu: None)
    assert precision.resolve("auto").precision == "bfloat16"
    monkeypatch.setattr(precision, "cpu_flags", lambda: ())
    assert precision.resolve("auto").precision == "bfloat16"  # cached: the chip did not change
    assert precision.resolve("float32").precision == "float32"


def test_the_environment_pins_what_auto_means(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: ("amx_bf16",))
    monkeypatch.setenv("VIDSTYLE_AUTO_PRECISION", "float32")
    assert precision.resolve("auto").precision == "float32"
    assert MethodConfig().precision == "float32"  # a config holds what runs, never "auto"
    monkeypatch.setenv("VIDSTYLE_AUTO_PRECISION", "bfloat16")
    assert MethodConfig(precision="mixed").precision == "bfloat16"
    assert MethodConfig(precision="float32").precision == "float32"  # asked for: kept
    assert precision.explain("bfloat16") == "auto: VIDSTYLE_AUTO_PRECISION"  # said once
    monkeypatch.setenv("VIDSTYLE_AUTO_PRECISION", "fast")
    with pytest.raises(UsageError, match="VIDSTYLE_AUTO_PRECISION"):
        MethodConfig()


def test_the_fingerprint_changes_with_the_precision(tmp_path):
    source = tmp_path / "a.png"
    source.write_bytes(b"x")
    prints = {fingerprint(source, "ab" * 32, MethodConfig(precision=name))
              for name in ("float32", "bfloat16", "float16")}  # fmt: skip
    assert len(prints) == 3
