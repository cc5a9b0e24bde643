"""Optical flow, warping, occlusion masks, shot cuts and the temporal error, with OpenCV and numpy.

The image-side pieces of Ruder, Dosovitskiy and Brox, "Artistic style transfer for videos"
(GCPR 2016): the previous stylized frame, warped along the flow, starts and holds the next one.

Flow convention, used throughout: ``flow_ab[y, x] = (dx, dy)`` means the pixel at ``(x, y)`` in
frame a moves to ``(x + dx, y + dy)`` in frame b. To pull an image of frame a into frame b's
geometry, sample it with the flow the other way round, ``flow_ba`` (see :func:`warp`).
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_FLOW_SIDE = 16  # DIS needs a side of 12 or more; smaller frames are enlarged for the flow
MOTION_CANDIDATES = 4  # global shifts tried as DIS's starting flow (besides none), see flow()
MATCH_WINDOW = 9  # side of the window over which plain DIS must match as well as the others
EDGE_WINDOW = 3  # side of the window over which the others are ranked where it does not
PLAIN_BONUS = 3.0  # grey levels by which another candidate must beat plain DIS
BOUNDARY_FLOOR = 0.02  # the motion-boundary test's constant (the paper: 0.002), see reliable_mask
PHOTOMETRIC_LIMIT = 24.0  # mean absolute grey difference (0..255, 5x5 window) a warp may leave
VOUCH_LIMIT = 3.0  # mean absolute grey difference (3x3) under which a warp vouches for itself
VOUCH_DETAIL = 4.0  # ... where the frame's grey levels vary by this much (std over 5x5) or more
EDGE_SLACK = 1.0  # px a source may lie outside the picture (the warp repeats the border pixel)


def flow(prev_rgb: np.ndarray, next_rgb: np.ndarray, large: bool = True) -> np.ndarray:
    """Dense optical flow from ``prev_rgb`` to ``next_rgb``, large displacements included.

    OpenCV's DIS (medium preset, on grey) only follows motions of a few pixels per frame at the
    sizes vidstyle works at: its pyramid has few levels on a small frame, and a fast object or a
    quick pan comes out with an end-point error as large as the motion. So DIS is run from
    several starting flows: none, and each of the strongest global shifts between the frames
    (the peaks of their phase correlation: the camera's pan, a fast object's motion), and those
    shifts are candidates themselves. At each pixel the candidate whose warp matches best around
    it is kept (plain DIS unless another matches clearly better). On the synthetic clips of
    ``benchmarks/synthclips.py`` this takes the end-point error at 40 px per frame from 35 px to
    under 1 px, and leaves slow motion as it was (``benchmarks/README.md``).

    Args:
        prev_rgb: frame a, HxWx3 RGB, uint8 or float in 0..255.
        next_rgb: frame b, the same size.
        large: False for plain DIS from no starting flow (small motions only; about a tenth of
            the time).

    Returns:
        ``flow_ab``, HxWx2 float32: pixel ``(x, y)`` of a moves to ``(x + dx, y + dy)`` in b,
        so that ``next(x + dx, y + dy) ≈ prev(x, y)``.

    Raises:
        ValueError: the frames differ in size.
    """
    if prev_rgb.shape[:2] != next_rgb.shape[:2]:
        raise ValueError(f"frame sizes differ: {prev_rgb.shape} and {next_rgb.shape}")
    height, width = prev_rgb.shape[:2]
    big = (max(width, MIN_FLOW_SIDE), max(height, MIN_FLOW_SIDE))
    a, b = (_grey(rgb) for rgb in (prev_rgb, next_rgb))
    if big != (width, height):  # too small for DIS: measure at a larger size, then scale back
        a, b = (cv2.resize(grey, big, interpolation=cv2.INTER_LINEAR) for grey in (a, b))
    field = _fused_dis(a, b) if large else _dis(a, b)
    if big == (width, height):
        return field
    field = cv2.resize(field, (width, height), interpolation=cv2.INTER_AREA)
    return field * np.array([width / big[0], height / big[1]], np.float32)


def _dis(a: np.ndarray, b: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """DIS (medium preset) from grey a to grey b, from the starting flow ``start`` if given."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    start = None if start is None else np.ascontiguousarray(start, np.float32).copy()
    return dis.calc(a, b, start).astype(np.float32, copy=False)


