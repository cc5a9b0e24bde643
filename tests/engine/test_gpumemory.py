"""Which GPU's memory is read, and how (no GPU needed): a fake NVML module and a fake
``nvidia-smi`` on the PATH that log what they are asked and print what real cards print."""

import os
import stat

import pytest

from vidstyle.engine import gpumemory

MIB = 2**20
# Two different cards, listed by NVML in an order that is not the PCI bus order
CARDS = [
    {"uuid": "GPU-bbbb2222-0000", "bus": "00000000:AF:00.0", "name": "NVIDIA A100", "free": 30000},
    {"uuid": "GPU-aaaa1111-0000", "bus": "00000000:3B:00.0", "name": "NVIDIA T4", "free": 15000},
]


class FakeNVMLError(Exception):
    pass


class FakeNVML:
    """The few pynvml calls gpumemory makes, over ``cards``; MIG devices in ``cards[i]["mig"]``."""

    def __init__(self, cards, log, fail_init=False):
        self.cards, self.log, self.fail_init = cards, log, fail_init

    def nvmlInit(self):
        self.log.append("nvmlInit")
        if self.fail_init:
            raise FakeNVMLError("NVML Shared Library Not Found")

    def nvmlShutdown(self):
        self.log.append("nvmlShutdown")

    def nvmlDeviceGetCount(self):
        return len(self.cards)

    def nvmlDeviceGetHandleByIndex(self, i):
        return self.cards[i]

    def nvmlDeviceGetPciInfo(self, card):
        return type("Pci", (), {"busId": card["bus"].encode()})()  # bytes, as older pynvml

    def nvmlDeviceGetUUID(self, card):
        return card["uuid"]

    def nvmlDeviceGetName(self, card):
        return card["name"]

    def nvmlDeviceGetMigMode(self, card):
        if "mig" not in card:
            raise FakeNVMLError("Not Supported")
        return 1, 1

    def nvmlDeviceGetMaxMigDeviceCount(self, card):
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, card, i):
        if i >= len(card["mig"]):
            raise FakeNVMLError("Not Found")
        return card["mig"][i]

    def nvmlDeviceGetMemoryInfo(self, card):
        self.log.append(("memory", card["uuid"]))
        return type("Memory", (), {"free": card["free"] * MIB, "total": 40960 * MIB})()


def _read(entry, environ=None, cards=CARDS, **kwargs):
    log = []
    nvml = FakeNVML(cards, log, **kwargs)
    return gpumemory.read(entry, environ or {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}, nvml), log


def test_visible_entries_follow_cuda_rules():
    assert gpumemory.visible_entries(None) is None
    assert gpumemory.visible_entries("") == []
    assert gpumemory.visible_entries("-1") == []
    assert gpumemory.visible_entries("2, 0") == ["2", "0"]
    assert gpumemory.visible_entries("1,foo,0") == ["1"]  # CUDA stops at an invalid entry
    assert gpumemory.visible_entries("GPU-aaaa,MIG-1234") == ["GPU-aaaa", "MIG-1234"]
    env = {"CUDA_VISIBLE_DEVICES": "3,1"}
    assert [gpumemory.physical_entry(i, env) for i in range(3)] == ["3", "1", None]
    assert gpumemory.physical_entry(1, {}) == "1"


def test_index_means_pci_bus_order_and_uuid_prefixes_match():
    reading, log = _read("0")  # PCI order: the T4 at 3B comes before the A100 at AF
    assert reading.free == 15000 * MIB and "GPU-aaaa1111" in reading.label
    assert ("memory", "GPU-aaaa1111-0000") in log and log[-1] == "nvmlShutdown"
    assert _read("1")[0].free == 30000 * MIB
    assert _read("GPU-bbbb")[0].free == 30000 * MIB  # a UUID prefix, as CUDA accepts
    missing, _ = _read("GPU-ffff")
    assert missing.free is None and "GPU-ffff" in missing.note


