"""TBA's parameterless differentiable renderer, result boxes and training loss (paper §2.3–2.4).

The paper numbers these eqs (4)–(9). Where the released code (``modules/renderer.py``,
``modules/loss_calculator.py``, ``net.py``, ``scripts/get_metric_txt.py``) differs, we follow it:

- object size from the pose: scale = 1 + ζ_s·y_p[0], ratio = ζ_r[0] + ζ_r[1]·y_p[1],
  h = U·scale·√ratio, w = V·scale/√ratio (the paper's (s_x, s_y) are this (w/V, h/U));
- on synthetic data (no background) the translation is shrunk by (1 − (2/3)·V/W) and
  (1 − (2/3)·U/H) so that a patch centre can't leave the frame by more than a third of it;
- the appearance is masked by the shape before sampling (eq. 7: T^s ⊙ T^a), and both by y_e;
- MNIST: Y_s is forced to 1 and each layer's foreground is clamped to ≤ 1 (additive digits).

Tensors are batch-first; any number of leading dims (a batch B, or N, T) is accepted and kept.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOG_EPS = 1e-20
"""The released code's safe log, log(x + 1e-20) (``submodules.Log``), used by the entropy term."""


class ObjectGeometry(NamedTuple):
    """Per-tracker size and translation derived from a pose y_p, each (..., I)."""

    scale: Tensor
    height: Tensor
    width: Tensor
    shift_x: Tensor
    """t_x after the synthetic shrink: the patch centre is at normalised x = −shift_x."""
    shift_y: Tensor


def object_scale(pose: Tensor, zeta_s: float) -> Tensor:
    """scale = 1 + ζ_s·y_p[0] (as ``modules/renderer.py``); the renderer and the tightness term
    use it."""
    return 1 + zeta_s * pose[..., 0]


class Renderer(nn.Module):
    """Render tracker outputs into a frame, eqs (4)–(8).

    ``synthetic`` (Sprites-MOT, MNIST-MOT: no background image) turns on the translation shrink;
    ``mnist`` forces Y_s = 1 and clamps each layer's foreground to ≤ 1.
    """

    def __init__(
        self,
        height: int,
        width: int,
        channels: int,
        patch: tuple[int, int],
        layers: int,
        zeta_s: float,
        zeta_r: tuple[float, float],
        synthetic: bool,
        mnist: bool,
    ):
        super().__init__()
        self.height, self.width, self.channels = height, width, channels
        self.patch = tuple(patch)
        self.layers = layers
        self.zeta_s = zeta_s
        self.zeta_r = tuple(zeta_r)
        self.synthetic = synthetic
        self.mnist = mnist

    @classmethod
    def from_config(cls, config) -> Renderer:
        """The renderer of a ``TBAConfig``."""
        height, width = config.frame_size
        return cls(
            height,
            width,
            config.channels,
            config.patch,
            config.layers,
            config.zeta_s,
            config.zeta_r,
            config.synthetic,
            config.mnist,
        )

    def geometry(self, pose: Tensor) -> ObjectGeometry:
        """Object size in pixels and (shrunk) translation of y_p (..., I, 4) = (s, r, t_x, t_y)."""
        patch_h, patch_w = self.patch
        scale = object_scale(pose, self.zeta_s)
        ratio_sqrt = (self.zeta_r[0] + self.zeta_r[1] * pose[..., 1]).sqrt()
        shift_x, shift_y = pose[..., 2], pose[..., 3]
        if self.synthetic:
            shift_x = (1 - (2 / 3) * patch_w / self.width) * shift_x
            shift_y = (1 - (2 / 3) * patch_h / self.height) * shift_y
        return ObjectGeometry(
            scale, patch_h * scale * ratio_sqrt, patch_w * scale / ratio_sqrt, shift_x, shift_y
        )

    def boxes(self, pose: Tensor) -> Tensor:
        """Result boxes (..., I, 4) ltwh in 1-based pixels, as the released code writes them.

        The released renderer saves centre = (−t + 1)/2·(size − 1) + 1 with the *shrunk*
        translation, then left/top = centre − (w/h − 1)/2. This maps normalised coordinates with
        the align_corners=True convention while ``grid_sample`` uses False: the box centre lies
        +t/2 pixel (shrunk t; ≤ 0.5 px, 0 at the frame centre) from the rendered patch's. We keep
        the released convention, since its numbers are what the paper's tables report.
        """
        geometry = self.geometry(pose)
        centre_x = (1 - geometry.shift_x) / 2 * (self.width - 1) + 1
        centre_y = (1 - geometry.shift_y) / 2 * (self.height - 1) + 1
        return torch.stack(
            [
                centre_x - (geometry.width - 1) / 2,
                centre_y - (geometry.height - 1) / 2,
                geometry.width,
                geometry.height,
            ],
            dim=-1,
        )

    def sampling_grid(self, pose: Tensor) -> Tensor:
        """STN sampling grid (n, H, W, 2) for poses (n, 4), eqs (4)–(5).

        θ = [[W/w, 0, (W/w)·t_x], [0, H/h, (H/h)·t_y]] maps frame to patch coordinates;
        ``affine_grid`` with align_corners=False as the released code (since 2019-10).
        """
        geometry = self.geometry(pose)
        scale_x = self.width / geometry.width
        scale_y = self.height / geometry.height
        zero = torch.zeros_like(scale_x)
        theta = torch.stack(
            [scale_x, zero, scale_x * geometry.shift_x, zero, scale_y, scale_y * geometry.shift_y],
            dim=-1,
        ).view(-1, 2, 3)
        size = (theta.shape[0], 1, self.height, self.width)
        return F.affine_grid(theta, size, align_corners=False)

    def forward(self, outputs, background: Tensor | None = None) -> Tensor:
        """Reconstruction X_r (..., D, H, W) from ``TrackerOutputs`` (leading dims ..., I).

        Eqs (6)–(7): per layer k, mask L^m_k = min(1, Σ_i y_e·y_l,k·T^s_i) and foreground
        L^f_k = Σ_i y_e·y_l,k·T^s_i ⊙ T^a_i; eq. (8): X^(k) = (1 − L^m_k) ⊙ X^(k−1) + L^f_k for
        k = 1..K (a higher layer occludes a lower one), from X^(0) = 0 or the background.
        """
        lead = outputs.conf.shape[:-1]
        num_trackers = outputs.conf.shape[-1]
        patch_h, patch_w = self.patch
        shape = outputs.shape
        if self.mnist:
            shape = torch.ones_like(shape)  # the released code replaces Y_s by a constant 1
        shape = shape * outputs.conf[..., None, None, None]
        patches = torch.cat([shape, shape * outputs.appearance], dim=-3)
        patches = patches.reshape(-1, 1 + self.channels, patch_h, patch_w)
        grid = self.sampling_grid(outputs.pose.reshape(-1, 4))
        sampled = F.grid_sample(patches, grid, align_corners=False)
        sampled = sampled.view(-1, num_trackers, 1 + self.channels, self.height, self.width)
        layer = outputs.layer.reshape(-1, num_trackers, self.layers).to(sampled.dtype)
        layered = torch.einsum("bik,bichw->bkchw", layer, sampled)
        masks = layered[:, :, :1].clamp(max=1)
        foregrounds = layered[:, :, 1:]
        if self.mnist:
            foregrounds = foregrounds.clamp(max=1)
        if background is None:
            frame = torch.zeros_like(foregrounds[:, 0])
        else:
            frame = background.reshape(foregrounds[:, 0].shape).to(foregrounds.dtype)
        for k in range(self.layers):
            frame = frame * (1 - masks[:, k]) + foregrounds[:, k]
        return frame.view(*lead, self.channels, self.height, self.width)