def _fused_dis(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DIS from no starting flow, DIS from each global shift of :func:`shifts` and each shift
    itself (DIS smears an object of a few patches into its background), fused per pixel by the
    local photometric error: plain DIS wherever it matches within ``PLAIN_BONUS`` grey levels of
    the best over ``MATCH_WINDOW``, elsewhere the candidate that matches best over the small
    ``EDGE_WINDOW`` (which places a moving object's edge to a pixel or two; over 3x3 everywhere,
    other candidates took single pixels of a real, slow clip from DIS, and it came out 8% less
    steady by the independent yardstick); the choice then median-filtered over 5x5."""
    candidates = [_dis(a, b)]
    for shift in shifts(a, b, MOTION_CANDIDATES):
        constant = np.ascontiguousarray(np.broadcast_to(np.float32(shift), (*a.shape, 2)))
        # the shift itself (still too: DIS smears a fast object into the still background
        # around it), and DIS started from it
        candidates += [constant] if shift == (0, 0) else [_dis(a, b, constant), constant]
    if len(candidates) == 1:
        return candidates[0]
    a_float, b_float = a.astype(np.float32), b.astype(np.float32)
    differences = [np.abs(warp(b_float, field, "linear") - a_float) for field in candidates]
    wide = np.stack([cv2.blur(d, (MATCH_WINDOW,) * 2) for d in differences])
    wide[0] -= PLAIN_BONUS  # where plain DIS matches about as well, keep it
    near = np.stack([cv2.blur(d, (EDGE_WINDOW,) * 2) for d in differences])
    best = np.where(np.argmin(wide, axis=0) == 0, 0, np.argmin(near, axis=0))
    best = cv2.medianBlur(best.astype(np.uint8), 5)
    return np.take_along_axis(np.stack(candidates), best[None, ..., None], axis=0)[0]


def shifts(a: np.ndarray, b: np.ndarray, count: int) -> list[tuple[int, int]]:
    """The ``count`` strongest whole-pixel translations from grey frame a to grey frame b: the
    peaks of their phase correlation (Hann-windowed, each peak's neighbourhood suppressed before
    the next is taken), strongest first.

    Args:
        a, b: grey frames of one size.
        count: how many shifts.

    Returns:
        ``(dx, dy)`` pairs: content at ``(x, y)`` in a is at ``(x + dx, y + dy)`` in b.
    """
    window = cv2.createHanningWindow(a.shape[::-1], cv2.CV_32F)
    spectra = [np.fft.fft2((g - g.mean()) * window) for g in (a.astype(np.float32),
                                                               b.astype(np.float32))]  # fmt: skip
    cross = spectra[1] * np.conj(spectra[0])
    surface = np.real(np.fft.ifft2(cross / (np.abs(cross) + 1e-6))).astype(np.float32)
    surface = cv2.GaussianBlur(surface, (3, 3), 0)
    height, width = surface.shape
    out = []
    for _ in range(count):
        y, x = np.unravel_index(int(np.argmax(surface)), surface.shape)
        out.append((int(x if x < width / 2 else x - width),
                    int(y if y < height / 2 else y - height)))  # fmt: skip
        rows, cols = np.arange(y - 3, y + 4) % height, np.arange(x - 3, x + 4) % width
        surface[np.ix_(rows, cols)] = -np.inf
    return out


_BORDERS = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101}
_INTERPOLATIONS = {"linear": cv2.INTER_LINEAR, "lanczos": cv2.INTER_LANCZOS4}


def warp(image: np.ndarray, flow_ba: np.ndarray, interpolation: str = "lanczos",
         border: str = "replicate") -> np.ndarray:  # fmt: skip
    """Backward-warp frame a's image into frame b: ``out[y, x] = image[y + dy, x + dx]``.

    ``(dx, dy) = flow_ba[y, x]``. Sampling is 8x8 Lanczos by default: bilinear sampling averages
    neighbours wherever the flow is fractional, a small blur that adds up frame after frame when
    each frame starts from the last one warped, and that a temporal error measured through it
    charges to a crisp result. Lanczos keeps the detail; it may overshoot the input's range a
    little at sharp edges (uint8 saturates; clip floats where that matters).

    Args:
        image: HxW or HxWxC image of frame a, uint8 or float (any channel count).
        flow_ba: HxWx2 flow from frame b to frame a.
        interpolation: ``linear`` or ``lanczos``.
        border: where a source lies outside the image: ``replicate`` the nearest border pixel
            (streaks where content enters the picture), or ``reflect`` the image at its border.

    Returns:
        The image aligned to frame b, with the dtype and shape of ``image``.

    Raises:
        ValueError: the image and the flow differ in size.
    """
    if image.shape[:2] != flow_ba.shape[:2]:
        raise ValueError(f"image {image.shape} and flow {flow_ba.shape} differ in size")
    height, width = flow_ba.shape[:2]
    map_x = np.arange(width, dtype=np.float32)[None, :] + flow_ba[..., 0].astype(np.float32)
    map_y = np.arange(height, dtype=np.float32)[:, None] + flow_ba[..., 1].astype(np.float32)
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        # cv2.remap takes at most 4 channels, and interpolates 2-channel images only to 1/32 px
        planes = [_remap(image[..., c], map_x, map_y, interpolation, border)
                  for c in range(image.shape[2])]  # fmt: skip
        return np.stack(planes, axis=2)
    return _remap(image, map_x, map_y, interpolation, border).reshape(image.shape)


def reliable_mask(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """Which pixels of frame b the flow can be trusted for (Ruder et al. 2016, sec. 3.2).

    With ``ŵ = flow_ba(p)`` and ``w̃ = flow_ab(p + ŵ)`` (the forward flow warped to b), a pixel
    is unreliable when forward and backward flow disagree (disocclusion)::

        |w̃ + ŵ|² > 0.01 (|w̃|² + |ŵ|²) + 0.5

    or when it lies on a motion boundary, with ``(u, v) = flow_ba`` and central differences::

        |∇u|² + |∇v|² > 0.01 |ŵ|² + BOUNDARY_FLOOR

    The paper's floor is 0.002; at vidstyle's working sizes DIS's noise on still, textured
    content passes it, and up to a tenth of a still background was left free (on the synthetic
    clips of ``benchmarks/synthclips.py``, 10% at 64 px and 3% at 128 px). ``BOUNDARY_FLOOR`` is
    0.02: a wrong flow that this lets through is caught by :func:`photometric_mask`.

    Pixels whose source ``p + ŵ`` lies outside frame a (content entering at the border), by more
    than ``EDGE_SLACK``, are unreliable too; the paper's test alone would pass them, as the warp
    repeats the border.

    Args:
        flow_ab: HxWx2 flow from frame a to frame b.
        flow_ba: HxWx2 flow from frame b to frame a.

    Returns:
        HxW float32 mask over frame b: 1 reliable, 0 occluded/disoccluded or on a boundary.
    """
    w_hat = flow_ba.astype(np.float32)
    w_tilde = warp(flow_ab.astype(np.float32), w_hat)
    sq = np.sum((w_tilde + w_hat) ** 2, axis=2)
    inconsistent = sq > 0.01 * (np.sum(w_tilde**2, axis=2) + np.sum(w_hat**2, axis=2)) + 0.5
    gradient = sum(_squared_gradient(w_hat[..., c]) for c in (0, 1))
    boundary = gradient > 0.01 * np.sum(w_hat**2, axis=2) + BOUNDARY_FLOOR
    return (~(inconsistent | boundary | outside(w_hat))).astype(np.float32)


def photometric_mask(content_a: np.ndarray, content_b: np.ndarray, flow_ba: np.ndarray,
                     limit: float = PHOTOMETRIC_LIMIT) -> np.ndarray:  # fmt: skip
    """Whether the flow carries frame a's content onto frame b's: a check the flow cannot pass
    by being smooth and self-consistent (a wrong flow of a fast object passes the
    forward-backward test of :func:`reliable_mask` when it is wrong both ways alike).

    A pixel of b is unreliable where the mean absolute grey difference between b's content and
    a's content warped by ``flow_ba`` (bilinear), over a 5x5 window, exceeds ``limit``.

    Args:
        content_a, content_b: the content frames, HxWx3 RGB (0..255).
        flow_ba: HxWx2 flow from b to a.
        limit: the largest mean absolute difference trusted, 0..255.

    Returns:
        HxW float32 mask over frame b: 1 where the warped content matches, 0 elsewhere.
    """
    return _photometric(_grey_mismatch(content_a, content_b, flow_ba)[0], limit)


def _grey_mismatch(content_a: np.ndarray, content_b: np.ndarray, flow_ba: np.ndarray):
    """(|b - a warped by ``flow_ba``| per pixel, b), in grey levels (bilinear warp)."""
    a, b = (_grey(rgb).astype(np.float32) for rgb in (content_a, content_b))
    return np.abs(warp(a, flow_ba, "linear") - b), b


def _photometric(mismatch: np.ndarray, limit: float = PHOTOMETRIC_LIMIT) -> np.ndarray:
    return (cv2.blur(mismatch, (5, 5)) <= limit).astype(np.float32)


def trusted_mask(flow_ab: np.ndarray, flow_ba: np.ndarray, content_a: np.ndarray,
                 content_b: np.ndarray) -> np.ndarray:  # fmt: skip
    """:func:`reliable_mask` and :func:`photometric_mask` together, or :func:`vouched_mask`
    alone: the pixels of frame b that the temporal term may hold to frame a's result; elsewhere b
    follows its own content.

    Args:
        flow_ab, flow_ba: the flows between frames a and b, HxWx2.
        content_a, content_b: the content frames, HxWx3 RGB (0..255).

    Returns:
        HxW float32 mask over frame b (1 trusted, 0 not).
    """
    mismatch, grey_b = _grey_mismatch(content_a, content_b, flow_ba)  # once, for both checks
    reliable = reliable_mask(flow_ab, flow_ba) * _photometric(mismatch)
    return np.maximum(reliable, _vouched(mismatch, grey_b, flow_ba))


def vouched_mask(content_a: np.ndarray, content_b: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """Pixels of frame b for which the warp vouches for itself, whatever the forward-backward
    and motion-boundary tests say: frame a's content warped by ``flow_ba`` (bilinear) matches b's
    tightly (mean absolute grey difference over 3x3 at most ``VOUCH_LIMIT``) where b has detail
    enough for a wrong flow to show (grey standard deviation over 5x5 at least
    ``VOUCH_DETAIL``), and the source lies in the picture.

    Those tests are proxies: they free a band a few pixels wide around every moving object
    (the flow's jump fails the boundary test on both sides of a correct edge, and a smoothed
    flow fails forward-backward), and a truly visible pixel left free is as unsteady as a frame
    stylized alone. On ``benchmarks/synthclips.py``'s ``fast`` clip at 64x48 they freed 11% of
    the picture around the object, which carried 60% of the video's temporal error.

    Args:
        content_a, content_b: the content frames, HxWx3 RGB (0..255).
        flow_ba: HxWx2 flow from b to a.

    Returns:
        HxW float32 mask over frame b: 1 where the warp vouches for itself.
    """
    return _vouched(*_grey_mismatch(content_a, content_b, flow_ba), flow_ba)


def _vouched(mismatch: np.ndarray, b: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    difference = cv2.blur(mismatch, (3, 3))
    mean = cv2.blur(b, (5, 5))
    spread = np.sqrt(np.maximum(cv2.blur(b * b, (5, 5)) - mean * mean, 0.0))
    vouched = (difference <= VOUCH_LIMIT) & (spread >= VOUCH_DETAIL) & ~outside(flow_ba)
    return vouched.astype(np.float32)


def outside(flow_ba: np.ndarray) -> np.ndarray:
    """The HxW bool mask of the pixels of b whose source ``p + ŵ`` (``flow_ba``: HxWx2, from b to
    a) lies outside frame a by more than ``EDGE_SLACK``: content entering the picture."""
    height, width = flow_ba.shape[:2]
    src_x = np.arange(width, dtype=np.float32)[None, :] + flow_ba[..., 0]
    src_y = np.arange(height, dtype=np.float32)[:, None] + flow_ba[..., 1]
    low, high_x, high_y = -EDGE_SLACK, width - 1 + EDGE_SLACK, height - 1 + EDGE_SLACK
    return (src_x < low) | (src_x > high_x) | (src_y < low) | (src_y > high_y)


def is_shot_cut(prev_rgb: np.ndarray, next_rgb: np.ndarray, threshold: float = 0.5) -> bool:
    """Whether two consecutive frames belong to different shots (a hard cut).

    Compares 3-D HSV colour histograms (8 hue x 4 saturation x 4 value bins) of the frames by
    Bhattacharyya distance, 0 for identical colour distributions and 1 for disjoint ones. A
    camera move over one scene keeps the distribution and stays well below 0.5; a change to an
    unrelated scene moves it well above. Not detected: fades and dissolves, and cuts between
    scenes of much the same colours (black-and-white footage is compared by brightness only).
    Frames of different sizes (photos taken as a sequence) are a cut: no flow joins them.

    Args:
        prev_rgb: the earlier frame, HxWx3 RGB uint8 (or float 0..255).
        next_rgb: the later frame.
        threshold: distance above which the frames count as a cut.

    Returns:
        True for a cut.
    """
    resized = prev_rgb.shape[:2] != next_rgb.shape[:2]
    return resized or shot_distance(prev_rgb, next_rgb) > threshold


def shot_distance(prev_rgb: np.ndarray, next_rgb: np.ndarray) -> float:
    """The Bhattacharyya distance used by :func:`is_shot_cut`, in 0..1.

    Args:
        prev_rgb: a frame, HxWx3 RGB.
        next_rgb: another frame, HxWx3 RGB.

    Returns:
        The histogram distance.
    """
    a, b = _hsv_histogram(prev_rgb), _hsv_histogram(next_rgb)
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def temporal_error(
    x_b: np.ndarray, x_a: np.ndarray, flow_ba: np.ndarray, mask: np.ndarray
) -> float:
    """Mean squared difference between ``x_b`` and ``x_a`` warped into frame b, where reliable.

    The short-term temporal loss of Ruder et al. 2016 (sec. 3.2), averaged over the reliable
    pixels R only (the paper divides by all pixels), so that frames with much occlusion stay
    comparable::

        E = 1/(3 |R|) Σ_{p ∈ R} Σ_c (x_b[p, c] - warp(x_a, flow_ba)[p, c])²,  R = {p: mask[p] = 1}

    Args:
        x_b: frame b's (stylized) image, HxWx3, uint8 or float on the 0..255 scale.
        x_a: frame a's image, same size.
        flow_ba: HxWx2 flow from b to a.
        mask: HxW reliability of b's pixels (see :func:`reliable_mask`).

    Returns:
        The error on the 0..255 scale (squared units), or 0.0 when no pixel is reliable.
    """
    reliable = np.asarray(mask) >= 0.5
    if not reliable.any():
        return 0.0
    warped = warp(np.asarray(x_a, np.float32), flow_ba)
    diff = np.asarray(x_b, np.float32) - warped
    return float(np.mean(diff[reliable] ** 2))


def detail(rgb: np.ndarray) -> float:
    """High-frequency energy of an image: the mean absolute Laplacian of its grey levels (3x3
    kernel, 0..255 scale). A blur lowers it; :func:`crispness` compares it with the content's."""
    return float(np.mean(np.abs(cv2.Laplacian(_grey(rgb).astype(np.float32), cv2.CV_32F))))


def crispness(result: np.ndarray, content: np.ndarray) -> float:
    """A stylized frame's :func:`detail` relative to its content frame's (1.0: as detailed).

    Over a clip this shows drift: a result that softens from frame to frame loses crispness
    while its content keeps its own."""
    return detail(result) / max(detail(content), 1e-6)


def _grey(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def _hsv_histogram(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256])
    return cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)


def _remap(image, map_x, map_y, interpolation: str, border: str = "replicate") -> np.ndarray:
    image = np.ascontiguousarray(image)
    kind = _INTERPOLATIONS[interpolation]
    return cv2.remap(image, map_x, map_y, kind, borderMode=_BORDERS[border])


def _squared_gradient(plane: np.ndarray) -> np.ndarray:
    """``|∇plane|²`` by central differences; an axis of one pixel has no change along it."""
    axes = [axis for axis in (0, 1) if plane.shape[axis] > 1]
    parts = np.gradient(plane, axis=axes) if axes else []
    parts = parts if isinstance(parts, list | tuple) else [parts]
    return sum((g**2 for g in parts), np.zeros_like(plane))
