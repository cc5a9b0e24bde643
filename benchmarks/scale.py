"""Tasks per hour of `vidstyle batch run --ray` with 1, 2, ... workers.

One night of small image tasks (the same size and style, so every worker compiles one graph and
computes the style's targets once) is run from scratch once per worker count, each in its own run
folder, on one Ray (started here, or ``--address`` of a running cluster). The figure is the
tasks divided by the span from the first task's start to the last task's end, read from the
ledger (the workers' processes start before it, printed apart; each worker's TensorFlow import,
weights and first compile fall in its first task). The steady figure leaves that warm-up out:
the tasks that ended after every worker had finished its first one, over the time since then.

On a machine with N cores and no GPU, one worker already spreads each image over all N cores
(TensorFlow's thread pool), so more workers only split the same cores: expect little gain. On N
GPUs each worker has its own GPU (``--gpus-per-worker 1``), see ``benchmarks/README.md``.

Usage: ``PYTHONPATH=. python benchmarks/scale.py [--workers 1 2] [--tasks 20] [--size 64]
[--steps 20] [--address auto] [--gpus-per-worker G] [--weights FILE] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
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
    from PIL import Image

    photos = sorted((SAMPLES / "photos").glob("*.jpg"))
    (root / "photos").mkdir(parents=True)
    for i in range(tasks):
        with Image.open(photos[i % len(photos)]) as image:
            side = min(image.size) * (10 - i // len(photos) % 5) // 10
            crop = image.convert("RGB").crop((0, 0, side, side)).resize((size, size))
            crop.save(root / "photos" / f"p{i:03d}.png")
    night = root / "night.toml"
    night.write_text(NIGHT.format(size=size, steps=steps, style=SAMPLES / "swirls.jpg"))
    return night


def measure(night: Path, cluster, weights) -> dict:
    """Run the night; returns the tasks, the busy span, the start-up and tasks per hour."""
    from vidstyle import batch
    from vidstyle.jobs.ledger import Ledger

    began = time.time()
    result = batch.run(night, cluster=cluster, weights=weights)
    ledger = Ledger(night.with_name("night.vidstyle-run") / "ledger.sqlite")
    rows = ledger.rows()
    ledger.close()
    first, last = min(r.started for r in rows), max(r.finished for r in rows)
    warm = max(min(r.finished for r in rows if r.detail["worker"] == w)
               for w in {r.detail["worker"] for r in rows})  # fmt: skip
    steady = sum(r.finished > warm for r in rows)
    return {"tasks": result.done, "failed": result.failed, "span": last - first,
            "startup": first - began, "per_hour": result.done / (last - first) * 3600,
            "steady_per_hour": steady / max(last - warm, 1e-9) * 3600}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--address", default="auto")
    parser.add_argument("--gpus-per-worker", type=float, default=None)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import ray

    from vidstyle.jobs.cluster import ClusterConfig

    address = None if args.address == "auto" else args.address
    ray.init(address=address, include_dashboard=False, logging_level="ERROR",
             log_to_driver=False)  # fmt: skip
    resources = ray.cluster_resources()
    print(
        f"ray: {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs; "
        f"{args.tasks} tasks of {args.size}x{args.size} px, {args.steps} steps, real VGG19"
    )
    rows = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            night = make_night(Path(tmp), args.tasks, args.size, args.steps)
            cluster = ClusterConfig(workers=workers, gpus_per_worker=args.gpus_per_worker)
            rows.append({"workers": workers} | measure(night, cluster, args.weights))
    base = rows[0]["per_hour"] / rows[0]["workers"]
    steady_base = rows[0]["steady_per_hour"] / rows[0]["workers"]
    print(f"{'workers':>7} {'tasks':>5} {'busy s':>7} {'start-up s':>10} {'tasks/hour':>10} "
          f"{'vs 1 worker':>11} {'steady t/h':>10} {'vs 1 worker':>11}")  # fmt: skip
    for row in rows:
        speedup = row["per_hour"] / base
        steady = row["steady_per_hour"] / steady_base
        print(f"{row['workers']:>7} {row['tasks']:>5} {row['span']:>7.1f} "
              f"{row['startup']:>10.1f} {row['per_hour']:>10.0f} {speedup:>10.2f}x "
              f"{row['steady_per_hour']:>10.0f} {steady:>10.2f}x")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    ray.shutdown()


if __name__ == "__main__":
    main()