def test_fastest_first_order_over_different_cards_cannot_be_mapped():
    reading, _ = _read("0", environ={"CUDA_DEVICE_ORDER": "FASTEST_FIRST"})
    assert reading.free is None and "CUDA_DEVICE_ORDER" in reading.note
    same = [dict(card, name="NVIDIA A100") for card in CARDS]  # identical cards: same order
    assert _read("0", environ={}, cards=same)[0].free == 15000 * MIB


def test_mig_devices_report_their_own_memory_and_a_mig_gpu_is_not_read_whole():
    migs = [{"uuid": "MIG-1111-aaaa", "free": 4800}, {"uuid": "MIG-2222-bbbb", "free": 9700}]
    cards = [dict(CARDS[0], mig=migs), CARDS[1]]
    reading, log = _read("MIG-2222-bbbb", cards=cards)
    assert reading.free == 9700 * MIB and reading.label == "MIG-2222-bbbb"
    whole, _ = _read("1", cards=cards)  # the A100 itself, in MIG mode
    assert whole.free is None and "MIG mode" in whole.note
    assert _read("MIG-9999", cards=cards)[0].free is None


def test_nvml_failure_falls_back_to_nvidia_smi_or_says_why(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    reading, log = _read("0", fail_init=True)
    assert reading.free is None and "NVML" in reading.note and "Not Found" in reading.note


def _fake_smi(tmp_path, monkeypatch, rows: list[str]):
    """An ``nvidia-smi`` on the PATH that logs its arguments and prints ``rows``."""
    script = tmp_path / "nvidia-smi"
    lines = ["#!/bin/sh", f'echo "$@" >> {tmp_path / "smi.log"}', "cat <<'OUT'", *rows, "OUT"]
    script.write_text("\n".join(lines) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return tmp_path / "smi.log"


SMI_ROWS = [  # --query-gpu=index,uuid,pci.bus_id,name,mig.mode.current,memory.free, nounits
    "0, GPU-bbbb2222-0000, 00000000:AF:00.0, NVIDIA A100-SXM4-40GB, Disabled, 30000",
    "1, GPU-aaaa1111-0000, 00000000:3B:00.0, Tesla T4, [N/A], 15000",
]


@pytest.mark.parametrize("entry, free", [("0", 15000), ("1", 30000), ("GPU-bbbb", 30000)])
def test_nvidia_smi_is_asked_for_every_gpu_and_the_right_one_picked(
    tmp_path, monkeypatch, entry, free
):
    log = _fake_smi(tmp_path, monkeypatch, SMI_ROWS)
    same = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    reading = gpumemory.read(entry, same, nvml=_NoNVML())
    assert reading.free == free * MIB
    args = log.read_text()
    assert "--query-gpu=index,uuid,pci.bus_id,name,mig.mode.current,memory.free" in args
    assert "-i" not in args.split()  # no longer always GPU 0


@pytest.mark.parametrize("value", ["[N/A]", "[Insufficient Permissions]"])
def test_nvidia_smi_unreadable_memory_is_a_reason_not_silence(tmp_path, monkeypatch, value):
    _fake_smi(
        tmp_path, monkeypatch, [f"0, GPU-cccc, 00000000:01:00.0, NVIDIA L4, Disabled, {value}"]
    )
    reading = gpumemory.read("0", {}, nvml=_NoNVML())
    assert reading.free is None and value in reading.note


def test_nvidia_smi_mig(tmp_path, monkeypatch):
    _fake_smi(tmp_path, monkeypatch, ["0, GPU-cccc, 00000000:01:00.0, NVIDIA A100, Enabled, [N/A]"])
    assert "MIG mode" in gpumemory.read("0", {}, nvml=_NoNVML()).note
    assert "MIG device" in gpumemory.read("MIG-1234", {}, nvml=_NoNVML()).note


class _NoNVML:
    """pynvml installed but no driver library: nvmlInit fails, nvidia-smi is asked."""

    def nvmlInit(self):
        raise FakeNVMLError("NVML Shared Library Not Found")
