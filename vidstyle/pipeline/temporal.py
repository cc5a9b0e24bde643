"""The temporal terms of a frame against several earlier (or, in a backward sweep, later) results:
long-term consistency (Ruder, Dosovitskiy, Brox, "Artistic style transfer for videos", 2016,
sec. 3.2), with the flows between frame pairs computed once and kept.

Frame i is held to the results of its neighbours n_j (n_j = i - j in a forward sweep, i + j in a
backward one) for each offset j of J, each warped into frame i by its own flow, with the
reliability mask c_j of that flow (:func:`vidstyle.media.flow.trusted_mask`: the paper's
forward-backward and motion-boundary tests, and a photometric check that the warped content matches
the frame's own). A pixel counts only for its nearest reliable neighbour (the paper's eq. 8)::

    c_long_j = max(c_j - sum_{k in J, k < j} c_k, 0)

The loss is the sum of the masked squared differences, sum_j c_long_j (x - w_j)^2. It is the
same, up to a constant that does not depend on x, as one masked term (sum_j c_long_j) (x - t)^2
against the blend t = sum_j c_long_j w_j / sum_j c_long_j. So the engine takes one target and one
mask, as for the short-term term alone; with binary masks, t is at each pixel the warped result
of the nearest reliable neighbour, and the mask is the union of the reliable pixels.

The share of a frame's pixels that the temporal term holds (:func:`held_share`) goes into the
report, with a warning for runs of frames whose flow could hardly be trusted
(:func:`unreliable_runs`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidstyle.fsutil import atomic_path
from vidstyle.media import flow as flowlib
from vidstyle.media.warped import (
    catch_up,
    fresh_pixels,
    in_colours_of,
    restore_detail,
    steadied,
    textured,
    warp_beyond,
)


def long_term_masks(masks: list[np.ndarray]) -> list[np.ndarray]:
    """The paper's long-term weights from the reliability masks of the neighbours.

    Args:
        masks: c_j of each offset j, HxW, in increasing order of j (the nearest neighbour first).

    Returns:
        c_long_j = max(c_j - sum of the c_k before it, 0), in the same order.
    """
    out, before = [], None
    for mask in masks:
        mask = np.asarray(mask, np.float32)
        out.append(mask if before is None else np.maximum(mask - before, 0.0))
        before = mask if before is None else before + mask
    return out


def combine(warped: list[np.ndarray], weights: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One target and one mask equivalent to several masked squared-difference terms.

    Args:
        warped: the neighbours' warped results, HxWx3, nearest first.
        weights: their per-pixel weights (:func:`long_term_masks`), HxW.

    Returns:
        (t, m): m = sum_j weights_j and t = sum_j weights_j warped_j / m, so that
        sum_j weights_j (x - warped_j)^2 = m (x - t)^2 + a constant; where m is 0, t is the
        nearest neighbour's warped result (it has no weight there).
    """
    if len(warped) == 1:
        return warped[0], weights[0]
    total = np.sum(weights, axis=0)
    blend = np.sum([w[..., None] * image for w, image in zip(weights, warped)], axis=0)
    safe = np.maximum(total, 1e-12)[..., None]
    target = np.where(total[..., None] > 0, blend / safe, warped[0])
    return target.astype(np.float32), total.astype(np.float32)


class FlowCache:
    """Optical flows between pairs of content frames, computed once.

    Args:
        folder: where to keep them (float16 ``.npz`` files, about W x H x 8 bytes a pair, so that
            a later sweep or a resumed run reuses them); None keeps none (one sweep needs each
            pair once).
    """

    def __init__(self, folder: Path | None = None):
        self.folder = folder

    def pair(self, a: int, b: int, content_a: np.ndarray, content_b: np.ndarray):
        """``(flow_ab, flow_ba)`` between frames ``a`` and ``b`` (their content, working size).

        Args:
            a, b: the frames' indices (the key of the pair, either order).
            content_a, content_b: the frames, HxWx3.

        Returns:
            The flow from a to b and the flow from b to a, HxWx2 float32.
        """
        if a > b:
            flow_ba, flow_ab = self.pair(b, a, content_b, content_a)
            return flow_ab, flow_ba
        if self.folder is None:
            return flowlib.flow(content_a, content_b), flowlib.flow(content_b, content_a)
        path = self.folder / f"{a:06d}-{b:06d}.npz"
        if not path.is_file():
            forward = flowlib.flow(content_a, content_b).astype(np.float16)
            backward = flowlib.flow(content_b, content_a).astype(np.float16)
            with atomic_path(path) as tmp, tmp.open("wb") as file:
                np.savez(file, forward=forward, backward=backward)
        with np.load(path) as saved:  # the stored, rounded flows: the same on every run
            return saved["forward"].astype(np.float32), saved["backward"].astype(np.float32)


