"""What a GPU error means, read from the error alone (no TensorFlow import: jobs asks too).

Three kinds matter, and they need different answers:

- **Out of memory.** TensorFlow raises ``ResourceExhaustedError`` ("OOM when allocating"), but a
  GPU that runs out of memory also shows as ``InternalError`` ("Dst tensor is not initialized":
  a copy to the GPU found no memory) or ``UnknownError``/``InternalError`` naming
  ``CUDNN_STATUS_ALLOC_FAILED``, ``CUBLAS_STATUS_ALLOC_FAILED`` or ``CUDA_ERROR_OUT_OF_MEMORY``.
  All of them are the input's size: the engine turns them into :class:`TooLargeError`
  (:func:`out_of_memory`), which is not retried.
- **Sticky CUDA faults.** An illegal address, a launch failure, an uncorrectable ECC error, a
  cuDNN execution or cuBLAS internal or execution failure: the CUDA context is broken for good,
  every later call in the process fails too. Such a process must end (:func:`sticky`): a Ray
  worker returns the outcome and is restarted (:mod:`vidstyle.jobs.worker`); the task goes to
  another worker. A run in one process stops there, the task pending for the next run.
- **cuDNN that cannot start.** ``CUDNN_STATUS_INTERNAL_ERROR``, "could not create cudnn handle",
  "Failed to get convolution algorithm. This is probably because cuDNN failed to initialize",
  "DNN library is not found": on a first run this is the machine's set-up (a cuDNN that does not
  match TensorFlow's CUDA build, or none), which no restart or retry mends; restarting the
  worker would reload the weights up to 4 times for nothing. It is one clear
  :class:`vidstyle.errors.DeviceError` (:func:`library_error`), not retried; a Ray run stops
  there, as every task on that worker would fail the same way.
"""

from __future__ import annotations

from vidstyle.errors import DeviceError

OOM_CLASSES = ("ResourceExhaustedError",)
OOM_TEXT = (
    "dst tensor is not initialized",
    "cudnn_status_alloc_failed",
    "cublas_status_alloc_failed",
    "cuda_error_out_of_memory",
    "oom when allocating",
    "out of memory",
)
STICKY_TEXT = (
    "cuda_error_illegal_address",
    "illegal memory access",
    "cuda_error_launch_failed",
    "unspecified launch failure",
    "cuda_error_ecc_uncorrectable",
    "uncorrectable ecc error",
    "cuda_error_illegal_instruction",
    "cuda_error_misaligned_address",
    "cuda_error_hardware_stack_error",
    "cudnn_status_execution_failed",
    "cublas_status_execution_failed",
    "cublas_status_internal_error",
    "gpu sync failed",
    "failed to memcpy",
)

LIBRARY_TEXT = (
    "cudnn_status_internal_error",
    "cudnn_status_not_initialized",
    "could not create cudnn handle",
    "cudnn failed to initialize",
    "dnn library is not found",
)
LIBRARY_HINT = (
    "install the cuDNN this TensorFlow was built for (pip install 'tensorflow[and-cuda]'); "
    "VIDSTYLE_DEBUG=1 shows TensorFlow's log"
)


def _names(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__}


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is the device running out of memory, in any of its shapes (above).

    Args:
        error: what TensorFlow raised.

    Returns:
        True for ``ResourceExhaustedError`` and for the GPU's other out-of-memory messages.
    """
    if _names(error) & set(OOM_CLASSES):
        return True
    text = str(error).lower()
    return any(part in text for part in OOM_TEXT)


def sticky(error: BaseException) -> bool:
    """Whether ``error`` broke the process's CUDA context for good (above): never true for an
    out-of-memory error, which leaves the context usable.

    Args:
        error: what the engine raised (or anything else: only its text and class are read).
    """
    if out_of_memory(error):
        return False
    text = str(error).lower()
    return any(part in text for part in STICKY_TEXT)


def library_error(error: BaseException) -> DeviceError | None:
    """The one clear error for cuDNN that cannot start (above), None for any other error.

    Args:
        error: what TensorFlow raised (only its text and class are read).

    Returns:
        A :class:`DeviceError` naming what failed, with how to check the set-up.
    """
    if out_of_memory(error):
        return None
    text = str(error).lower()
    found = [part for part in LIBRARY_TEXT if part in text]
    if not found:
        return None
    shown = "CUDNN_STATUS_INTERNAL_ERROR" if "internal_error" in found[0] else found[0]
    return DeviceError(None, f"cuDNN could not run on the GPU ({shown})", hint=LIBRARY_HINT)