def pose_to_boxes(pose: Tensor, config) -> Tensor:
    """Result boxes (..., I, 4) ltwh, 1-based pixels, of poses y_p (..., I, 4), as the released
    renderer saves them."""
    return Renderer.from_config(config).boxes(pose)


def tba_loss(
    reconstruction: Tensor, frames: Tensor, outputs, config, background: Tensor | None = None
) -> dict[str, Tensor]:
    """The released code's training loss (eq. 9 and its extras), as a dict of scalar terms.

    ``reconstruction`` X_r and ``frames`` X are (..., D, H, W) in [0, 1]; ``outputs`` has the
    same leading dims (..., I). Terms (``modules/loss_calculator.py``):

    - ``reconstruction``: Σ (X_r − X)² (sum-MSE);
    - ``background`` (only with a ``background`` B, DukeMTMC): Σ (|X_r − B| − |X − B|)²;
    - ``tightness``: λ·Σ_frames mean_i(scale_i²) (eq. 9 with scale² as the 2020 code; the paper
      differs, and the 2019-03 code used 1/scale² until commit 286f78c), over every tracker
      whatever its confidence;
    - ``entropy``: w_e·Σ −[y_e log y_e + (1 − y_e) log(1 − y_e)] (weight 1; not in the paper);
    - ``appearance``: w_a·Σ_{frames, i} max(0, a_min − Σ_pixels Y_a) on the unmasked appearance
      (0.1 and 20 on synthetic data, weight 0 on DukeMTMC; not in the paper);
    - ``total``: their sum.

    Normalisation lives here: every term is divided by the number of frames (N·T), as ``net.py``
    divides the summed loss, so the loss is per frame and independent of the batch size.
    """
    num_frames = math.prod(frames.shape[:-3])
    terms = {"reconstruction": (reconstruction - frames).square().sum()}
    if background is not None:
        background = background.reshape(frames.shape)
        terms["background"] = (
            ((reconstruction - background).abs() - (frames - background).abs()).square().sum()
        )
    scale = object_scale(outputs.pose, config.zeta_s)
    terms["tightness"] = config.tightness * scale.square().mean(dim=-1).sum()
    conf = outputs.conf
    entropy = conf * (conf + LOG_EPS).log() + (1 - conf) * (1 - conf + LOG_EPS).log()
    terms["entropy"] = -config.entropy_weight * entropy.sum()
    appearance_mass = outputs.appearance.flatten(start_dim=-3).sum(dim=-1)
    hinge = (config.appearance_min - appearance_mass).clamp(min=0)
    terms["appearance"] = config.appearance_weight * hinge.sum()
    terms = {name: value / num_frames for name, value in terms.items()}
    terms["total"] = sum(terms.values())
    return terms
