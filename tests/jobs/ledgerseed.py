"""A known speed for a night's ledger, so that deadline tests can say which tasks fit."""

from __future__ import annotations

from pathlib import Path

from vidstyle.jobs.ledger import Ledger
from vidstyle.jobs.plan import Task

SEED_WORK = 10**6  # steps x pixels of the seeded task: far more than a test night's, so the
# night's own (tiny-engine) measurements barely move the speed


def seed_speed(night: Path, seconds_per_step_pixel: float) -> None:
    """Give the job file's ledger a measured speed: one finished task of an earlier plan (not in
    the night's plan, so never run or shown) that took ``seconds_per_step_pixel`` per step and
    working pixel."""
    ledger = Ledger(night.with_name(night.stem + ".vidstyle-run") / "ledger.sqlite")
    try:
        earlier = Task(key="earlier", job="earlier", kind="image", source=Path("earlier.png"),
                       style=Path("style.png"), output=Path("earlier-out.png"), steps=1,
                       pixels=SEED_WORK, position=0)  # fmt: skip
        ledger.sync([earlier])
        key = ledger.claim()
        ledger.finish(key, seconds_per_step_pixel * SEED_WORK)
        assert ledger.seconds_per_step_pixel() == seconds_per_step_pixel
    finally:
        ledger.close()