@dataclass(frozen=True)
class Neighbour:
    """A frame whose result another frame is held to: its index, content and result (working
    size, uint8), at ``offset`` frames from it."""

    offset: int
    index: int
    content: np.ndarray
    result: np.ndarray


@dataclass(frozen=True)
class Start:
    """What a frame starts from, given its neighbours.

    Attributes:
        warped: the nearest neighbour's result warped into the frame (0..255 float32), its
            ``fresh`` pixels the frame's content in the result's colours with its texture.
        mask: that warp's reliability mask (what the temporal error is measured over).
        flows: (flow from the neighbour to the frame, and back).
        target, weights: the combined temporal target (0..255) and its per-pixel weights.
        fresh: HxW bool, the pixels new to the frame that started from its content (entering
            the picture or just disoccluded: :func:`vidstyle.media.warped.fresh_pixels`); None
            when not looked for.
    """

    warped: np.ndarray
    mask: np.ndarray
    flows: tuple[np.ndarray, np.ndarray]
    target: np.ndarray
    weights: np.ndarray
    fresh: np.ndarray | None = None


def start_from(index: int, content: np.ndarray, neighbours: list[Neighbour], flows: FlowCache,
               target_warp: str = "crisp", fresh: bool = True,
               detail: float | None = None) -> Start:  # fmt: skip
    """Warp each neighbour's result into frame ``index`` and combine their temporal terms.

    The start is the nearest neighbour's result warped with Lanczos (``crisp``: with the detail
    the warp lost put back, :func:`vidstyle.media.warped.restore_detail`). With ``fresh``, the
    pixels new to the frame (:func:`vidstyle.media.warped.fresh_pixels`: content entering the
    picture, or just disoccluded) do not start from the edge pixels that a warp repeats into
    the picture, nor from what covered them before: they start from the frame's content in the
    colours of the result (:func:`vidstyle.media.warped.in_colours_of`), its shapes, with the
    earlier result's texture (:func:`vidstyle.media.warped.textured`; the content alone started
    too soft to be stylized in a later frame's few iterations: 0.59 of the crispness of the
    frame stylized alone in the strip that entered, at the demo's settings). Past the border,
    that texture is the result's own just inside it (:func:`vidstyle.media.warped.warp_beyond`:
    mirrored where content enters fast, carried on where it enters slowly; mirrored there, or
    with its border repeated, content entering at under a pixel per frame got a copy of the
    outer row, frame after frame: streaks), in the start and the temporal target alike. Each
    temporal target is its neighbour's result warped by :func:`warp_result`. With ``fresh``,
    the flow where the sources lie near the neighbour's border is continued from the trusted
    flow further in (:func:`vidstyle.media.warped.steadied`): DIS drifts there by up to 2 px,
    and the strip that entered the frame before moved against the rest.

    Args:
        index: the frame's index.
        content: its content frame, HxWx3 at the working size.
        neighbours: at least one, nearest (offset 1) first.
        flows: where the flows come from.
        target_warp: the temporal target's warp: ``crisp``, ``lanczos`` or ``linear``.
        fresh: whether the pixels new to the frame start as said above, sources past the
            border are carried on and the flow near it steadied (False: the warp, its border
            repeated, as before issue 29; ``--new-content warp``).
        detail: with ``crisp``, the shot's first frame's result's detail, which the detail put
            back may rise to (:func:`vidstyle.media.warped.catch_up`: the few iterations of
            each later frame lose a little detail, which would compound); None: the
            neighbour's own detail.

    Returns:
        The frame's :class:`Start`.
    """
    warped, masks, first, start = [], [], None, None
    border = "extend" if fresh else "replicate"
    for near in neighbours:
        flow_nf, flow_fn = flows.pair(near.index, index, near.content, content)
        mask = flowlib.trusted_mask(flow_nf, flow_fn, near.content, content)
        if fresh:  # the flow near the border continued from inside (DIS drifts there)
            flow_fn = steadied(flow_fn, mask >= 0.5)
        scale = catch_up(detail, near.result) if target_warp == "crisp" else 1.0  # crisp's alone
        target = warp_result(near.result, flow_fn, mask, target_warp, border, scale)
        if start is None:  # the nearest neighbour's result, warped with Lanczos (and restored)
            how = "lanczos" if target_warp == "linear" else target_warp
            start = target if how == target_warp else warp_result(
                near.result, flow_fn, mask, how, border, scale)  # fmt: skip
            new = fresh_pixels(mask, flow_fn, near.content, content) if fresh else None
            if new is not None:  # the content's colours and shapes, the result's texture
                start = np.where(new[..., None], textured(in_colours_of(content, start, mask),
                                                          start), start)  # fmt: skip
        warped.append(target)
        masks.append(mask)
        first = first or (flow_nf, flow_fn)
    target, weights = combine(warped, long_term_masks(masks))
    return Start(start.astype(np.float32), masks[0], first, target, weights, new)


