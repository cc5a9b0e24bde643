"""What the yardstick charges pictures that move exactly with the camera (issue 29).

Each PICTURE (stylized frames of a clip, e.g. the same frame of several ``benchmarks.video``
rows kept with ``--frames-dir``, and that frame stylized alone) becomes a perfectly steady
clip: frame k is the picture moved by k times the camera's step, an exact band-limited shift
(:func:`benchmarks.yardstick.camera_steady`), on the content frames of ``samples/pan.mp4``,
whose camera moves by a known step (6 px right and 1 px down a frame at its 240 px; the
frames before its cut). The yardstick measures each clip through the content frames' Farneback
flows, full band and after its σ1 low-pass. A steady clip deserves 0: every figure is the
yardstick's charge for the picture's detail, and the ratio of two pictures' figures is what a
ratio of the yardstick reads between two equally, perfectly steady clips that look like them.

Usage: ``python -m benchmarks.steadyclip PICTURE [PICTURE ...] [--frames 12]``
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import harness, yardstick
from benchmarks.table import Table

PAN_STEP = (6.0, 1.0)  # px per frame of samples/pan.mp4 at its 240 x 160 (samples/make_clip.py)
PAN_WIDTH, PAN_SHOT = 240, 18  # its width, and its frames before the cut


def main(argv: list[str] | None = None) -> None:
    """Measure every picture's steady clip; print the table and log it."""
    parser = harness.parser(__doc__, weights=False)
    parser.add_argument("pictures", nargs="+", type=Path, help="stylized frames of pan.mp4")
    parser.add_argument("--frames", type=int, default=12, help=f"at most {PAN_SHOT}")
    args = harness.parse(parser, argv)
    if not 2 <= args.frames <= PAN_SHOT:
        parser.error(f"--frames must be 2 to {PAN_SHOT}")
    table = Table("picture", ("steady mse", "{:.1f}"), ("steady σ1", "{:.2f}"),
                  ("mse/first", "{:.2f}x"), ("σ1/first", "{:.2f}x"), ("σ1 content", "{:.2f}"),
                  title=f"steady clips on pan.mp4's camera, {args.frames} frames")  # fmt: skip
    rows, first = {}, None
    for path in args.pictures:
        image = harness.picture(path)
        height, width = image.shape[:2]
        contents = yardstick.content_frames(harness.CLIP, (width, height), args.frames)
        scale = width / PAN_WIDTH
        figures = yardstick.camera_steady(image, (PAN_STEP[0] * scale, PAN_STEP[1] * scale),
                                          contents)  # fmt: skip
        first = first or figures
        rows[str(path)] = figures
        table.add(path.name if len(set(p.name for p in args.pictures)) == len(args.pictures)
                  else str(path), figures["mse"], figures["low_mse"],
                  figures["mse"] / first["mse"], figures["low_mse"] / first["low_mse"],
                  figures["content_low_mse"])  # fmt: skip
    harness.finish(args, "steadyclip", "no network", [table], rows)


if __name__ == "__main__":
    main()
