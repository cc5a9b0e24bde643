"""Tasks per hour of `vidstyle batch run --ray` with 1, 2, ... workers (0: in-process).

One night of small image tasks (the same size and style, so every worker compiles one graph and
computes the style's targets once) is run from scratch once per worker count, each in its own run
folder, on one Ray (started here, or ``--address`` of a running cluster); ``0`` workers is the
in-process runner, without Ray. The figure is the tasks divided by the span from the first task's
start to the last task's end, read from the ledger (the workers' processes start before it,
printed apart; each worker's TensorFlow import, weights and first compile fall in its first
task). The steady figure leaves that warm-up out: the tasks that ended after every worker had
finished its first one, over the time since then.

On a machine with N cores and no GPU, one worker already spreads each image over all N cores
(TensorFlow's thread pool), so more workers only split the same cores: expect little gain. On N
GPUs each worker has its own GPU (``--gpus-per-worker 1``), see ``benchmarks/README.md``.

Usage: ``python -m benchmarks.scale [--workers 1 2] [--tasks 20] [--size 64] [--steps 20]
[--address auto] [--gpus-per-worker G]``
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks import harness
from benchmarks.table import Table
from vidstyle.media.images import resize_to, save_image

NIGHT = """
[defaults]
max_size = {size}
steps = {steps}

[[job]]
name = "scale"
input = "photos"
styles = ["{style}"]
"""


def make_night(root: Path, tasks: int, size: int, steps: int) -> Path:
    """``tasks`` crops of the sample photos, all ``size`` x ``size``, and the job file."""
    photos = sorted((harness.SAMPLES / "photos").glob("*.jpg"))
    for i in range(tasks):
        image = harness.picture(photos[i % len(photos)])
        side = min(image.shape[:2]) * (10 - i // len(photos) % 5) // 10
        save_image(root / "photos" / f"p{i:03d}.png", resize_to(image[:side, :side], size, size))
    night = root / "night.toml"
    night.write_text(NIGHT.format(size=size, steps=steps, style=harness.STYLE))
    return night


def measure(night: Path, cluster, weights, make_engine=None) -> dict:
    """Run the night; returns the tasks, the busy span, the start-up and tasks per hour."""
    from vidstyle import batch
    from vidstyle.jobs.ledger import Ledger

    began = time.time()
    result = batch.run(night, cluster=cluster, weights=weights, engine_factory=make_engine)
    ledger = Ledger(night.with_name("night.vidstyle-run") / "ledger.sqlite")
    rows = ledger.rows()
    ledger.close()
    first, last = min(r.started for r in rows), max(r.finished for r in rows)
    workers = {r.detail.get("worker", 0) for r in rows}  # in-process: one, unnamed
    warm = max(min(r.finished for r in rows if r.detail.get("worker", 0) == w) for w in workers)
    steady = sum(r.finished > warm for r in rows)
    return {"tasks": result.done, "failed": result.failed, "span": last - first,
            "startup": first - began, "per_hour": result.done / (last - first) * 3600,
            "steady_per_hour": steady / max(last - warm, 1e-9) * 3600}  # fmt: skip


def main(argv: list[str] | None = None, make_engine: harness.MakeEngine | None = None) -> None:
    """Run the night once per worker count; print the table and log it."""
    parser = harness.parser(__doc__)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="worker counts (0: in-process, without Ray)")  # fmt: skip
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--address", default="auto")
    parser.add_argument("--gpus-per-worker", type=float, default=None)
    args = harness.parse(parser, argv)
    ray = None
    if any(args.workers):
        import ray

        address = None if args.address == "auto" else args.address
        ray.init(address=address, include_dashboard=False, logging_level="ERROR",
                 log_to_driver=False)  # fmt: skip
        resources = ray.cluster_resources()
        print(f"ray: {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs")
    from vidstyle.jobs.settings import ClusterConfig

    rows = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            night = make_night(Path(tmp), args.tasks, args.size, args.steps)
            if workers:  # Ray workers build their own engines
                cluster = ClusterConfig(workers=workers, gpus_per_worker=args.gpus_per_worker)
                found = measure(night, cluster, args.weights)
            else:
                found = measure(night, None, args.weights, make_engine)
            rows.append({"workers": workers} | found)
    if ray is not None:
        ray.shutdown()
    base = rows[0]["per_hour"] / max(rows[0]["workers"], 1)
    steady_base = rows[0]["steady_per_hour"] / max(rows[0]["workers"], 1)
    title = f"{args.tasks} tasks of {args.size}x{args.size} px, {args.steps} steps"
    table = Table("workers", "tasks", ("busy s", "{:.1f}"), ("start-up s", "{:.1f}"),
                  ("tasks/hour", "{:.0f}"), ("vs first", "{:.2f}x"), ("steady t/h", "{:.0f}"),
                  ("steady vs first", "{:.2f}x"), title=title)  # fmt: skip
    for row in rows:
        table.add(row["workers"] or "in-process", row["tasks"], row["span"], row["startup"],
                  row["per_hour"], row["per_hour"] / base, row["steady_per_hour"],
                  row["steady_per_hour"] / steady_base)  # fmt: skip
    harness.finish(args, "scale", harness.precision_label(), [table], rows)


if __name__ == "__main__":
    main()
