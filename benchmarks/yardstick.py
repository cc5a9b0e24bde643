"""An independent yardstick of temporal steadiness (issue 19): a flow, mask and warp that the
optimization does not use, so that no method can look steady by minimizing its own measure.

- Flow: OpenCV's Farneback (``cv2.calcOpticalFlowFarneback``: polynomial expansion, 5 pyramid
  levels, 15 px window), computed on the content frames; vidstyle uses DIS (fused from several
  starts, :func:`vidstyle.media.flow.flow`).
- Mask: its own forward-backward consistency test (Sundaram et al. 2010, the one Ruder et al.
  use, without their motion-boundary term), with bilinear sampling, and pixels whose source lies
  outside the picture left out; vidstyle's mask adds motion boundaries and a photometric check.
- Warp: bilinear (vidstyle warps with Lanczos).

Two figures per pair of frames, each averaged over the valid pixels M of frame t+1:

- ``mse``: Ruder et al.'s temporal error, the mean squared difference per channel on 0..255 RGB,
  1/(3|M|) sum_{p in M} sum_c (x_t+1[p, c] - warp(x_t)[p, c])^2 (what vidstyle's report shows,
  there measured through vidstyle's own flow);
- ``e_warp``: Lai et al., "Learning blind video temporal consistency", ECCV 2018, eq. 7: the
  squared RGB distance on 0..1, 1/|M| sum_{p in M} ||x_t+1[p] - warp(x_t)[p]||^2 (= 3 mse / 255^2).

Its bias stands beside its figure (:func:`measure`): the content frames' own error through the
same flows (the floor: a result steadier than its film is blurred), the error it charges a
perfectly steady crisp clip, the last result and a copy of it moved by half a pixel
(:func:`steady_charge`: its bilinear warp and its flow's error charge detail), and the figure
after the same Gaussian low-pass (``LOW_SIGMA`` px) of both frames of each pair, of the result
and of the content (detail finer than the low-pass is no longer charged; issue 29), with the
steady clip's charge after that low-pass beside it: Farneback's flow is off by 0.1-0.2 px on
textured pans and by more on plain regions, so even the low-passed figure grows with the
pictures' detail (a perfectly steady clip moved with a known camera, :func:`camera_steady`,
measures it on a real clip's flows).

Farneback fails under large motion as DIS does (``benchmarks/results.md``, issue 24); on the
synthetic clips of :mod:`benchmarks.synthclips` the true flow and masks are used instead
(:func:`with_flows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from vidstyle.media import flow as flowlib
from vidstyle.media import video
from vidstyle.media.images import load_image

LOW_SIGMA = 1.0  # px: the Gaussian low-pass of the yardstick's low-passed figure
FARNEBACK = dict(pyr_scale=0.5, levels=5, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2,
                 flags=0)  # fmt: skip


def farneback(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Farneback flow from RGB frame a to RGB frame b (vidstyle's convention: a's pixel (x, y)
    moves to (x + dx, y + dy) in b)."""
    grey = [cv2.cvtColor(np.ascontiguousarray(f, np.uint8), cv2.COLOR_RGB2GRAY) for f in (a, b)]
    return cv2.calcOpticalFlowFarneback(grey[0], grey[1], None, **FARNEBACK)


