"""The batch run's own options, declared once (:func:`vidstyle.options.option`): how a run goes
(:class:`RunConfig`) and where it runs on Ray (:class:`ClusterConfig`). ``vidstyle batch run``'s
parameters are generated from these declarations (:func:`vidstyle._cli.params.with_options`).
None of them changes an output, and none is a job-file key.
"""

from __future__ import annotations

from dataclasses import dataclass

from vidstyle.errors import UsageError
from vidstyle.options import declared, from_options, option


@dataclass(frozen=True)
class RunConfig:
    """How a batch run goes.

    Attributes:
        max_attempts: attempts a task gets when its process dies or it fails unexpectedly
            (another attempt cannot mend a bad input: that fails at once).
        batch: images of one setup (method, style, working size) optimized together in one
            engine call, up to this many, as ``vidstyle folder --batch`` (in this process and on
            Ray workers alike).
    """

    max_attempts: int = option(
        2, "Attempts per task when its process dies or it fails unexpectedly.", toml=(),
        output=False,
    )  # fmt: skip
    batch: int = option(
        1, "Same-size images of one style and options run together.", toml=(), output=False
    )

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise UsageError(None, f"{{max_attempts}} must be at least 1, got {self.max_attempts}")
        if self.batch < 1:
            raise UsageError(None, f"{{batch}} must be 1 or more, got {self.batch}")

    @classmethod
    def from_options(cls, values: dict) -> RunConfig:
        """The run's options from values named as on the command line.

        Raises:
            UsageError: for a value out of bounds.
        """
        return from_options(cls, values)


@dataclass(frozen=True)
class ClusterConfig:
    """Where and how a batch runs on Ray.

    Attributes:
        address: ``auto`` (a local Ray with this machine's CPUs and GPUs, or the cluster
            ``RAY_ADDRESS`` names), ``host:port`` of a running cluster, or ``ray://host:10001``.
        workers: number of workers (None: as many as the cluster holds).
        gpus_per_worker: GPUs per worker (None: 1 when the cluster has GPUs, else 0); 0 or 1:
            a worker's engine uses one GPU, whole (with a fraction two workers would share a GPU
            while each budgets all of its free memory; with 2 or more the others stay idle).
        shared_fs: whether every node sees the inputs and outputs at the same paths.
    """

    address: str = option(
        "auto", "Run on Ray workers: 'auto' (this machine), or a cluster's address (host:port, "
        "ray://head:10001). Needs pip install 'vidstyle\\[ray]'.", key="ray", toml=(),
        output=False, switch=True,
    )  # fmt: skip
    workers: int | None = option(
        None, "With {ray}: number of workers (default: what fits).", toml=(), output=False
    )
    gpus_per_worker: float | None = option(
        None, "With {ray}: GPUs per worker (default 1 with GPUs, else CPU workers).", toml=(),
        output=False,
    )  # fmt: skip
    shared_fs: bool = option(
        True, "With {ray}: every node sees inputs and outputs at the same paths; "
        "{no_shared_fs} sends them through Ray's object store.", toml=(), output=False,
    )  # fmt: skip

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise UsageError(None, f"{{workers}} must be at least 1, got {self.workers}")
        gpus = self.gpus_per_worker
        if gpus is not None and gpus not in (0, 1):
            raise UsageError(None, f"{{gpus_per_worker}} must be 0 or 1 (an engine uses one whole "
                             f"GPU), got {gpus:g}")  # fmt: skip

    @classmethod
    def from_options(cls, values: dict) -> ClusterConfig | None:
        """The cluster from values named as on the command line; None without ``ray``.

        Raises:
            UsageError: a cluster's option given without ``ray``, or a value out of bounds.
        """
        if values.get("ray") is not None:
            return from_options(cls, values)
        given = [one for one in declared(cls) if not one.option.switch
                 and values.get(one.key, one.default) != one.default]  # fmt: skip
        if given:
            names = [f"{{no_{one.key}}}" if one.default is True else f"{{{one.key}}}"
                     for one in declared(cls) if not one.option.switch]  # fmt: skip
            raise UsageError(None, f"{', '.join(names[:-1])} and {names[-1]} need {{ray}}")
        return None
