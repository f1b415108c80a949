"""KerCorrTracker: the kernelized correlation filter (KCF) of Henriques, Caseiro, Martins and
Batista, "High-Speed Tracking with Kernelized Correlation Filters" (TPAMI 2015), in numpy.

Gan et al. (2015) compare against KCF with grey features and the Gaussian kernel. We write it from
the paper's equations with the defaults of the authors' MATLAB code (``run_tracker.m``,
``tracker.m``): padding 1.5, lambda 1e-4, output sigma factor 0.1, interpolation factor 0.075,
kernel sigma 0.2, cell size 1. As in that code, the kernel's squared distance is divided by the
number of feature elements (eq. 31 leaves it unnormalised; sigma 0.2 assumes the division), and
the box keeps its initial size (KCF estimates no scale). Unlike it, large targets are not
downsampled. Windows crossing the image border replicate the edge pixels (MATLAB's
``get_subwindow``).

Boxes are (left, top, width, height) pixels, 1-based: the first pixel has left = 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.errors import ConfigError
from harness.protocol import SingleObjectTracker

GREY_WEIGHTS = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma, as MATLAB's rgb2gray


def wrapped_offsets(size: int) -> np.ndarray:
    """The cyclic displacement of each DFT index: 0, 1, ..., then the negative half."""
    return np.fft.fftfreq(size, 1.0 / size)


def gaussian_labels(shape: tuple[int, int], sigma: float) -> np.ndarray:
    """The regression target y: a Gaussian of the cyclic displacement, peaking at index (0, 0)."""
    rows, cols = (wrapped_offsets(size) for size in shape)
    return np.exp(-0.5 / sigma**2 * (rows[:, None] ** 2 + cols[None, :] ** 2))


def gaussian_correlation(xf: np.ndarray, zf: np.ndarray, sigma: float) -> np.ndarray:
    """The DFT of the Gaussian kernel correlation k^{xz} of two equally sized feature maps given by
    their DFTs (eq. 31): k^{xz}_d = exp(-||x - P^{-d} z||^2 / (sigma^2 n)), where P^{-d} z shifts z
    cyclically back by d and n is the number of elements; all shifts at once via
    ||x||^2 + ||z||^2 - 2 F^-1(x-hat* ⊙ z-hat) (norms by Parseval)."""
    n = xf.size
    xx = np.vdot(xf, xf).real / n
    zz = np.vdot(zf, zf).real / n
    xz = np.fft.ifft2(np.conj(xf) * zf).real
    distance = np.maximum(xx + zz - 2 * xz, 0) / n
    return np.fft.fft2(np.exp(-distance / sigma**2))


def peak_offset(response: np.ndarray, subpixel: bool) -> np.ndarray:
    """(row, col) displacement of the response's maximum, wrapped to the negative half-space past
    half the size; with ``subpixel``, refined by a parabola through the peak and its two cyclic
    neighbours on each axis."""
    peak = np.unravel_index(np.argmax(response), response.shape)
    offset = np.array([wrapped_offsets(size)[i] for size, i in zip(response.shape, peak)])
    if subpixel:
        for axis, size in enumerate(response.shape):
            line = np.take(response, peak[1 - axis], axis=1 - axis)  # through the peak
            before, at, after = line[[(peak[axis] - 1) % size, peak[axis], (peak[axis] + 1) % size]]
            curvature = before - 2 * at + after
            if curvature < 0:
                offset[axis] += 0.5 * (before - after) / curvature
    return offset


def grey(image: np.ndarray) -> np.ndarray:
    """A float grey image in [0, 255] from an HxW, HxWx1 or HxWx3 (RGB) image."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[..., 0]
    return image[..., :3] @ GREY_WEIGHTS


