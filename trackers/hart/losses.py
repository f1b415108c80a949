"""HART's loss (Kosiorek et al. 2017, §4, eqs 9–12) and RATM's feature-space loss.

Every term is averaged over the frames after the first (the first box is given) and the batch;
frames whose ground truth is not finite are skipped. Logarithms' arguments are clipped to
[``CLIP``, 1].

Adaptive weights (eq. 9): the weighted terms get λ = v² + 1e-8 (v learnt, starting at 1) and the
objective adds −log λ for each, Kendall et al.'s uncertainty weighting as the released code has
it; the paper prints R(λ) = −Σ log λ⁻¹, whose minimum drives every λ to zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from trackers.hart.attention import box_mask, contrast_normalise, glimpse, intersection, iou
from trackers.hart.model import Hart, Outputs

CLIP = 1e-4
IMAGE = (0.0, 0.0, 1.0, 1.0)
"""The whole image as a box in image units."""


def tracking_loss(boxes: Tensor, target: Tensor) -> Tensor:
    """−log IoU(b̂_t, b_t) (eq. 10) per frame: (…,) for boxes (…, 4)."""
    return -torch.log(iou(boxes, target).clamp(CLIP, 1))


def spatial_attention_loss(attention: Tensor, target: Tensor) -> Tensor:
    """−log(|a ∩ b| / |b|) − log(1 − IoU(a, image)) (eq. 11) per frame: cover the box, stay
    small."""
    covered = intersection(attention, target) / (target[..., 2] * target[..., 3]).clamp_min(CLIP)
    image = attention.new_tensor(IMAGE).expand_as(attention)
    spread = 1 - iou(attention, image)
    return -torch.log(covered.clamp(CLIP, 1)) - torch.log(spread.clamp(CLIP, 1))


def appearance_loss(mask_logits: Tensor, attention: Tensor, target: Tensor) -> Tensor:
    """H(τ(a_t, b_t), s_t) (eq. 12) per frame: the binary cross-entropy of the location map
    against the mask of the box in the glimpse, averaged over its cells. Logits (N, h_v, w_v),
    attention and target (N, 4)."""
    mask = box_mask(attention, target, tuple(mask_logits.shape[-2:]))
    cross = F.binary_cross_entropy_with_logits(mask_logits, mask, reduction="none")
    return cross.flatten(1).mean(1)


def ratm_loss(model: Hart, frames: Tensor, outputs: Outputs, target: Tensor) -> Tensor:
    """RATM's objective per frame: the mean squared distance between V1's features of the glimpse
    at the attention and of the glimpse at the ground-truth box. RATM's V1 is fixed (its feature
    extractor was pre-trained), so the distance cannot shrink by making the features constant."""

    def features(attention: Tensor) -> Tensor:
        g = glimpse(frames.flatten(0, 1), attention.flatten(0, 1), model.config.glimpse)
        return model.v1(contrast_normalise(g)).flatten(1)

    with torch.no_grad():
        wanted = features(target)
    distance = (features(outputs.attention) - wanted).pow(2).mean(1)
    return distance.view(target.shape[:2])


def l2_regularisation(model: Hart, outputs: Outputs) -> Tensor:
    """R(D, θ) = ½‖θ‖² over the weight matrices and kernels + ½‖E[Ψ]‖² of the dynamic
    parameters (§4)."""
    total = sum(
        0.5 * p.pow(2).sum() for name, p in model.named_parameters() if name.endswith("weight")
    )
    if outputs.dynamic is not None:
        total = total + 0.5 * outputs.dynamic.mean((0, 1)).pow(2).sum()
    return total


def hart_loss(
    model: Hart, frames: Tensor, outputs: Outputs, target: Tensor, l2: float = 1e-4
) -> dict[str, Tensor]:
    """Eq. 9 for ``model``'s variant: the weighted terms, their raw values, the mean IoU of the
    predicted boxes; ``target`` (B, T, 4) in image units, ``frames`` (B, T, C, H, W)."""
    variant = model.config.variant
    scored = torch.isfinite(target).all(-1)
    scored[:, 0] = False
    target = torch.where(scored[..., None], target, target.new_tensor(IMAGE))

    def mean(per_frame: Tensor) -> Tensor:
        return per_frame[scored].mean()

    terms: dict[str, Tensor] = {}
    if variant == "RATM":
        terms["features"] = mean(ratm_loss(model, frames, outputs, target))
    else:
        terms["tracking"] = mean(tracking_loss(outputs.boxes, target))
        if variant != "Spatial Att":
            terms["spatial"] = mean(spatial_attention_loss(outputs.attention, target))
        if variant == "HART":
            logits, attention = outputs.mask_logits.flatten(0, 1), outputs.attention.flatten(0, 1)
            per_frame = appearance_loss(logits, attention, target.flatten(0, 1))
            terms["appearance"] = mean(per_frame.view(target.shape[:2]))
    weights = model.loss_weights.pow(2) + 1e-8
    total = l2 * l2_regularisation(model, outputs)
    for index, value in enumerate(terms.values()):
        total = total + weights[index] * value - torch.log(weights[index])
    with torch.no_grad():
        measured = mean(iou(outputs.boxes, target))
    return {"total": total, **terms, "IoU": measured}
