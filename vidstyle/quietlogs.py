"""Keeping stderr for vidstyle's own lines: TensorFlow, CUDA, oneDNN and FFmpeg write to the
process's stderr from C++ (some before any log level applies, so ``TF_CPP_MIN_LOG_LEVEL`` alone
cannot hide them), and Python libraries add warnings. For the ``vidstyle`` program (not for
library callers), :func:`silence_native_logs` points file descriptor 2 at the null device and
gives Python's ``sys.stderr`` a private duplicate of the real stderr, so that what vidstyle prints
still shows. ``VIDSTYLE_DEBUG=1`` leaves everything as it is.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import warnings


def silence_native_logs() -> None:
    """Send native writes to stderr (fd 2) to the null device; keep ``sys.stderr`` working."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    for name in ("tensorflow", "absl", "keras", "libav"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        sys.stderr.flush()
        real = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no stderr to begin with: nothing to keep apart
        return
    os.dup2(null, 2)
    os.close(null)
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    stream = io.TextIOWrapper(io.FileIO(real, "w"), encoding=encoding, errors="backslashreplace",
                              line_buffering=True)  # fmt: skip
    sys.stderr = stream