def warp_bilinear(image: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """Frame a's image pulled into frame b, ``out[y, x] = image[y + dy, x + dx]``, bilinear."""
    height, width = flow_ba.shape[:2]
    map_x = np.arange(width, dtype=np.float32)[None, :] + flow_ba[..., 0].astype(np.float32)
    map_y = np.arange(height, dtype=np.float32)[:, None] + flow_ba[..., 1].astype(np.float32)
    return cv2.remap(np.ascontiguousarray(image, np.float32), map_x, map_y, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)  # fmt: skip


def consistency_mask(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """Valid pixels of b: forward and backward flow agree,
    |w~ + w^|^2 <= 0.01 (|w~|^2 + |w^|^2) + 0.5 with w^ = flow_ba, w~ = flow_ab warped to b,
    and the source p + w^ lies inside frame a. Returns an HxW bool array."""
    w_hat = flow_ba.astype(np.float32)
    w_tilde = warp_bilinear(flow_ab, w_hat)
    sq = np.sum((w_tilde + w_hat) ** 2, axis=2)
    ok = sq <= 0.01 * (np.sum(w_tilde**2, axis=2) + np.sum(w_hat**2, axis=2)) + 0.5
    height, width = w_hat.shape[:2]
    src_x = np.arange(width)[None, :] + w_hat[..., 0]
    src_y = np.arange(height)[:, None] + w_hat[..., 1]
    return ok & (src_x >= 0) & (src_x <= width - 1) & (src_y >= 0) & (src_y <= height - 1)


def pair_error(x_a: np.ndarray, x_b: np.ndarray, flow_ba: np.ndarray, valid: np.ndarray):
    """(mse on 0..255 per channel, Lai's E_warp on 0..1) of x_b against x_a warped into b, over
    the valid pixels; (nan, nan) when none is valid."""
    if not valid.any():
        return float("nan"), float("nan")
    diff = np.asarray(x_b, np.float32) - warp_bilinear(x_a, flow_ba)
    mse = float(np.mean(diff[valid] ** 2))
    return mse, 3.0 * mse / 255.0**2


def independent_flows(contents: Sequence[np.ndarray]):
    """Per consecutive pair of content frames: (flow_ba, valid mask of b), by Farneback."""
    out = []
    for a, b in zip(contents[:-1], contents[1:]):
        forward, backward = farneback(a, b), farneback(b, a)
        out.append((backward, consistency_mask(forward, backward)))
    return out


def with_flows(frames: Sequence[np.ndarray], flows) -> dict:
    """The yardstick of a clip's frames through given ``(flow_ba, valid)`` per pair: the mean
    ``mse`` and ``e_warp`` over the pairs, and the share of pixels kept by the masks."""
    pairs = [pair_error(a, b, f, m) for (a, b), (f, m) in zip(zip(frames[:-1], frames[1:]), flows)]
    pairs = [p for p in pairs if not np.isnan(p[0])]
    return {
        "mse": float(np.mean([p[0] for p in pairs])) if pairs else float("nan"),
        "e_warp": float(np.mean([p[1] for p in pairs])) if pairs else float("nan"),
        "kept": float(np.mean([np.mean(m) for _, m in flows])) if flows else float("nan"),
    }


def measure(results: Sequence[np.ndarray], contents: Sequence[np.ndarray]) -> dict:
    """The independent yardstick of a stylized clip, with its bias beside it: Farneback flows of
    the content frames, their own masks, bilinear warps.

    Returns:
        ``mse``, ``e_warp`` and ``kept`` for the result; ``content_mse``, ``content_e_warp`` for
        the content frames (the floor); ``low_mse`` and ``content_low_mse``, the same after a
        Gaussian low-pass of ``LOW_SIGMA`` px of every frame (:func:`low_passed`); ``steady_mse``
        and ``steady_low_mse``, what it charges a perfectly steady clip of the last result, full
        band and after the low-pass (:func:`steady_charge`; the last, the frame furthest from
        the first, which all of a benchmark's rows share).
    """
    flows = independent_flows(contents)
    content = with_flows(contents, flows)
    steady, steady_low = steady_charge(results[-1])
    return with_flows(results, flows) | {
        "content_mse": content["mse"],
        "content_e_warp": content["e_warp"],
        "low_mse": with_flows(low_passed(results), flows)["mse"],
        "content_low_mse": with_flows(low_passed(contents), flows)["mse"],
        "steady_mse": steady,
        "steady_low_mse": steady_low,
    }


def low_passed(frames: Sequence[np.ndarray], sigma: float = LOW_SIGMA) -> list[np.ndarray]:
    """Every frame through the same Gaussian blur of ``sigma`` px (float32)."""
    return [cv2.GaussianBlur(np.asarray(f, np.float32), (0, 0), sigma) for f in frames]


def moved(image: np.ndarray, shift: tuple[float, float], pad: int) -> np.ndarray:
    """``image`` moved by ``shift`` px, ``out[y, x] = image[y + dy, x + dx]``: an exact,
    band-limited shift (a phase ramp in its Fourier transform), the image mirrored ``pad`` px at
    its borders first (``pad`` must exceed the shift); uint8."""
    big = cv2.copyMakeBorder(np.asarray(image, np.float64), pad, pad, pad, pad,
                             cv2.BORDER_REFLECT_101)  # fmt: skip
    fy = np.fft.fftfreq(big.shape[0])[:, None]
    fx = np.fft.fftfreq(big.shape[1])[None, :]
    ramp = np.exp(2j * np.pi * (fx * shift[0] + fy * shift[1]))[..., None]
    out = np.real(np.fft.ifft2(np.fft.fft2(big, axes=(0, 1)) * ramp, axes=(0, 1)))
    return np.clip(np.rint(out[pad:-pad, pad:-pad]), 0, 255).astype(np.uint8)


def steady_charge(image: np.ndarray, shift: tuple[float, float] = (0.5, 0.5),
                  margin: int = 8) -> tuple[float, float]:  # fmt: skip
    """What the yardstick charges a perfectly steady clip of ``image``: the image and a copy of
    it moved by ``shift`` px (:func:`moved`), measured as a clip (Farneback's flow, its mask, a
    bilinear warp; ``mse`` on 0..255) over the pixels ``margin`` px from the edges, full band
    and after the low-pass of :func:`low_passed`. A steady clip deserves 0: the figures are the
    charge for the image's own detail."""
    a, b = np.clip(np.rint(image), 0, 255).astype(np.uint8), moved(image, shift, 2 * margin)
    flow_ab, flow_ba = farneback(a, b), farneback(b, a)
    inner = np.zeros(a.shape[:2], bool)
    inner[margin:-margin, margin:-margin] = True
    valid = consistency_mask(flow_ab, flow_ba) & inner
    return pair_error(a, b, flow_ba, valid)[0], pair_error(*low_passed([a, b]), flow_ba, valid)[0]


def camera_steady(image: np.ndarray, step: tuple[float, float], contents) -> dict:
    """:func:`measure` of a perfectly steady clip of ``image`` on a clip whose camera moves by
    a known ``step`` (px per frame at the contents' size; ``samples/pan.mp4``'s pan): frame k is
    ``image`` moved by k ``step``, the flows are the content frames'. What the yardstick charges
    pictures like ``image`` that move exactly with the camera (issue 29)."""
    pad = int(np.ceil(len(contents) * max(abs(step[0]), abs(step[1])))) + 8
    clip = [moved(image, (k * step[0], k * step[1]), pad) for k in range(len(contents))]
    return measure(clip, contents)


def content_frames(clip, size: tuple[int, int], max_frames: int | None = None) -> list:
    """A clip's first frames (video file or image folder) resized to ``size`` (width, height),
    INTER_AREA: the content at the results' size, whichever tree made them."""
    clip = Path(clip)
    if clip.is_dir():
        files = video.list_sequence(clip)[:max_frames]
        rgbs = [load_image(f).rgb for f in files]
    else:
        rgbs = [f.rgb for f in video.read_frames(clip, None, None, max_frames)]
    return [cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) for rgb in rgbs]


def measure_folder(frames_dir, clip) -> dict:
    """:func:`measure` of the numbered PNGs in ``frames_dir`` (``--frames-dir``) against the
    clip's content frames at their size."""
    results = [load_image(p).rgb for p in sorted(Path(frames_dir).glob("*.png"))]
    height, width = results[0].shape[:2]
    return measure(results, content_frames(clip, (width, height), len(results)))


def bias(image: np.ndarray, width: int, shifts) -> list[dict]:
    """What the yardstick charges a perfectly steady clip: the image area-sampled at ``width``
    px (from 8x its size) in a window moved by each sub-pixel ``(dx, dy)`` shift, the true next
    frame, against three candidates for that frame: the truth, the first frame warped with
    Lanczos (vidstyle's start) and warped bilinearly; each measured with the known flow and with
    Farneback's (``mse`` on 0..255, the pixels 3 px from the edges)."""
    k, height = 8, width * image.shape[0] // image.shape[1]
    big = cv2.resize(np.asarray(image, np.float32), (width * k + 8 * k, height * k + 8 * k),
                     interpolation=cv2.INTER_AREA)  # fmt: skip

    def frame(dx, dy):
        moved = cv2.warpAffine(big, np.float32([[1, 0, -dx * k], [0, 1, -dy * k]]),
                               big.shape[1::-1], flags=cv2.INTER_LINEAR)  # fmt: skip
        window = moved[4 * k : 4 * k + height * k, 4 * k : 4 * k + width * k]
        return cv2.resize(window, (width, height), interpolation=cv2.INTER_AREA)

    rows, valid = [], np.zeros((height, width), bool)
    valid[3:-3, 3:-3] = True
    for dx, dy in shifts:
        a, b = frame(0, 0), frame(dx, dy)
        known = np.zeros((height, width, 2), np.float32) + np.float32([dx, dy])
        ahead = np.clip(flowlib.warp(a, known), 0, 255)
        candidates = {"truth": b, "lanczos": ahead, "bilinear": warp_bilinear(a, known)}
        grey = [np.clip(np.rint(f), 0, 255).astype(np.uint8) for f in (a, b)]
        flow_ab, flow_ba = farneback(*grey), farneback(grey[1], grey[0])
        mask = consistency_mask(flow_ab, flow_ba) & valid
        row = {"shift": (dx, dy), "crispness lanczos/bilinear":
               flowlib.detail(ahead.astype(np.uint8)) / flowlib.detail(
                   candidates["bilinear"].astype(np.uint8))}  # fmt: skip
        for name, x in candidates.items():
            row[f"{name} known"] = pair_error(a, x, known, valid)[0]
            row[f"{name} farneback"] = pair_error(a, x, flow_ba, mask)[0]
        rows.append(row)
    return rows