class KerCorrTracker(SingleObjectTracker):
    """KCF with grey features and the Gaussian kernel (module doc). ``cell_size`` > 1 averages
    the grey pixels over cells (the filter then works on cells, moves by whole cells unless
    ``subpixel``); ``subpixel`` is our option: the MATLAB code moves by whole cells."""

    def __init__(
        self,
        padding: float = 1.5,
        regularization: float = 1e-4,
        output_sigma_factor: float = 0.1,
        interpolation_factor: float = 0.075,
        kernel_sigma: float = 0.2,
        cell_size: int = 1,
        subpixel: bool = False,
    ) -> None:
        self.padding = padding
        self.regularization = regularization
        self.output_sigma_factor = output_sigma_factor
        self.interpolation_factor = interpolation_factor
        self.kernel_sigma = kernel_sigma
        self.cell_size = cell_size
        self.subpixel = subpixel
        self.check_config(vars(self))

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        """Raise ConfigError naming the first config value out of its range."""
        rules = {
            "padding": (lambda v: v >= 0, ">= 0"),
            "regularization": (lambda v: v > 0, "> 0"),
            "output_sigma_factor": (lambda v: v > 0, "> 0"),
            "interpolation_factor": (lambda v: 0 <= v <= 1, "in [0, 1]"),
            "kernel_sigma": (lambda v: v > 0, "> 0"),
            "cell_size": (lambda v: v >= 1 and int(v) == v, "a whole number >= 1"),
        }
        for key, (valid, expected) in rules.items():
            if not valid(config[key]):
                raise ConfigError(f"kcf: {key} must be {expected}, got {config[key]!r}")

    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        self.box = np.asarray(box, dtype=np.float64).copy()
        size = self.box[[3, 2]]  # (height, width)
        cells = np.maximum(np.floor(size * (1 + self.padding) / self.cell_size), 1).astype(int)
        self.cells = (int(cells[0]), int(cells[1]))
        self.window = np.array(self.cells) * self.cell_size
        sigma = np.sqrt(size.prod()) * self.output_sigma_factor / self.cell_size
        self.labels_f = np.fft.fft2(gaussian_labels(self.cells, sigma))
        self.hann = np.outer(np.hanning(self.cells[0]), np.hanning(self.cells[1]))
        self.template_f, self.alpha_f = self._learn(image)

    def update(self, image: np.ndarray) -> np.ndarray:
        """Detect (eq. 22: response = F^-1(k-hat^{xz} ⊙ alpha-hat)), move the box to the peak,
        then retrain there and interpolate model and template linearly (MATLAB ``tracker.m``)."""
        zf = np.fft.fft2(self._features(image))
        kernel_f = gaussian_correlation(self.template_f, zf, self.kernel_sigma)
        response = np.fft.ifft2(self.alpha_f * kernel_f).real
        self.box[[1, 0]] += self.cell_size * peak_offset(response, self.subpixel)
        template_f, alpha_f = self._learn(image)
        rate = self.interpolation_factor
        self.template_f = (1 - rate) * self.template_f + rate * template_f
        self.alpha_f = (1 - rate) * self.alpha_f + rate * alpha_f
        return self.box.copy()

    def _learn(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The template x-hat at the current box and its ridge-regression solution in the dual,
        alpha-hat = y-hat / (k-hat^{xx} + lambda) (eq. 17)."""
        xf = np.fft.fft2(self._features(image))
        kernel_f = gaussian_correlation(xf, xf, self.kernel_sigma)
        return xf, self.labels_f / (kernel_f + self.regularization)

    def _features(self, image: np.ndarray) -> np.ndarray:
        """The window centred on the box as grey in [0, 1] (edge pixels replicated past the
        border), averaged over cells, minus its mean, times the Hann window. Without ``subpixel``
        the window starts at the nearest whole pixel (MATLAB); with it, it is sampled bilinearly
        at the box's exact position, so that every frame's template is centred alike."""
        height, width = image.shape[:2]
        start = self.box[[1, 0]] - 1 + (self.box[[3, 2]] - self.window) / 2  # 0-based (row, col)
        if not self.subpixel:
            start = np.round(start)
        first = np.floor(start).astype(int)
        fraction = start - first
        rows = np.clip(first[0] + np.arange(self.window[0] + 1), 0, height - 1)
        cols = np.clip(first[1] + np.arange(self.window[1] + 1), 0, width - 1)
        region = grey(image[np.ix_(rows, cols)]) / 255
        region = (1 - fraction[0]) * region[:-1] + fraction[0] * region[1:]
        patch = (1 - fraction[1]) * region[:, :-1] + fraction[1] * region[:, 1:]
        if self.cell_size > 1:
            c = self.cell_size
            patch = patch.reshape(self.cells[0], c, self.cells[1], c).mean(axis=(1, 3))
        return (patch - patch.mean()) * self.hann
