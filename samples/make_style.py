"""Paint samples/swirls.jpg: an abstract, Van Gogh-like style image of swirling brush strokes.

Strokes follow the streamlines of a flow field made of a few vortices over a wavy drift. Each
stroke is a thick band of paint plus thin "bristle" lines in nearby shades, and also lays down
paint height; the height map is lit from the upper left at the end to give an impasto relief.
Everything is seeded, so the same NumPy and OpenCV versions give the same file.

    python samples/make_style.py            # writes samples/swirls.jpg beside this script
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE = 512
SEED = 1889  # the year of The Starry Night
BLUES = np.array(
    [[14, 28, 82], [24, 52, 130], [38, 84, 170], [70, 122, 200], [122, 170, 222], [178, 212, 232]]
)
YELLOWS = np.array([[250, 222, 80], [238, 186, 40], [252, 240, 170], [214, 140, 30]])
DARKS = np.array([[16, 36, 34], [28, 58, 50], [44, 40, 30], [20, 30, 64]])
TEALS = np.array([[52, 130, 140], [96, 168, 158], [36, 96, 120]])
# (x, y, radius, turn) of the vortices; positive turn is clockwise on screen.
VORTICES = [(150, 160, 95, 1.0), (360, 120, 60, -1.0), (420, 300, 80, 1.0), (250, 300, 45, -1.0)]
GLOWS = [(360, 120, 34), (90, 70, 18), (470, 60, 16), (250, 300, 22), (40, 210, 14)]


def flow_angles(size: int) -> np.ndarray:
    """Stroke direction at every pixel: vortices spinning over a rightward, wavy drift."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    vx = 1.0 + 0.0 * x
    vy = 0.45 * np.sin(x / 45.0 + y / 70.0) + 0.25 * np.sin(y / 23.0)
    for cx, cy, radius, turn in VORTICES:
        dx, dy = x - cx, y - cy
        weight = 2.6 * turn * np.exp(-(dx**2 + dy**2) / (2 * radius**2)) / radius
        vx, vy = vx - weight * dy, vy + weight * dx
    return np.arctan2(vy, vx)


def glow(x: float, y: float) -> float:
    """How close a point is to one of the yellow stars (1 at a centre, 0 far away)."""
    return max(np.exp(-((x - gx) ** 2 + (y - gy) ** 2) / (2 * r**2)) for gx, gy, r in GLOWS)


def trace(angles: np.ndarray, x: float, y: float, steps: int, step: float) -> np.ndarray:
    """Follow the flow from (x, y) for up to ``steps`` steps; returns an Nx2 array of points."""
    size = angles.shape[0]
    points = [(x, y)]
    for _ in range(steps):
        angle = angles[int(y) % size, int(x) % size]
        x, y = x + step * np.cos(angle), y + step * np.sin(angle)
        if not (-8 <= x < size + 8 and -8 <= y < size + 8):
            break
        points.append((x, y))
    return np.array(points)


def pick_colour(rng: np.random.Generator, x: float, y: float, shade: float) -> np.ndarray:
    """Paint colour for a stroke at (x, y): yellows near stars, dark hills low, blues elsewhere.

    A few warm and teal accents are scattered everywhere so the texture is not one hue.
    """
    roll, hills = rng.random(), y > 400 + 30 * np.sin(x / 60.0)
    if roll < glow(x, y) * 1.3 or roll > 0.96:
        palette = YELLOWS
    elif roll > 0.90:
        palette = TEALS
    elif hills and roll < 0.8:
        palette = DARKS
    else:
        top = 3 if hills else len(BLUES)
        index = int(np.clip(shade * top + rng.normal(0, 0.9), 0, top - 1))
        palette = BLUES[index : index + 1]
    return np.clip(palette[rng.integers(len(palette))] + rng.normal(0, 10, 3), 0, 255)


def brush(canvas, height, rng, points: np.ndarray, colour: np.ndarray, width: int) -> None:
    """Lay one stroke: a band of paint, then thin bristle lines of nearby shades across it."""
    if len(points) < 3:
        return
    tangent = np.gradient(points, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-9
    band = np.round(points * 4).astype(np.int32)  # 2 fractional bits for smooth curves
    cv2.polylines(canvas, [band], False, colour.tolist(), width, cv2.LINE_AA, shift=2)
    cv2.polylines(height, [band], False, float(rng.uniform(0.4, 0.7)), width, cv2.LINE_AA, 2)
    for _ in range(max(2, width // 2)):
        offset = points + normal * rng.uniform(-width / 2, width / 2)
        shade = np.clip(colour * rng.uniform(0.72, 1.28) + rng.normal(0, 8, 3), 0, 255)
        line = [np.round(offset * 4).astype(np.int32)]
        cv2.polylines(canvas, line, False, shade.tolist(), 1, cv2.LINE_AA, shift=2)
        cv2.polylines(height, line, False, float(rng.uniform(0.6, 1.0)), 1, cv2.LINE_AA, 2)


def paint(seed: int = SEED, size: int = SIZE) -> np.ndarray:
    """Paint the whole picture; returns an RGB ``uint8`` array."""
    rng = np.random.default_rng(seed)
    angles = flow_angles(size)
    shade_field = cv2.GaussianBlur(rng.random((size, size)), (0, 0), 40)
    shade_field = (shade_field - shade_field.min()) / np.ptp(shade_field)
    canvas = np.zeros((size, size, 3), np.float32) + BLUES[1].astype(np.float32)
    height = np.zeros((size, size), np.float32)
    for count, (low, high), steps in [(900, (9, 14), 30), (2600, (5, 8), 22), (3200, (2, 4), 14)]:
        for _ in range(count):
            x, y = rng.uniform(-8, size + 8, 2)
            shade = shade_field[int(np.clip(y, 0, size - 1)), int(np.clip(x, 0, size - 1))]
            colour = pick_colour(rng, x, y, shade)
            points = trace(angles, x, y, int(steps * rng.uniform(0.6, 1.4)), 3.0)
            brush(canvas, height, rng, points, colour, int(rng.integers(low, high + 1)))
    return light(canvas, height)


def light(canvas: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Shade the paint by its relief, lit from the upper left, for a thick-paint texture."""
    relief = cv2.GaussianBlur(height, (0, 0), 1.0)
    gx = cv2.Sobel(relief, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(relief, cv2.CV_32F, 0, 1, ksize=3)
    shading = 1.0 - 0.35 * (gx + gy)
    return np.clip(canvas * shading[..., None], 0, 255).astype(np.uint8)


def main() -> None:
    """Paint and save ``swirls.jpg`` next to this script."""
    out = Path(__file__).with_name("swirls.jpg")
    rgb = paint()
    cv2.imwrite(str(out), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
