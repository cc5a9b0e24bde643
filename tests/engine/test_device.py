"""Device setup before TensorFlow touches a GPU (no GPU needed: TensorFlow's device calls are
patched to return a fake GPU and to log the order in which they are made)."""

import pytest
import tensorflow as tf
from test_gpumemory import CARDS, MIB, FakeNVML
from tinyvgg import tiny_vgg

from vidstyle.config import MethodConfig
from vidstyle.engine import device, gpumemory, memory
from vidstyle.engine.request import Request
from vidstyle.errors import UsageError

FAKE_GPUS = [tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU"),
             tf.config.PhysicalDevice("/physical_device:GPU:1", "GPU")]  # fmt: skip


@pytest.fixture
def fake_gpus(monkeypatch):
    """TensorFlow sees two GPUs; every device call and the memory read are logged, in order."""
    log = []
    monkeypatch.setattr(device, "_configured", {})
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    monkeypatch.delenv("TF_DEVICE_MIN_SYS_MEMORY_IN_MB", raising=False)
    monkeypatch.delenv("NVIDIA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")
    nvml = FakeNVML(CARDS, log)
    real_read = gpumemory.read
    monkeypatch.setattr(gpumemory, "read", lambda entry, env, _=None: real_read(entry, env, nvml))

    def listed(kind=None):
        log.append("list")
        return list(FAKE_GPUS) if kind == "GPU" else []

    def visible(devices, kind=None):
        log.append(("visible", [d.name for d in devices]))

    def growth(gpu, enable):
        log.append(("growth", gpu.name, enable))

    def tf32(enabled):
        log.append(("tf32", enabled))

    monkeypatch.setattr(tf.config, "list_physical_devices", listed)
    monkeypatch.setattr(tf.config, "set_visible_devices", visible)
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", growth)
    monkeypatch.setattr(tf.config.experimental, "enable_tensor_float_32_execution", tf32)
    return log


def test_budget_is_read_before_tensorflow_initializes_the_one_gpu_with_growth(fake_gpus):
    import os

    from vidstyle.engine import model
    from vidstyle.engine.optimize import build_engine

    original = model.keras_vgg19
    model.keras_vgg19 = lambda source: fake_gpus.append("vgg19") or tiny_vgg()
    try:
        engine = build_engine(MethodConfig(), None)
    finally:
        model.keras_vgg19 = original
    memory_read = fake_gpus.index(("memory", "GPU-bbbb2222-0000"))  # CUDA_VISIBLE_DEVICES=1,0
    order = [fake_gpus.index(e) for e in ("nvmlShutdown", "list")]
    assert memory_read < order[0] < order[1]  # read while TensorFlow has not even listed GPUs
    setup = fake_gpus[order[1] + 1 : order[1] + 4]
    assert setup == [("visible", ["/physical_device:GPU:0"]),  # only this process's GPU 0
                     ("growth", "/physical_device:GPU:0", True), ("tf32", False)]  # fmt: skip
    assert fake_gpus.index("vgg19") > order[1] + 3  # weights placed after the setup
    assert os.environ["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert engine.device.gpu and engine.device.free_bytes == 30000 * MIB
    # the CUDA context (0.6 GiB), TF's reserve (no capability read: 1800 MiB), workspaces
    expected = 30000 * MIB - int(0.6 * memory.GIB) - 1800 * MIB - 512 * MIB
    assert engine.memory_budget == expected and engine.memory_note is None


def test_configure_is_idempotent_and_keeps_tf32_off(fake_gpus):
    environ = {"CUDA_VISIBLE_DEVICES": "1,0"}
    first = device.configure(0, environ)  # no precision: the TF32 rule is the same for all
    assert environ["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"  # the environment given is set up
    calls = len(fake_gpus)
    assert device.configure(0) is first
    assert fake_gpus[calls:] == [("tf32", False)]  # nothing read or set up again; TF32 off
    with pytest.raises(UsageError, match="one GPU per process"):
        device.configure(1)


def test_a_gpu_tensorflow_already_initialized_gives_a_note_not_a_wrong_budget(
    fake_gpus, monkeypatch
):
    def initialized(devices, kind=None):
        raise RuntimeError("Visible devices cannot be modified after being initialized")

    monkeypatch.setattr(tf.config, "set_visible_devices", initialized)
    found = device.configure()
    assert found.gpu and found.free_bytes is None and "initialized" in found.note
    budget, note = memory.budget(0.0, found)
    assert budget is None and "{memory_limit}" in note
    assert memory.budget(3.0, found) == (3 * memory.GIB, None)


def test_a_gpu_index_the_process_does_not_see_is_a_usage_error(fake_gpus):
    with pytest.raises(UsageError, match="sees 2 GPU"):
        device.configure(2)


def test_unreadable_budget_is_a_note_the_engine_keeps(fake_gpus, monkeypatch):
    from tinyvgg import tiny_engine

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-ffff")  # a UUID NVML does not know
    engine = tiny_engine()
    assert engine.memory_budget is None
    assert "GPU-ffff" in engine.memory_note and "{memory_limit}" in engine.memory_note


def test_tf32_stays_off_for_every_engine_and_is_not_switched_per_run(fake_gpus):
    import numpy as np
    from tinyvgg import tiny_engine

    exact, mixed = tiny_engine(), tiny_engine(MethodConfig(precision="float16"))
    switched = [entry for entry in fake_gpus if entry[0] == "tf32"]
    assert switched and set(switched) == {("tf32", False)}  # off, for the 16-bit engine too
    assert exact.extractor.compute_dtype == tf.float32
    assert mixed.extractor.compute_dtype == tf.float16
    image = np.zeros((16, 16, 3), np.uint8)
    style = (np.arange(16 * 16 * 3) % 251).reshape(16, 16, 3).astype(np.uint8)
    for engine in (exact, mixed, exact):
        del fake_gpus[:]
        out = engine.stylize(Request(image, engine.style_targets(style), steps=3))
        assert fake_gpus == []  # the process's one rule, set up once: nothing switched here
        assert np.abs(out.astype(int) - image).max() > 0  # the steps ran and moved the picture
