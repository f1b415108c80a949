"""Reading detections, occlusion centres and embeddings off the joint detector's maps as OUTrack's
tracker does (tracker/occ_tracker.py:706-745, models/decode.py): sigmoid, 3x3 max-pool
suppression, top-K peaks, peak + offset, then output pixels x stride = input pixels (the
tracker's affine post-processing, utils/post_process.py, for an image that is its own input)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional

from trackers.utrack.detection_losses import gather


def peaks(logits: Tensor, offsets: Tensor | None, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """The top ``k`` (at most h x w) local maxima of sigmoid(``logits``) (B, 1, h, w) over 3x3
    neighbourhoods, best first: scores (B, k), flat indices (B, k) and sub-pixel positions
    (B, k, 2) x, y in output pixels, the integer cell + ``offsets`` (B, 2, h, w) there, or + 0.5
    without offsets (models/decode.py:9-15, 29-46, 50-61)."""
    heat = logits.sigmoid()
    heat = heat * (functional.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    batch, _, _, width = heat.shape
    scores, indices = torch.topk(heat.reshape(batch, -1), min(k, heat[0].numel()))
    cells = torch.stack([indices % width, indices // width], dim=-1).float()
    positions = cells + (0.5 if offsets is None else gather(offsets, indices))
    return scores, indices, positions


@torch.no_grad()
def decode_detections(
    outputs: dict[str, Tensor], k: int = 500, stride: int = 4
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per image: boxes (n, 4) ltwh in input pixels, scores (n,) and flat map indices (n,) of
    the top ``k`` heatmap peaks, each box the peak + "reg" offset minus / plus the "wh" ltrb
    distances (``mot_decode`` with ltrb, models/decode.py:50-85; K = opts.K = 500). No score
    threshold: the tracker applies conf_thres (occ_tracker.py:835)."""
    scores, indices, centres = peaks(outputs["hm"], outputs["reg"], k)
    ltrb = gather(outputs["wh"], indices)
    corners = torch.cat([centres - ltrb[..., :2], centres + ltrb[..., 2:]], dim=-1) * stride
    boxes = torch.cat([corners[..., :2], corners[..., 2:] - corners[..., :2]], dim=-1)
    return [
        (b.cpu().numpy(), s.cpu().numpy(), i.cpu().numpy())
        for b, s, i in zip(boxes, scores, indices)
    ]


@torch.no_grad()
def decode_occlusions(
    outputs: dict[str, Tensor], k: int = 2000, threshold: float = 0.1, stride: int = 4
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per image: occlusion centres (m, 2) x, y in input pixels and their scores (m,), the top
    ``k`` (4 x opts.K) occlusion-heatmap peaks + "occlusion_offset" whose score is at least
    ``threshold`` (opts.occlusion_thres) (occ_tracker.py:710-716, ``mot_occlusion_decode``
    models/decode.py:88-107)."""
    scores, _, centres = peaks(outputs["occlusion"], outputs.get("occlusion_offset"), k)
    keep = scores >= threshold
    return [
        ((c[m] * stride).cpu().numpy(), s[m].cpu().numpy())
        for c, s, m in zip(centres, scores, keep)
    ]


def embeddings_at(id_map: Tensor, indices: np.ndarray | Tensor) -> np.ndarray:
    """The L2-normalised embeddings (n, D) of one image's "id" map (D, h, w) at flat indices
    (n,), as the tracker normalises the map over channels and gathers at the detections
    (occ_tracker.py:722-725, 737-740)."""
    index = torch.as_tensor(indices, dtype=torch.long, device=id_map.device)
    features = gather(id_map[None], index[None])[0]
    return functional.normalize(features, dim=1).detach().cpu().numpy()
