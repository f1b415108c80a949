"""HART's spatial attention (Kosiorek et al. 2017, §3, eqs 1–2) and the box geometry it uses.

Attention and boxes are (y, x, h, w): the top-left corner and the size in units of the image's
height and width, so (0, 0, 1, 1) is the whole image. Pixel row r covers [r, r + 1) before
normalisation. The glimpse's n rows sample the attention box at the centres of n equal cells,
μ_i = y + (i + ½)·γ with stride γ = h / n, so that a box of n pixels at stride 1 extracts exactly
those pixels (the released code spaces the centres by h / (n − 1) from corner to corner and adds a
constant half-pixel offset). Each row of the filterbank is a Gaussian whose σ depends on the
stride alone (§3): ``sigma_of_stride``, a 4th-order polynomial fitted to bicubic resampling
(``fit_sigma_polynomial``). A row is divided by its sum over the unbounded pixel lattice, so that
the image is zero-padded: a glimpse of a constant image is that constant wherever the attention
lies inside it, and fades to zero outside.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

SIGMA_COEFFICIENTS = (0.12328, 0.26903, 0.03305, -0.00404, 0.00015)
"""σ(γ) = Σ c_k γ^k, k = 0..4, from ``fit_sigma_polynomial()`` (strides 0.25..12 px)."""
MIN_SIGMA = 0.2
REACH = 5.0
"""How many σ beyond the attention box a cropped glimpse keeps (``glimpse``)."""
EPS = 1e-6


def sigma_of_stride(stride: Tensor) -> Tensor:
    """σ (pixels) of the Gaussians for ``stride`` (pixels): the fitted polynomial (§3)."""
    sigma = torch.zeros_like(stride)
    for power, coefficient in enumerate(SIGMA_COEFFICIENTS):
        sigma = sigma + coefficient * stride**power
    return sigma.clamp_min(MIN_SIGMA)


def filterbank(
    start: Tensor, size: Tensor, cells: int, pixels: int, sigma: float | None = None
) -> Tensor:
    """(B, cells, pixels) Gaussian filterbank of one axis (eq. 1): row i centred at
    start + (i + ½)·size/cells, ``start`` and ``size`` (B,) in pixels; σ ``sigma_of_stride``
    unless given."""
    stride = size / cells
    index = torch.arange(cells, device=start.device, dtype=start.dtype)
    mu = start[:, None] + (index + 0.5) * stride[:, None]  # (B, cells)
    if sigma is None:
        sigma = sigma_of_stride(stride)[:, None, None]
    else:
        sigma = torch.full_like(stride, sigma)[:, None, None]
    centres = torch.arange(pixels, device=start.device, dtype=start.dtype) + 0.5
    weights = torch.exp(-0.5 * ((centres - mu[..., None]) / sigma) ** 2)
    return weights / lattice_sum(mu, sigma)


def lattice_sum(mu: Tensor, sigma: Tensor, terms: int = 4) -> Tensor:
    """Σ over every pixel centre p + ½, p ∈ Z, of the Gaussian (μ, σ): the row normaliser, by
    Poisson summation, σ√(2π)·(1 + 2 Σ_k exp(−2π²σ²k²) cos(2πk(μ − ½))), k = 1..``terms``
    (relative error under 1e-5 for σ ≥ ``MIN_SIGMA``; no data-dependent bound, so no device
    synchronisation)."""
    k = torch.arange(1, terms + 1, device=mu.device, dtype=mu.dtype)
    waves = torch.exp(-2 * math.pi**2 * sigma**2 * k**2) * torch.cos(
        2 * math.pi * k * (mu[..., None] - 0.5)
    )
    return sigma * math.sqrt(2 * math.pi) * (1 + 2 * waves.sum(-1, keepdim=True))


def glimpse(images: Tensor, attention: Tensor, size: tuple[int, int], crop: bool = False) -> Tensor:
    """g = A_y x A_xᵀ (eq. 2) of images (B, C, H, W) at attention (B, 4): (B, C, h, w). Images are
    floats in [0, 1] or uint8 (scaled by 1/255). ``crop`` first cuts the images to the rows and
    columns within ``REACH`` σ of any Gaussian of the batch (weights beyond are below 4e-6 of the
    peak), so that the cost follows the glimpse, not the image; it reads the bounds on the host
    (a device synchronisation), so inference uses it and training does not."""
    height, width = images.shape[-2:]
    y, x, h, w = attention.unbind(-1)
    rows_at, cols_at = (y * height, h * height), (x * width, w * width)
    top, bottom = _window(*rows_at, size[0], height) if crop else (0, height)
    left, right = _window(*cols_at, size[1], width) if crop else (0, width)
    images = images[..., top:bottom, left:right]
    if images.dtype == torch.uint8:
        images = images.float() / 255
    rows = filterbank(rows_at[0] - top, rows_at[1], size[0], bottom - top)
    cols = filterbank(cols_at[0] - left, cols_at[1], size[1], right - left)
    return torch.einsum("bih,bchw,bjw->bcij", rows, images, cols)


def _window(start: Tensor, size: Tensor, cells: int, pixels: int) -> tuple[int, int]:
    """The pixel range [first, last) of one axis that every filterbank row of the batch reaches
    within ``REACH`` σ, inside [0, pixels)."""
    reach = REACH * sigma_of_stride(size / cells).max()
    first = int(torch.floor((start - reach).min()).clamp(0, pixels - 1))
    last = int(torch.ceil((start + size + reach).max()).clamp(first + 1, pixels))
    return first, last


def contrast_normalise(glimpses: Tensor) -> Tensor:
    """Each glimpse (B, C, h, w) rescaled to [0, 1] (the released code's normalisation)."""
    flat = glimpses.flatten(1)
    low, high = flat.min(1).values, flat.max(1).values
    scale = (high - low).clamp_min(EPS)
    return (glimpses - low[:, None, None, None]) / scale[:, None, None, None]


def area(boxes: Tensor) -> Tensor:
    """Area of (…, 4) boxes; a negative size counts as zero."""
    return boxes[..., 2].clamp_min(0) * boxes[..., 3].clamp_min(0)


def intersection(a: Tensor, b: Tensor) -> Tensor:
    """Area of the overlap of boxes a and b (…, 4)."""
    top = torch.maximum(a[..., 0], b[..., 0])
    left = torch.maximum(a[..., 1], b[..., 1])
    bottom = torch.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2])
    right = torch.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3])
    return (bottom - top).clamp_min(0) * (right - left).clamp_min(0)