def warp_result(result: np.ndarray, flow_ba: np.ndarray, mask: np.ndarray, how: str = "crisp",
                border: str = "replicate", scale: float = 1.0) -> np.ndarray:  # fmt: skip
    """An earlier result warped into a frame, as its temporal target.

    ``linear`` (bilinear) averages neighbours wherever the flow is fractional: a blur that the
    next frame, held to it, keeps, and that compounds frame after frame (at the demo's settings
    the later frames fell to under half the crispness of the same frames stylized alone).
    ``lanczos`` loses a little detail at each warp, which compounds too, more slowly; ``crisp``
    is Lanczos with that detail put back, measured over the trusted pixels (``mask``), so that
    a long clip keeps the first frame's crispness.

    Args:
        result: the earlier result (frame a), HxWx3 uint8 or float 0..255.
        flow_ba: HxWx2 flow from the frame (b) to a.
        mask: HxW reliability of the warp (its trusted pixels measure the lost detail).
        how: ``crisp``, ``lanczos`` or ``linear``.
        border: what a source outside the result gives: ``replicate`` or ``reflect``
            (:func:`vidstyle.media.flow.warp`), or ``extend`` (the texture just inside,
            :func:`vidstyle.media.warped.warp_beyond`).
        scale: with ``crisp``, the detail put back over the result's own
            (:func:`vidstyle.media.warped.restore_detail`).

    Returns:
        The warped result, HxWx3 float32 on 0..255.
    """
    image = np.asarray(result, np.float32)
    interpolation = "linear" if how == "linear" else "lanczos"
    if border == "extend":
        warped = np.clip(warp_beyond(image, flow_ba, interpolation), 0.0, 255.0)
    else:
        warped = np.clip(flowlib.warp(image, flow_ba, interpolation, border), 0.0, 255.0)
    return restore_detail(warped, image, flow_ba, mask, scale)[0] if how == "crisp" else warped


def join(start: Start, warped: np.ndarray, mask: np.ndarray) -> Start:
    """``start`` also held to one more warped result (a neighbour on the other side): its
    temporal target becomes the mean of the reliable targets at each pixel, its weight their union
    (at most 1, so that a pixel held on both sides weighs no more than one held on one).

    Args:
        start: the frame's :class:`Start`.
        warped: the other result warped into the frame, HxWx3 (0..255).
        mask: that warp's reliability mask, HxW.

    Returns:
        ``start`` with the joined ``target`` and ``weights`` (its start image and mask unchanged).
    """
    total = start.weights + mask
    blend = start.weights[..., None] * start.target + mask[..., None] * warped
    safe = np.maximum(total, 1e-12)[..., None]
    target = np.where(total[..., None] > 0, blend / safe, start.target).astype(np.float32)
    weights = np.minimum(total, 1.0).astype(np.float32)
    return dataclasses.replace(start, target=target, weights=weights)


HELD_LOW = 0.5  # a frame whose temporal term holds less than this share of its pixels ...
LOW_RUN = 3  # ... for this many frames in a row makes the report warn


def held_share(weights: np.ndarray) -> float:
    """The share of a frame's pixels that its temporal term holds (weight 0.5 or more).

    Args:
        weights: the temporal term's per-pixel weights (:attr:`Start.weights`), HxW.

    Returns:
        A share in 0..1.
    """
    return float(np.mean(np.asarray(weights) >= 0.5))


def unreliable_runs(records: list[dict], low: float = HELD_LOW, run: int = LOW_RUN) -> str | None:
    """A warning line when the flow looks unreliable for a run of frames: ``run`` or more
    consecutive frames (no shot cut between them) whose temporal term held under ``low`` of
    their pixels (``temporal_held`` in their records), where the video is hardly steadier than
    frames stylized one by one.

    Args:
        records: the frames' records, in order.
        low: the share under which a frame counts.
        run: the number of frames in a row that makes a warning.

    Returns:
        The warning, naming the runs of frames (first to last index), or None.
    """
    runs, current = [], []
    for record in records:
        held = record.get("temporal_held")
        if held is not None and held < low and not record.get("cut"):
            current.append(record["index"])
            continue
        runs, current = runs + ([current] if len(current) >= run else []), []
    runs += [current] if len(current) >= run else []
    if not runs:
        return None
    spans = ", ".join(f"{r[0]}-{r[-1]}" for r in runs)
    return (
        f"the optical flow looks unreliable for frames {spans}: the temporal term held under "
        f"{low:.0%} of their pixels, so they are little steadier than frames stylized alone"
    )
