"""What a GPU error means, read from the error alone (no TensorFlow import: jobs asks too).

Two kinds matter, and they need opposite answers:

- **Out of memory.** TensorFlow raises ``ResourceExhaustedError`` ("OOM when allocating"), but a
  GPU that runs out of memory also shows as ``InternalError`` ("Dst tensor is not initialized":
  a copy to the GPU found no memory) or ``UnknownError``/``InternalError`` naming
  ``CUDNN_STATUS_ALLOC_FAILED``, ``CUBLAS_STATUS_ALLOC_FAILED`` or ``CUDA_ERROR_OUT_OF_MEMORY``.
  All of them are the input's size: the engine turns them into :class:`TooLargeError`
  (:func:`out_of_memory`), which is not retried.
- **Sticky CUDA faults.** An illegal address, a launch failure, an uncorrectable ECC error, a
  cuDNN/cuBLAS internal or execution failure: the CUDA context is broken for good, every later
  call in the process fails too. Such a process must end (:func:`sticky`): a Ray worker returns
  the outcome and is restarted (:mod:`vidstyle.jobs.worker`); the task goes to another worker.
"""

from __future__ import annotations

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
    "cudnn_status_internal_error",
    "cudnn_status_execution_failed",
    "cublas_status_execution_failed",
    "cublas_status_internal_error",
    "gpu sync failed",
    "failed to memcpy",
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
