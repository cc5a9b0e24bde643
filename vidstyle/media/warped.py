"""What the earlier result warped into a video frame lacks, and how it is mended (issue 29).

The detail its interpolation lost. Any interpolation at a fractional shift weakens the finest
detail, bilinear much, Lanczos a little. A video frame held to the previous result warped comes
out a little softer than it; the next frame is held to that softer result warped again, and the
loss compounds frame after frame (at the demo's settings the later frames fell to under half
the crispness of the same frames stylized alone). :func:`restore_detail` sharpens a warped image
back to the detail of what it was warped from, measured where it came from; and, by
:func:`catch_up`, a little beyond it when that is softer than its shot's first frame's result
(the later frames' few iterations lose a little detail each, which compounded too).

The pixels new to the frame (:func:`fresh_pixels`): content entering the picture, which a warp
fills with the earlier frame's edge pixels repeated (streaks that a later frame's few iterations
leave in place), and content just disoccluded, which it fills with what covered it.

The flow near the border (:func:`steadied`): where DIS's patches reach past it, its flow
drifts, and the strip that entered the frame before moves against the rest.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidstyle.media import flow as flowlib

DETAIL_SIGMA = 0.8  # px: the Gaussian of the unsharp mask
DETAIL_GAIN = 1.5  # the unsharp mask's largest gain


def restore_detail(warped: np.ndarray, source: np.ndarray, flow_ba: np.ndarray,
                   mask: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, float]:  # fmt: skip
    """``warped`` (``source`` warped into frame b by ``flow_ba``) with the detail that the
    interpolation lost put back.

    The warped image is sharpened by an unsharp mask, ``warped + k (warped - G * warped)`` (G: a
    Gaussian of ``DETAIL_SIGMA`` px), with the gain ``k`` in ``[0, DETAIL_GAIN]`` for which its
    detail (the mean absolute Laplacian of its grey levels, as
    :func:`vidstyle.media.flow.detail`) over the pixels of ``mask`` equals the source's detail
    at those pixels' sources (the source's absolute Laplacian sampled at the nearest pixel, not
    interpolated), times ``scale``. What lost nothing (a whole-pixel shift) is left as it is
    (k = 0) at a ``scale`` of 1.

    Args:
        warped: the warped image, HxWx3 float on 0..255.
        source: the image it was warped from (frame a), HxWx3.
        flow_ba: HxWx2 flow from b to a, by which it was warped.
        mask: HxW; the pixels of b (0.5 or more) over which the detail is compared; those whose
            source lies outside frame a, or on its outer pixels (where the warp repeats the border),
            are left out.
        scale: how much more detail than the source's is wanted (1: as much;
            :func:`catch_up`).

    Returns:
        The restored image (float32, 0..255) and the gain k.
    """
    warped = np.asarray(warped, np.float32)
    height, width = flow_ba.shape[:2]
    map_x = np.arange(width, dtype=np.float32)[None, :] + flow_ba[..., 0].astype(np.float32)
    map_y = np.arange(height, dtype=np.float32)[:, None] + flow_ba[..., 1].astype(np.float32)
    # the Laplacian of a pixel whose source is within a pixel of a border reaches past it
    inside = (map_x >= 1) & (map_x <= width - 2) & (map_y >= 1) & (map_y <= height - 2)
    keep = (np.asarray(mask) >= 0.5) & inside
    if not keep.any():
        return warped, 0.0
    edges = np.abs(_laplacian(source))
    at_sources = cv2.remap(edges, map_x, map_y, cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    want = float(at_sources[keep].mean()) * scale
    finer = warped - cv2.GaussianBlur(warped, (0, 0), DETAIL_SIGMA)
    base, extra = _laplacian(warped)[keep], _laplacian(finer)[keep]  # the Laplacian is linear
    if np.abs(base).mean() >= want:
        return warped, 0.0
    low, high = 0.0, DETAIL_GAIN
    for _ in range(16):  # the detail grows with k: bisect for the wanted one
        middle = (low + high) / 2
        low, high = (middle, high) if np.abs(base + middle * extra).mean() < want else (low, middle)
    return np.clip(warped + high * finer, 0.0, 255.0), high


CATCH_UP = 1.05  # the most a temporal target's detail is raised over its source's, per frame


def catch_up(detail: float | None, source: np.ndarray) -> float:
    """The ``scale`` of :func:`restore_detail` for a frame that should keep its shot's first
    frame's detail: ``detail / detail(source)`` (the first frame's result's detail over the
    earlier result's, :func:`vidstyle.media.flow.detail`), within ``[1, CATCH_UP]``.

    Restored only to its source's detail, the target lets the later frame's few iterations lose
    a little detail (under 1% a frame at the demo's settings), and the loss compounds: 0.88 of
    the crispness of the same frame stylized alone after 11 frames. The first frame's detail is
    the reference because a stylized frame's detail is the style's, hardly the content's: the
    same frames stylized alone keep it within 3% along a clip (52 on the cockatoo at 256 px,
    65 on the demo), while their detail over their content's ranges from 4.1 to 8.0. Never
    below the source's detail (1), and at most ``CATCH_UP`` times it in one frame.

    Args:
        detail: the shot's first frame's result's detail; None: no catching up (1).
        source: the earlier result to be warped into the frame, HxWx3.

    Returns:
        The scale, in ``[1, CATCH_UP]``.
    """
    if detail is None:
        return 1.0
    return float(np.clip(detail / max(flowlib.detail(source), 1e-6), 1.0, CATCH_UP))


def _laplacian(rgb: np.ndarray) -> np.ndarray:
    """The 3x3 Laplacian of an RGB image's grey levels (float, no rounding)."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2GRAY)
    return cv2.Laplacian(grey, cv2.CV_32F)


def fresh_pixels(mask: np.ndarray, flow_ba: np.ndarray, content_a: np.ndarray,
                 content_b: np.ndarray) -> np.ndarray:  # fmt: skip
    """The pixels of frame b that are new to it: not trusted (``mask`` under 0.5), and either
    their source lies outside frame a (content entering the picture,
    :func:`vidstyle.media.flow.outside`) or frame a's content warped there does not match b's
    (just disoccluded, or a flow gone wrong: :func:`vidstyle.media.flow.photometric_mask`).
    Warped, they would show frame a's edge pixels repeated into the picture (streaks) or
    whatever covered them. Specks and lines under 3 px wide are left out (3x3 opening): the
    warp of the earlier result is right there as far as a pixel can tell.

    Args:
        mask: the warp's reliability mask over frame b, HxW.
        flow_ba: HxWx2 flow from b to a.
        content_a, content_b: the content frames, HxWx3 RGB.

    Returns:
        HxW bool mask over frame b.
    """
    mismatch = flowlib.photometric_mask(content_a, content_b, flow_ba) < 0.5
    fresh = (flowlib.outside(flow_ba) | mismatch) & (np.asarray(mask) < 0.5)
    opened = cv2.morphologyEx(fresh.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return opened > 0


def in_colours_of(content: np.ndarray, result: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The content frame in the colours of its stylized result: each channel given the mean and
    spread that the result has over the trusted pixels (``mask`` 0.5 or more), where the content
    has its own, ``(c - mean_c) / std_c * std_r + mean_r``; the content as it is when none is
    trusted.

    Args:
        content: the frame's content, HxWx3 (0..255).
        result: the frame's start (the earlier result warped), HxWx3 float (0..255).
        mask: the warp's reliability mask, HxW.

    Returns:
        HxWx3 float32 on 0..255.
    """
    image = np.asarray(content, np.float32)
    trusted = np.asarray(mask) >= 0.5
    if not trusted.any():
        return image
    ours, theirs = image[trusted], np.asarray(result, np.float32)[trusted]
    scale = (theirs.std(axis=0) + 1e-3) / (ours.std(axis=0) + 1e-3)
    return np.clip((image - ours.mean(axis=0)) * scale + theirs.mean(axis=0), 0.0, 255.0)


ENTRY_PERIOD = 8  # px: the period of the texture carried into content entering slowly


def warp_beyond(image: np.ndarray, flow_ba: np.ndarray, interpolation: str = "lanczos"):
    """``image`` (frame a) warped into frame b by ``flow_ba``, where sources past a border take
    the texture just inside it: where content enters by more than ``ENTRY_PERIOD`` px per frame
    (the median over that side's outer pixels), the image mirrored at the border (a new strip
    each frame, seamless); where it enters more slowly, the image's outer ``ENTRY_PERIOD`` px
    carried on, repeated. A pixel whose source lies inside the picture is warped as by
    :func:`vidstyle.media.flow.warp` (the border repeated where the interpolation reaches past
    it).

    Neither repeating the border pixel nor mirroring the image at it gives new content a
    texture when it enters slowly: at under a pixel per frame, both give each new row (column)
    a copy of the outer one, and the rows entering frame after frame stack into streaks (the
    demo clip's bottom edge at 0.6 px per frame).

    Args:
        image: HxWxC (or HxW) image of frame a, float or uint8.
        flow_ba: HxWx2 flow from b to a.
        interpolation: ``lanczos`` or ``linear``.

    Returns:
        The warped image, float32, the shape of ``image``.
    """
    image = np.asarray(image, np.float32)
    plain = flowlib.warp(image, flow_ba, interpolation)
    height, width = flow_ba.shape[:2]
    map_x = np.arange(width, dtype=np.float32)[None, :] + flow_ba[..., 0].astype(np.float32)
    map_y = np.arange(height, dtype=np.float32)[:, None] + flow_ba[..., 1].astype(np.float32)
    beyond = (map_x < 0) | (map_x > width - 1) | (map_y < 0) | (map_y > height - 1)
    if not beyond.any():
        return plain
    entry = [-np.median(map_x[:, 0]), np.median(map_x[:, -1]) - (width - 1),
             -np.median(map_y[0]), np.median(map_y[-1]) - (height - 1)]  # fmt: skip
    fast = [e > ENTRY_PERIOD for e in entry]
    reach = max(-map_x.min(), map_x.max() - (width - 1), -map_y.min(), map_y.max() - (height - 1))
    pad = int(np.ceil(min(max(reach, 0.0), max(width, height)))) + 4  # Lanczos reaches 4 px
    cols = _extended(width, pad, *fast[:2])
    rows = _extended(height, pad, *fast[2:])
    padded = np.ascontiguousarray(image[rows][:, cols])
    kind = cv2.INTER_LANCZOS4 if interpolation == "lanczos" else cv2.INTER_LINEAR
    out = cv2.remap(padded, map_x + pad, map_y + pad, kind, borderMode=cv2.BORDER_REPLICATE)
    beyond = beyond.reshape(beyond.shape + (1,) * (image.ndim - 2))
    return np.where(beyond, out.reshape(image.shape), plain)


def _extended(size: int, pad: int, mirror_before: bool, mirror_after: bool) -> np.ndarray:
    """The indices of a line of ``size`` pixels extended by ``pad`` on each side: past a side,
    the line mirrored at it (``mirror_before``, ``mirror_after``), or its outer
    ``ENTRY_PERIOD`` pixels repeated."""
    index = np.arange(-pad, size + pad)
    low, high = index < 0, index >= size
    period = min(ENTRY_PERIOD, size)
    mirror = np.clip(np.where(low, -index, 2 * (size - 1) - index), 0, size - 1)
    index[low] = mirror[low] if mirror_before else index[low] % period
    index[high] = mirror[high] if mirror_after else size - period + (index[high] - size) % period
    return index


FRESH_SIGMA = 1.5  # px: the Gaussian that parts a fresh pixel's colours from its texture


def textured(colours: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """``colours``' low frequencies with ``texture``'s detail: ``G * colours + texture - G *
    texture`` (G: a Gaussian of ``FRESH_SIGMA`` px), for pixels new to a frame: the frame's
    content there in the result's colours (:func:`in_colours_of`), its shapes, with the content's
    detail, a third of a stylized frame's; and the earlier result's texture warped there.

    Args:
        colours, texture: HxWx3 float images on 0..255.

    Returns:
        HxWx3 float32 on 0..255.
    """
    low = cv2.GaussianBlur(np.asarray(colours, np.float32), (0, 0), FRESH_SIGMA)
    texture = np.asarray(texture, np.float32)
    return np.clip(low + texture - cv2.GaussianBlur(texture, (0, 0), FRESH_SIGMA), 0.0, 255.0)


EDGE_BAND = 8  # px: within this of frame a's border, DIS's patches reach past it (its flow drifts)


def steadied(flow_ba: np.ndarray, trusted: np.ndarray) -> np.ndarray:
    """``flow_ba`` with its values near frame a's border continued from the trusted flow further
    in: where a pixel's source lies within ``EDGE_BAND`` px of the border (or past it), and at
    the untrusted pixels that touch those, the flow becomes the mean of its known neighbours',
    filled in from the inside out (a 3x3 step at a time). Trusted specks under 3 px wide (amid
    a flow gone wrong past the border) count as untrusted.

    DIS matches patches of 8 px; at a source near the border the patch reaches past it, and
    the flow there drifts (a pan of a whole 24 px per frame comes out 21.6 to 23.5 px over the
    outer 5 px, against 24.00 further in). Warped by that flow, the strip that entered the frame
    before moves by up to 2 px against the rest: the largest part of a pan's temporal error.
    For a translation the continued flow is exact; for a smooth motion it is the nearest
    trusted one.

    Args:
        flow_ba: HxWx2 flow from b to a.
        trusted: HxW bool, the pixels of b whose flow passed the reliability tests.

    Returns:
        The steadied flow, HxWx2 float32 (``flow_ba`` itself when no pixel is near the border,
        or none is trusted away from it).
    """
    flow_ba = np.asarray(flow_ba, np.float32)
    height, width = flow_ba.shape[:2]
    src_x = np.arange(width, dtype=np.float32)[None, :] + flow_ba[..., 0]
    src_y = np.arange(height, dtype=np.float32)[:, None] + flow_ba[..., 1]
    depth = np.minimum(np.minimum(src_x, width - 1 - src_x), np.minimum(src_y, height - 1 - src_y))
    near = depth < EDGE_BAND
    kernel = np.ones((3, 3), np.uint8)  # trusted specks amid a failed flow are not trusted
    trusted = cv2.morphologyEx(np.asarray(trusted, np.uint8), cv2.MORPH_OPEN, kernel) > 0
    doubtful = (near | ~trusted).astype(np.uint8)
    _, parts = cv2.connectedComponents(doubtful, connectivity=8)
    fill = np.isin(parts, np.unique(parts[near])) & (doubtful > 0)
    known = (~fill & trusted).astype(np.float32)
    if not fill.any() or not known.any():
        return flow_ba
    out = flow_ba.copy()
    for _ in range(height + width):
        count = cv2.boxFilter(known, -1, (3, 3), normalize=False)
        total = cv2.boxFilter(out * known[..., None], -1, (3, 3), normalize=False)
        new = fill & (known == 0) & (count > 0)
        if not new.any():
            break
        out[new] = total[new] / count[new][:, None]
        known[new] = 1.0
    return out
