"""The GPU budget and cuDNN's 32-bit limit (issue 21, items 1 and 2), without a GPU: the
arithmetic on the CPU, the compute capability and the free memory from a fake NVML."""

import keras
import numpy as np
import pytest
from test_device import fake_gpus  # noqa: F401 - the fixture: TensorFlow sees two fake GPUs
from test_gpumemory import CARDS, MIB, FakeNVML

from vidstyle.config import MethodConfig
from vidstyle.engine import device, memory, planner
from vidstyle.engine.request import Request
from vidstyle.errors import TooLargeError

GIB = memory.GIB
H200 = 141 * GIB
SHALLOW = MethodConfig(
    max_size=0,
    scales=1,
    content_layers=("block2_conv1",),
    style_layers=("block1_conv1", "block2_conv1"),
)  # a halo of 6 px


class CapabilityNVML(FakeNVML):
    """A fake NVML that also gives each card's compute capability."""

    def nvmlDeviceGetCudaComputeCapability(self, card):
        return card["cc"]


# ----------------------------------------------------------------------- item 1: 32-bit limit


def test_the_limit_is_block1s_64_values_per_pixel_under_2_31_with_a_margin():
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(64, 64, 3))
    per_pixel = [layer.output.shape[-1] * layer.output.shape[1] * layer.output.shape[2] / 64**2
                 for layer in vgg.layers[1:]]  # fmt: skip
    assert max(per_pixel) == memory.WIDEST_CHANNELS == 64  # block1: no tensor is wider
    assert memory.MAX_PIXELS * 64 < 2**31 - 1 < memory.MAX_PIXELS * 64 / 0.85
    side = 5793  # 33.6 MP: 64 x H x W just over 2^31 - 1, the size that aborts in cuDNN
    assert side * side * 64 > 2**31 - 1 and memory.over_int32(side, side)
    assert not memory.over_int32(5000, 5000) and memory.over_int32(4000, 4000, batch=2)


@pytest.mark.parametrize("budget", [H200, None])
def test_every_level_and_crop_is_under_the_limit_even_where_the_budget_admits_it(budget):
    method = MethodConfig(max_size=0, optimizer="adam", precision="bfloat16")
    plan = planner.Planner(method, budget)
    assert budget is None or plan.needed(6144, 6144) < budget  # the budget alone would admit it
    plan.check(None, 6144, 6144)  # tiled, not refused
    works = plan.plan(6144, 6144, 100)
    for work in works:
        if work.tile is None:
            assert not memory.over_int32(work.height, work.width)
        else:
            crop = [min(work.tile + 2 * plan.margin, n) for n in (work.height, work.width)]
            assert not memory.over_int32(*crop)
    assert works[-1].tile is not None and works[-1].tiles > 1
    assert plan.tile(4096, 4096) is None  # 16.8 MP: untiled on an H200


def test_a_batch_above_the_limit_is_refused_and_the_largest_under_it_chosen():
    plan = planner.Planner(MethodConfig(max_size=0), H200)
    with pytest.raises(TooLargeError, match="32-bit"):
        plan.check(None, 4000, 4000, batch=2)  # 32 MP together, 16 MP each
    assert plan.batch_size(2000, 2000, 10) == 7  # 7 x 4 MP = 28 MP; 8 would be 32 MP
    assert plan.batch_size(4000, 4000, 5) == 1
    assert planner.Planner(MethodConfig(max_size=0), None).batch_size(1000, 1000, 40) == 30


def test_float16_above_the_limit_is_refused_since_it_cannot_tile():
    plan = planner.Planner(MethodConfig(max_size=0, precision="float16"), H200)
    with pytest.raises(TooLargeError, match="float16 cannot"):
        plan.check(None, 6144, 6144)


def test_style_image_and_levels_above_a_lowered_limit_run_tiled_on_the_cpu(monkeypatch):
    from tinyvgg import tiny_engine

    monkeypatch.setattr(memory, "MAX_PIXELS", 90 * 90)  # the same rule, at the tiny sizes
    engine = tiny_engine(SHALLOW)
    style = (np.arange(128 * 128 * 3) % 251).reshape(128, 128, 3).astype(np.uint8)
    targets = engine.style_targets(style)
    assert engine._tilings  # the style image went through the tiles
    seen = []
    content = (np.arange(128 * 112 * 3) % 241).reshape(128, 112, 3).astype(np.uint8)
    engine.stylize(
        Request(content, targets, steps=2, on_level=lambda i, works: seen.append(works[i]))
    )
    assert seen and seen[-1].tile is not None and seen[-1].tiles > 1
    monkeypatch.setattr(memory, "MAX_PIXELS", 10**9)  # untiled: the same Gram targets
    untiled = tiny_engine(SHALLOW).style_targets(style)
    for tiled_gram, gram in zip(targets.grams, untiled.grams):
        np.testing.assert_allclose(tiled_gram.numpy(), gram.numpy(), rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------ item 2: TensorFlow's reserve


@pytest.mark.parametrize(
    "free_gib, capability, environ, reserve_mib",
    [
        (80, (9, 0), {}, 1800),  # H100/H200
        (40, (8, 0), {}, 1536),  # A100
        (16, (7, 5), {}, 1050),  # T4
        (12, (6, 1), {}, 500),
        (1.5, (9, 0), {}, 225),  # under 2 GiB found free
        (10, None, {}, 1800),  # unknown (a MIG device): the largest
        (80, (9, 0), {"TF_DEVICE_MIN_SYS_MEMORY_IN_MB": "512"}, 512),
    ],
)
def test_tensorflows_reserve_by_capability_and_its_variable(free_gib, capability, environ,
                                                            reserve_mib):  # fmt: skip
    assert memory.tf_reserve(int(free_gib * GIB), capability, environ) == reserve_mib * MIB


def test_the_budget_takes_context_reserve_and_workspaces_off_a_hopper_card(fake_gpus,  # noqa: F811
                                                                          monkeypatch):  # fmt: skip
    from vidstyle.engine import precision

    nvml = CapabilityNVML([dict(card, cc=(9, 0)) for card in CARDS], [])
    real_cc = precision.gpu_capability
    monkeypatch.setattr(precision, "gpu_capability",
                        lambda gpu, env=None, _=None: real_cc(gpu, env, nvml))  # fmt: skip
    found = device.configure(0)
    assert found.capability == (9, 0) and found.free_bytes == 30000 * MIB
    budget, note = memory.budget(0.0, found, {})
    context = int(0.6 * GIB)
    assert budget == 30000 * MIB - context - 1800 * MIB - 512 * MIB and note is None
    old = 30000 * MIB - int(0.75 * GIB)  # the earlier baseline admitted 2.1 GiB more
    assert old - budget > 2 * GIB
    override = memory.budget(0.0, found, {"TF_DEVICE_MIN_SYS_MEMORY_IN_MB": "0"})[0]
    assert override == budget + 1800 * MIB


def test_a_small_mig_slice_keeps_what_tensorflow_will_really_hand_out():
    free = 9728 * MIB  # a 1g.10gb slice
    budget = memory.gpu_budget(free, None, {})
    assert budget == free - int(0.6 * GIB) - 1800 * MIB - 512 * MIB
    assert budget / (free - int(0.75 * GIB)) < 0.8  # the old figure over-admitted by over 20%
    assert memory.gpu_budget(int(0.5 * GIB), None, {}) == 0  # never negative
