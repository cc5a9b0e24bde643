"""The yardstick's own bias: what it charges a perfectly steady clip (issue 19).

An image (a painting or a stylized frame) is area-sampled at ``--width`` px from 8x its size,
in a window moved by a sub-pixel shift: the true next frame of a steady clip. Three candidates
for that frame are measured against the first: the truth itself, the first frame warped with
Lanczos (vidstyle's start) and warped bilinearly; each with the known flow and with Farneback's
(the yardstick's, :func:`benchmarks.yardstick.bias`), as Ruder's mse on 0..255 over the pixels 3 px
from the edges. ``crisp L/B`` is the Lanczos warp's crispness over the bilinear one's.

Usage: ``python -m benchmarks.bias IMAGE [--width 64]``
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import harness, yardstick
from benchmarks.table import Table

SHIFTS = ((0.5, 0.5), (0.3, 0.1), (1.5, 0.5), (2.5, 1.0), (2.0, 1.0))
CANDIDATES = ("truth", "lanczos", "bilinear")


def main(argv: list[str] | None = None) -> None:
    """Measure every shift; print the table and log it."""
    parser = harness.parser(__doc__, weights=False)
    parser.add_argument("image", type=Path, help="a painting or a stylized frame")
    parser.add_argument("--width", type=int, default=64)
    args = harness.parse(parser, argv)
    rows = yardstick.bias(harness.picture(args.image), args.width, SHIFTS)
    columns = [f"{name} {flow}" for name in CANDIDATES for flow in ("known", "farneback")]
    table = Table("shift", ("crisp L/B", "{:.2f}"), *((c, "{:.2f}") for c in columns),
                  title=f"{args.image.name} at {args.width} px, mse on 0..255")  # fmt: skip
    for row in rows:
        dx, dy = row["shift"]
        table.add(
            f"({dx:g}, {dy:g})", row["crispness lanczos/bilinear"], *(row[c] for c in columns)
        )
    harness.finish(args, "bias", "no network", [table], rows)


if __name__ == "__main__":
    main()
