"""GPU errors without a GPU (issue 21, items 4 and 5): TensorFlow's error types built by hand,
with the texts a GPU gives; a worker and a driver over a fake Ray."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
from tinyvgg import tiny_engine

from vidstyle.engine import faults
from vidstyle.engine.request import Request
from vidstyle.errors import DeviceError, TooLargeError

OOM = [
    tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape"),
    tf.errors.InternalError(None, None, "Dst tensor is not initialized."),
    tf.errors.UnknownError(None, None, "CUDNN_STATUS_ALLOC_FAILED in cudnn_conv"),
    tf.errors.InternalError(None, None, "failed to allocate memory: CUDA_ERROR_OUT_OF_MEMORY"),
]
STICKY = [
    tf.errors.InternalError(None, None, "CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access"),
    tf.errors.InternalError(None, None, "GPU sync failed"),
    tf.errors.UnknownError(None, None, "CUDA error: unspecified launch failure"),
    tf.errors.InternalError(None, None, "cuDNN launch failure: CUDNN_STATUS_EXECUTION_FAILED"),
]
CUDNN_SETUP = [  # cuDNN that cannot start (issue 32, item 5): the machine's set-up
    tf.errors.UnknownError(None, None, "CUDNN_STATUS_INTERNAL_ERROR in cudnn_conv"),
    tf.errors.UnknownError(
        None,
        None,
        "Failed to get convolution algorithm. This is probably "
        "because cuDNN failed to initialize, so try looking to see if a "
        "warning log message was printed above. [Op:Conv2D]",
    ),
    tf.errors.FailedPreconditionError(None, None, "DNN library is not found."),
]
OTHER = [tf.errors.InvalidArgumentError(None, None, "Incompatible shapes: [1,2] vs. [1,3]"),
         ValueError("bad value")]  # fmt: skip


@pytest.mark.parametrize("error", OOM)
def test_every_out_of_memory_shape_is_one(error):
    assert faults.out_of_memory(error) and not faults.sticky(error)


@pytest.mark.parametrize("error", STICKY)
def test_sticky_cuda_faults_are_not_out_of_memory(error):
    assert faults.sticky(error) and not faults.out_of_memory(error)


@pytest.mark.parametrize("error", OTHER)
def test_other_errors_are_neither(error):
    assert not faults.sticky(error) and not faults.out_of_memory(error)


STYLE = (np.arange(32 * 32 * 3) % 251).reshape(32, 32, 3).astype(np.uint8)
CONTENT = (np.arange(32 * 40 * 3) % 241).reshape(32, 40, 3).astype(np.uint8)


@pytest.mark.parametrize("error", OOM)
def test_an_optimization_out_of_memory_is_too_large_in_every_shape(error, monkeypatch):
    engine = tiny_engine()
    targets = engine.style_targets(STYLE)

    def fail(request):
        raise error

    monkeypatch.setattr(engine, "_optimize", fail)
    with pytest.raises(TooLargeError, match="ran out of memory stylizing 40x32"):
        engine.stylize(Request(CONTENT, targets, steps=1))


def test_a_sticky_fault_in_an_optimization_is_not_mistaken_for_size(monkeypatch):
    engine = tiny_engine()
    targets = engine.style_targets(STYLE)
    monkeypatch.setattr(engine, "_optimize", lambda request: (_ for _ in ()).throw(STICKY[0]))
    with pytest.raises(tf.errors.InternalError, match="ILLEGAL_ADDRESS"):
        engine.stylize(Request(CONTENT, targets, steps=1))


@pytest.mark.parametrize("error", OOM)
def test_style_targets_out_of_memory_is_too_large_not_an_internal_error(error):
    engine = tiny_engine()
    real = engine.extractor

    class Failing:
        min_side, ops = real.min_side, real.ops

        def __call__(self, images):
            raise error

    engine.extractor = Failing()
    with pytest.raises(TooLargeError, match="32x32"):
        engine.style_targets(STYLE)


# ------------------------------------------------------------------- item 5: sticky faults


def _unit():
    from vidstyle.jobs.worker import Unit

    task = SimpleNamespace(styles=(), source=Path("a.jpg"), key="k1", output=Path("a-out.jpg"),
                           label="a.jpg")  # fmt: skip
    return Unit((task,))


@pytest.mark.parametrize("error, restart", [(STICKY[0], True), (STICKY[3], True),
                                            (OOM[1], False), (OTHER[1], False)])  # fmt: skip
def test_a_worker_says_restart_on_a_sticky_fault_only(error, restart, monkeypatch):
    from vidstyle.jobs.worker import Worker

    worker = Worker(lambda method: None)

    def run_all(tasks, relay, stop):
        raise error

    monkeypatch.setattr(worker.executor, "run_all", run_all)
    ran = worker.run(_unit())["ran"]
    assert ran.outcomes[0][0] is None and ran.retry is True
    assert ran.restart is restart


class FakeRay:
    """The Ray calls the driver makes when collecting an outcome; kills are logged."""

    class exceptions:  # noqa: N801 - as ray.exceptions
        class RayError(Exception):
            pass

        class RayActorError(RayError):
            pass

    def __init__(self, outcome):
        self.outcome, self.killed = outcome, []

    def get(self, ref):
        return self.outcome

    def kill(self, handle, no_restart=True):
        self.killed.append((handle, no_restart))


def test_the_driver_has_ray_restart_a_worker_after_a_sticky_fault_and_keeps_the_task_off_it():
    from vidstyle.jobs.backends.ray import RayBackend, Slot
    from vidstyle.jobs.executor import Ran

    attempts = []
    recorder = SimpleNamespace(
        log=lambda line: None, shown=None,
        attempted=lambda tasks, ran, seconds, where=None: attempts.append((tasks, ran)),
    )  # fmt: skip
    error = "a.jpg: internal error: CUDA_ERROR_ILLEGAL_ADDRESS"
    ran = Ran([(None, error)], retry=True, restart=True)
    ray = FakeRay({"ran": ran, "seconds": 1.0, "pid": 7, "host": "h"})
    handle = SimpleNamespace(info=SimpleNamespace(remote=lambda: "probe"))
    broken, other = Slot("w0", handle, 1), Slot("w1", object(), 1)
    backend = RayBackend(ray, [broken, other], True, recorder)
    broken.unit, broken.began = _unit(), 0.0
    backend._collect("ref", broken)
    assert ray.killed == [(handle, False)]  # killed so that Ray restarts it (max_restarts)
    assert broken.down and broken.deaths == 1 and broken.ready == "probe"
    ((tasks, recorded),) = attempts
    assert [t.key for t in tasks] == ["k1"] and recorded.outcomes == [(None, error)]
    assert recorded.retry  # the task gets its next attempt
    assert not recorded.restart  # done here: the recorder does not stop the run for it
    assert not backend._may_take(broken, "k1") and backend._may_take(other, "k1")


def test_an_ordinary_failure_leaves_the_worker_alone():
    from vidstyle.jobs.backends.ray import RayBackend, Slot
    from vidstyle.jobs.executor import Ran

    recorder = SimpleNamespace(log=lambda line: None, shown=None,
                               attempted=lambda *args, **kwargs: None)  # fmt: skip
    ray = FakeRay({"ran": Ran([(None, "x")], retry=True), "seconds": 1.0})
    slot = Slot("w0", object(), 1)
    backend = RayBackend(ray, [slot], True, recorder)
    slot.unit, slot.began = _unit(), 0.0
    backend._collect("ref", slot)
    assert ray.killed == [] and not slot.down


# --------------------------------------------- issue 32, item 2: measuring out of memory


@pytest.mark.parametrize("error", OOM)
def test_measuring_losses_out_of_memory_is_too_large_not_an_internal_error(error, monkeypatch):
    engine = tiny_engine()
    targets = engine.style_targets(STYLE)
    monkeypatch.setattr(engine, "_losses", lambda *args: (_ for _ in ()).throw(error))
    with pytest.raises(TooLargeError, match="40x32"):
        engine.losses(CONTENT, CONTENT, targets)


# ------------------------------------------ issue 32, item 5: cuDNN that cannot start


@pytest.mark.parametrize("error", CUDNN_SETUP)
def test_cudnn_that_cannot_start_is_one_clear_error_not_a_sticky_fault(error):
    assert not faults.sticky(error) and not faults.out_of_memory(error)
    found = faults.library_error(error)
    assert isinstance(found, DeviceError) and "cuDNN could not run on the GPU" in found.message()
    assert "tensorflow[and-cuda]" in found.message()


@pytest.mark.parametrize("error", OOM + STICKY + OTHER)
def test_other_errors_are_not_cudnn_that_cannot_start(error):
    assert faults.library_error(error) is None


@pytest.mark.parametrize("where", ["stylize", "losses"])
def test_the_engine_raises_cudnn_that_cannot_start_as_a_device_error(where, monkeypatch):
    engine = tiny_engine()
    targets = engine.style_targets(STYLE)
    fail = lambda *args: (_ for _ in ()).throw(CUDNN_SETUP[0])  # noqa: E731
    monkeypatch.setattr(engine, "_optimize" if where == "stylize" else "_losses", fail)
    with pytest.raises(DeviceError, match="CUDNN_STATUS_INTERNAL_ERROR"):
        if where == "stylize":
            engine.stylize(Request(CONTENT, targets, steps=1))
        else:
            engine.losses(CONTENT, CONTENT, targets)


@pytest.mark.parametrize("mapped", [False, True])  # as TensorFlow raised it, or the engine's
def test_a_worker_fails_cudnn_that_cannot_start_once_no_restart_no_retry(mapped, monkeypatch):
    from vidstyle.jobs.worker import Worker

    worker = Worker(lambda method: None)

    def run_all(tasks, relay, stop):
        raise faults.library_error(CUDNN_SETUP[1]) if mapped else CUDNN_SETUP[1]

    monkeypatch.setattr(worker.executor, "run_all", run_all)
    ran = worker.run(_unit())["ran"]
    assert "cuDNN could not run" in ran.outcomes[0][1]
    assert ran.retry is False and ran.fatal is True and not ran.restart
