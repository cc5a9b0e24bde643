"""The options' defaults and checks live in the library, not in the CLI."""

import pytest

from vidstyle.config import LBFGS_STEPS, MethodConfig, VideoConfig
from vidstyle.errors import UsageError, flag


def test_steps_default_follows_the_optimizer_in_the_library():
    assert MethodConfig().steps == 1000
    assert MethodConfig(optimizer="lbfgs").steps == LBFGS_STEPS == 250
    assert MethodConfig(optimizer="lbfgs", steps=7).steps == 7
    assert MethodConfig(optimizer="lbfgs") == MethodConfig(optimizer="lbfgs", steps=250)


@pytest.mark.parametrize(
    ("make", "library", "cli"),
    [
        (lambda: MethodConfig(max_size=8), "max_size must be", "--max-size must be"),
        (lambda: MethodConfig(memory_limit=-1), "memory_limit must", "--memory-limit must"),
        (lambda: VideoConfig(steps_next=-1), "steps_first and steps_next", "--steps-first and"),
        (lambda: VideoConfig(start=3, end=1), "end (1) must come after start", "--end (1)"),
    ],
)
def test_errors_name_parameters_and_only_the_cli_names_flags(make, library, cli):
    with pytest.raises(UsageError) as caught:
        make()
    assert library in caught.value.message() and "--" not in caught.value.message()
    assert cli in caught.value.message(flag)
