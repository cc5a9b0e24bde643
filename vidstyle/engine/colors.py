"""Keeping the photo's own colours (``preserve_colors``), after Gatys, Bethge, Hertzmann and
Shechtman, "Preserving Color in Neural Artistic Style Transfer" (2016). Pure NumPy.

``luminance``: the transfer runs on luminance only (section 2.2 of the paper). The content and
the style are converted to YIQ; the style's luminance is first matched to the content's mean and
spread, L_s' = sigma_c / sigma_s (L_s - mu_s) + mu_c; each luminance is replicated to 3 channels
for VGG19. The result's luminance is then recombined with the content's I and Q channels, so its
chroma is the photo's.

``histogram``: the style's colours are matched to the content's before the transfer (section
2.1): every style pixel x becomes x' = A (x - mu_s) + mu_c with A = Sigma_c^(1/2) Sigma_s^(-1/2)
(the symmetric square roots, the paper's "image analogies" variant), so the style's colour mean
and covariance become the content's. The transfer itself is the usual one.

Both make the style's targets depend on the content. A clip keeps the targets of its first frame
for every frame (the same transform throughout: no flicker from frame-by-frame matching).
"""

from __future__ import annotations

import dataclasses

import numpy as np

MODES = ("none", "luminance", "histogram")
_RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    np.float64,
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)
_EPS = 1e-5  # regularises a flat image's covariance (a grey style has none)


def to_yiq(rgb: np.ndarray) -> np.ndarray:
    """RGB (any shape ...x3, any scale) to YIQ on the same scale, float64."""
    return np.asarray(rgb, np.float64) @ _RGB_TO_YIQ.T


def from_yiq(yiq: np.ndarray) -> np.ndarray:
    """YIQ (...x3) back to RGB, float64."""
    return yiq @ _YIQ_TO_RGB.T


def luminance3(rgb: np.ndarray) -> np.ndarray:
    """The luminance Y of RGB images replicated to 3 channels, float32 on the same scale."""
    y = to_yiq(rgb)[..., :1]
    return np.repeat(y, 3, axis=-1).astype(np.float32)


def match_luminance(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The style as 3-channel luminance whose mean and spread are the content's (uint8 HxWx3 in,
    uint8 out): L_s' = sigma_c / sigma_s (L_s - mu_s) + mu_c."""
    ls, lc = to_yiq(style)[..., 0], to_yiq(content)[..., 0]
    matched = lc.std() / max(ls.std(), _EPS) * (ls - ls.mean()) + lc.mean()
    return _uint8(np.repeat(matched[..., None], 3, axis=-1))


def match_histogram(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The style with the content's colour mean and covariance (uint8 HxWx3 in and out).

    x' = Sigma_c^(1/2) Sigma_s^(-1/2) (x - mu_s) + mu_c, per pixel, RGB on 0..255.
    """
    xs = np.asarray(style, np.float64).reshape(-1, 3)
    xc = np.asarray(content, np.float64).reshape(-1, 3)
    transform = _sqrtm(np.cov(xc.T)) @ _sqrtm(np.cov(xs.T), inverse=True)
    out = (xs - xs.mean(0)) @ transform.T + xc.mean(0)
    return _uint8(out.reshape(style.shape))


def recombine(result: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The result's luminance with the content's chroma (I and Q): uint8 images of one shape."""
    yiq = to_yiq(content)
    yiq[..., 0] = to_yiq(result)[..., 0]
    return _uint8(from_yiq(yiq))


def prepare_style(style: np.ndarray, content: np.ndarray, mode: str) -> np.ndarray:
    """The style image the targets are computed from under ``mode`` (``none``: itself)."""
    if mode == "luminance":
        return match_luminance(style, content)
    if mode == "histogram":
        return match_histogram(style, content)
    return style


def luminance_inputs(content, init=None, temporal=None):
    """An optimization's inputs as 3-channel luminance (``preserve_colors`` luminance): the
    content, the start image and a video frame's warped previous result (its mask unchanged).

    Returns:
        (content, init, temporal), float32 on their own scales; None stays None.
    """
    if temporal is not None:
        temporal = dataclasses.replace(temporal, warped=luminance3(temporal.warped))
    return luminance3(content), None if init is None else luminance3(init), temporal


def _sqrtm(cov: np.ndarray, inverse: bool = False) -> np.ndarray:
    """The symmetric square root (or its inverse) of a covariance matrix, regularised."""
    values, vectors = np.linalg.eigh(cov + _EPS * np.eye(len(cov)))
    roots = np.sqrt(np.maximum(values, _EPS))
    return (vectors * (1.0 / roots if inverse else roots)) @ vectors.T


def _uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