def iou(a: Tensor, b: Tensor) -> Tensor:
    """Intersection over union of boxes a and b (…, 4)."""
    overlap = intersection(a, b)
    return overlap / (area(a) + area(b) - overlap).clamp_min(EPS)


def box_mask(attention: Tensor, boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """τ(a, b) (§4, eq. 12): (B, h, w) mask over the glimpse's cells, 1 where the cell's centre
    lies in the box ``boxes`` (B, 4), both boxes in image units."""
    y, x, h, w = attention.unbind(-1)
    rows = y[:, None] + (torch.arange(size[0], device=y.device) + 0.5) / size[0] * h[:, None]
    cols = x[:, None] + (torch.arange(size[1], device=x.device) + 0.5) / size[1] * w[:, None]
    top, left, height, width = (v[:, None] for v in boxes.unbind(-1))
    inside_rows = (rows >= top) & (rows < top + height)
    inside_cols = (cols >= left) & (cols < left + width)
    return (inside_rows[:, :, None] & inside_cols[:, None, :]).to(attention.dtype)


def ltwh_to_unit(boxes: Tensor, height: int, width: int) -> Tensor:
    """(y, x, h, w) image-unit boxes of 1-based pixel (left, top, width, height) boxes."""
    left, top, w, h = boxes.unbind(-1)
    return torch.stack([(top - 1) / height, (left - 1) / width, h / height, w / width], -1)


def unit_to_ltwh(boxes: Tensor, height: int, width: int) -> Tensor:
    """Inverse of ``ltwh_to_unit``."""
    y, x, h, w = boxes.unbind(-1)
    return torch.stack([x * width + 1, y * height + 1, w * width, h * height], -1)


def fit_sigma_polynomial(
    strides: np.ndarray | None = None, degree: int = 4, seed: int = 0
) -> np.ndarray:
    """Coefficients c_0..c_degree of σ(γ) (§3): for each stride γ, the σ whose filterbank
    resamples random 1-D signals closest (mean squared error) to antialiased bicubic resizing
    at that stride, then a least-squares polynomial through those σ."""
    strides = np.linspace(0.25, 12, 48) if strides is None else np.asarray(strides)
    rng = np.random.default_rng(seed)
    cells = 16
    best = []
    for stride in strides:
        length = max(int(round(cells * stride)), 1)
        signals = torch.from_numpy(rng.random((64, length)))
        target = F.interpolate(
            signals[:, None, None, :], size=(1, cells), mode="bicubic", antialias=True
        )[:, 0, 0]
        start = torch.zeros(1, dtype=torch.float64)
        size = torch.full((1,), float(length), dtype=torch.float64)
        candidates = np.linspace(0.05, 1.0 * stride + 1, 200)
        errors = [
            float(
                ((filterbank(start, size, cells, length, s)[0] @ signals.T).T - target)
                .pow(2)
                .mean()
            )
            for s in candidates
        ]
        best.append(candidates[int(np.argmin(errors))])
    return np.polynomial.polynomial.polyfit(strides, np.array(best), degree)
