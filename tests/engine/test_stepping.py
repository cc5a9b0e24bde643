"""Running a level's steps in chunks: the stop callable, reading the loss only when wanted, and
the early stop's plateau (no network: stand-in ``advance`` callables)."""

import numpy as np
import pytest

from vidstyle.engine import stepping


def test_plateau_compares_with_the_loss_a_window_earlier():
    plateau = stepping.Plateau(0.1, window=2)
    assert [plateau.update(v) for v in (100.0, 50.0, 48.0, 47.0)] == [False, False, False, True]
    off = stepping.Plateau(0.0, window=1)
    assert not any(off.update(5.0) for _ in range(5))


def test_the_loss_is_read_only_for_progress_or_the_early_stop():
    unreadable = object()  # reading it (tf.reduce_sum) would fail
    stops = []
    stepping.run_chunks(lambda n: unreadable, 25, 0.0, 50, stop=lambda: stops.append(1))
    assert len(stops) == 3
    reports = []
    stepping.run_chunks(lambda n: np.float32(2.0), 25, 0.0, 50,
                        on_step=lambda s, loss: reports.append((s, loss)))  # fmt: skip
    assert reports == [(10, 2.0), (20, 2.0), (25, 2.0)]
    with pytest.raises(Exception):  # noqa: B017 - the early stop reads it
        stepping.run_chunks(lambda n: unreadable, 25, 0.01, 50)
