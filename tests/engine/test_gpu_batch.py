"""Batches and plans on a GPU (issue 21, item 9): the largest batch that fits, halves after a
refusal while running, and a plan that shows the GPU's budget (NVML faked)."""

import numpy as np
import pytest
from conftest import textured
from PIL import Image
from test_gpumemory import CARDS, MIB, FakeNVML
from tinyvgg import tiny_engine

from vidstyle.config import MethodConfig
from vidstyle.engine import memory
from vidstyle.errors import TooLargeError
from vidstyle.pipeline.image import stylize_files

STYLE = (np.arange(24 * 24 * 3) % 251).reshape(24, 24, 3).astype(np.uint8)


def _photos(tmp_path, count: int):
    jobs = []
    for i in range(count):
        Image.fromarray(textured(24, 32, seed=i)).save(tmp_path / f"p{i}.png")
        jobs.append((tmp_path / f"p{i}.png", tmp_path / f"out{i}.png"))
    return jobs


def _spied(engine, refuse_above: int | None = None):
    """Record each stylize call's batch; refuse (as a device out of memory) batches above
    ``refuse_above``."""
    sizes, real = [], engine.stylize

    def stylize(request, *args, **kwargs):
        sizes.append(request.batch)
        if refuse_above is not None and request.batch > refuse_above:
            raise TooLargeError(None, "the device ran out of memory")
        return real(request, *args, **kwargs)

    engine.stylize = stylize
    return sizes


def test_a_group_goes_in_the_largest_batches_the_budget_holds(tmp_path):
    engine = tiny_engine(MethodConfig(max_size=32, steps=1))
    engine.memory_budget = engine.planner.needed(24, 32, 2)  # two fit, three do not
    sizes = _spied(engine)
    outcomes = stylize_files(engine, _photos(tmp_path, 5), STYLE)
    assert sizes == [2, 2, 1]  # not five single images
    assert all(result is not None and error is None for result, error in outcomes)


def test_a_batch_refused_while_running_is_split_in_halves(tmp_path):
    engine = tiny_engine(MethodConfig(max_size=32, steps=1))
    engine.memory_budget = None  # nothing refused up front
    sizes = _spied(engine, refuse_above=2)
    outcomes = stylize_files(engine, _photos(tmp_path, 5), STYLE)
    assert sizes == [5, 3, 2, 1, 2]  # 5 -> 3 + 2, 3 -> 2 + 1
    assert all(error is None for _, error in outcomes)


def test_a_plan_shows_the_gpus_budget_read_through_nvml(monkeypatch):
    environ = {"CUDA_VISIBLE_DEVICES": "0", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    budget = memory.plan_budget(0.0, environ, FakeNVML(CARDS, []))
    assert budget == memory.gpu_budget(15000 * MIB, None, environ)  # the T4 at bus 3B
    assert memory.plan_budget(2.0, environ, FakeNVML(CARDS, [])) == 2 * memory.GIB


def test_a_plan_without_a_readable_gpu_shows_the_hosts_budget(monkeypatch):
    class NoNVML:
        def nvmlInit(self):
            raise RuntimeError("NVML Shared Library Not Found")

    monkeypatch.setenv("PATH", "/nonexistent")
    assert memory.plan_budget(0.0, {}, NoNVML()) == memory.budget_bytes(0.0)


@pytest.mark.parametrize("gpu_budget, tiled", [(6 * memory.GIB, True), (200 * memory.GIB, False)])
def test_the_plan_summary_tiles_by_the_gpus_budget(monkeypatch, gpu_budget, tiled):
    from vidstyle.jobs import plan

    monkeypatch.setattr(memory, "plan_budget", lambda limit: gpu_budget)
    summary = plan._work(3000, 4000, MethodConfig(max_size=4000))
    assert ("tile" in summary) is tiled, summary
