"""The joint detector's training losses as OUTrack computes them: CenterNet's focal loss on the
heatmaps, masked L1 on the regressed maps at the object centres, their weighted sum
(trains/mot.py:58-84, 113) and FairMOT's uncertainty weighting of detection and re-ID
(trains/mot.py:31-33, 114-118)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional

EPSILON = 1e-4
"""The clamp of sigmoid outputs (models/utils.py:8-10) and the L1 denominator's guard
(models/losses.py:149)."""


def focal_loss(pred_logits: Tensor, target: Tensor) -> Tensor:
    """CornerNet's modified focal loss (alpha 2, beta 4) of sigmoid(``pred_logits``) clamped to
    [1e-4, 1 - 1e-4] against the Gaussian ``target`` of the same shape, summed and divided by
    the number of positives (target == 1), or the negative term alone without one
    (models/losses.py:44-69, models/utils.py:8-10)."""
    pred = pred_logits.sigmoid().clamp(EPSILON, 1 - EPSILON)
    positive = target.eq(1).float()
    negative = target.lt(1).float()
    positive_loss = (torch.log(pred) * (1 - pred) ** 2 * positive).sum()
    negative_loss = (torch.log(1 - pred) * pred**2 * (1 - target) ** 4 * negative).sum()
    count = positive.sum()
    if count == 0:
        return -negative_loss
    return -(positive_loss + negative_loss) / count


def gather(maps: Tensor, ind: Tensor) -> Tensor:
    """The values (B, K, C) of ``maps`` (B, C, h, w) at flat indices ``ind`` (B, K) into h x w
    (``_tranpose_and_gather_feat``, models/utils.py:12-26)."""
    batch, channels = maps.shape[:2]
    flat = maps.reshape(batch, channels, -1)
    return flat.gather(2, ind[:, None, :].expand(-1, channels, -1)).transpose(1, 2)


def reg_l1_loss(pred: Tensor, mask: Tensor, ind: Tensor, target: Tensor) -> Tensor:
    """``RegL1Loss``: the summed |pred - target| of the maps ``pred`` (B, C, h, w) gathered at
    ``ind`` (B, K) over the entries where ``mask`` (B, K) is set, divided by the mask expanded
    over the C channels summed (so by C x the objects) + 1e-4 (models/losses.py:141-150)."""
    gathered = gather(pred, ind)
    expanded = mask[..., None].expand_as(gathered).float()
    total = functional.l1_loss(gathered * expanded, target * expanded, reduction="sum")
    return total / (expanded.sum() + EPSILON)


@dataclass(frozen=True)
class DetectionWeights:
    """The code's loss weights (opts.py:225-230, 262-265)."""

    hm: float = 1.0
    wh: float = 0.1
    off: float = 1.0
    occlusion: float = 0.5
    occlusion_offset: float = 0.5


def detection_loss(
    outputs: dict[str, Tensor],
    targets: dict[str, Tensor],
    weights: DetectionWeights = DetectionWeights(),
) -> tuple[Tensor, dict[str, Tensor]]:
    """The detection loss and its terms for a batch of ``JointDetector`` ``outputs`` and stacked
    ``detection_targets``: hm focal + wh L1 + reg L1, plus the occlusion heatmap focal and
    offset L1 when the outputs have the occlusion heads (trains/mot.py:58-84, 113)."""
    mask, ind = targets["reg_mask"], targets["ind"]
    terms = {
        "hm": focal_loss(outputs["hm"], targets["hm"]),
        "wh": reg_l1_loss(outputs["wh"], mask, ind, targets["wh"]),
        "reg": reg_l1_loss(outputs["reg"], mask, ind, targets["reg"]),
    }
    total = weights.hm * terms["hm"] + weights.wh * terms["wh"] + weights.off * terms["reg"]
    if "occlusion" in outputs:
        terms["occlusion"] = focal_loss(outputs["occlusion"], targets["occlusion"])
        terms["occlusion_offset"] = reg_l1_loss(
            outputs["occlusion_offset"],
            targets["occ_mask"],
            targets["occ_ind"],
            targets["occ_offset"],
        )
        total = (
            total
            + weights.occlusion * terms["occlusion"]
            + weights.occlusion_offset * terms["occlusion_offset"]
        )
    return total, terms


class UncertaintyWeights(nn.Module):
    """FairMOT's learnt task weighting of the detection and re-ID losses, s_det -1.85 and s_id
    -1.05 at the start: 0.5 (exp(-s_det) det + exp(-s_id) id + s_det + s_id)
    (trains/mot.py:31-33, 114-118; opts.py:214-217)."""

    def __init__(self, s_det: float = -1.85, s_id: float = -1.05):
        super().__init__()
        self.s_det = nn.Parameter(torch.tensor(s_det))
        self.s_id = nn.Parameter(torch.tensor(s_id))

    def forward(self, detection: Tensor, identity: Tensor) -> Tensor:
        weighted = torch.exp(-self.s_det) * detection + torch.exp(-self.s_id) * identity
        return 0.5 * (weighted + self.s_det + self.s_id)
