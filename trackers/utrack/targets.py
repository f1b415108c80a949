"""Training targets of the joint detector for one image, as OUTrack's ``gen_target`` and
``gen_occlusion_target`` build them (datasets/dataset/jde_json.py:575-714): CenterNet heatmap,
ltrb sizes, centre offsets, identities and OccE's occlusion centres, at the output stride."""

from __future__ import annotations

import math

import numpy as np

from harness.boxes import ltwh_to_cxcywh
from trackers.utrack.occlusion import draw_gaussian, gaussian_radius, occlusion_targets


def detection_targets(
    boxes: np.ndarray,
    ids: np.ndarray | None,
    height: int,
    width: int,
    stride: int = 4,
    max_objects: int = 500,
    occlusion_tau: float = 0.7,
) -> dict[str, np.ndarray]:
    """Targets for ``boxes`` (n, 4) ltwh in pixels of a ``height`` x ``width`` image, with
    identities ``ids`` (n,) or None (all -1), on maps of (height // stride, width // stride):

    - "hm" (1, h, w): a Gaussian per box of positive size at its integer centre, radius
      ``gaussian_radius`` of the box's ceiled output-scale size (jde_json.py:628-649);
    - "ind", "reg_mask" (max_objects,): flat index cy * w + cx of the integer centre, and 1 for
      those boxes (jde_json.py:636-638);
    - "wh" (max_objects, 4): ltrb from the float centre to the unclipped box's sides, "reg"
      (max_objects, 2): float centre - integer centre; the centre alone is clipped to the map
      (jde_json.py:617-618, 650-658);
    - "ids" (max_objects,): the identities, -1 in empty slots (the code leaves 0 there);
    - "occlusion" (1, h, w), "occ_ind", "occ_mask" (4 max_objects,), "occ_offset"
      (4 max_objects, 2): ``occlusion_targets`` of the boxes around the clipped centres
      (jde_json.py:620-627, 675-714).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(boxes) > max_objects:
        raise ValueError(f"{len(boxes)} boxes exceed max_objects={max_objects}")
    identities = np.full(len(boxes), -1) if ids is None else np.asarray(ids, np.int64)
    out_h, out_w = height // stride, width // stride
    # The code's labels are (cx, cy, w, h) normalised by the image, times the map size.
    scale = np.array([out_w / width, out_h / height] * 2)
    centred = ltwh_to_cxcywh(boxes) * scale
    corners = np.concatenate(
        [centred[:, :2] - centred[:, 2:] / 2, centred[:, :2] + centred[:, 2:] / 2], axis=1
    )
    centres = np.clip(centred[:, :2], 0, [out_w - 1, out_h - 1])
    integer = centres.astype(np.int64)

    heatmap = np.zeros((1, out_h, out_w), np.float32)
    ind = np.zeros(max_objects, np.int64)
    reg_mask = np.zeros(max_objects, np.uint8)
    wh = np.zeros((max_objects, 4), np.float32)
    reg = np.zeros((max_objects, 2), np.float32)
    ids_out = np.full(max_objects, -1, np.int64)
    for k in np.flatnonzero((centred[:, 2] > 0) & (centred[:, 3] > 0)):
        w, h = centred[k, 2:]
        radius = max(0, int(gaussian_radius(math.ceil(h), math.ceil(w))))
        draw_gaussian(heatmap[0], (int(integer[k, 0]), int(integer[k, 1])), radius)
        ind[k] = integer[k, 1] * out_w + integer[k, 0]
        reg_mask[k] = 1
        ids_out[k] = identities[k]
        wh[k] = np.concatenate([centres[k] - corners[k, :2], corners[k, 2:] - centres[k]])
        reg[k] = centres[k] - integer[k]

    limit = 4 * max_objects
    shifted = np.concatenate([centres - centred[:, 2:] / 2, centres + centred[:, 2:] / 2], axis=1)
    occlusion, occ_centres, occ_offsets = occlusion_targets(
        shifted, out_h, out_w, occlusion_tau, limit
    )
    found = len(occ_centres)
    occ_ind = np.zeros(limit, np.int64)
    occ_ind[:found] = occ_centres[:, 1] * out_w + occ_centres[:, 0]
    occ_mask = np.zeros(limit, np.uint8)
    occ_mask[:found] = 1
    occ_offset = np.zeros((limit, 2), np.float32)
    occ_offset[:found] = occ_offsets
    return {
        "hm": heatmap,
        "ind": ind,
        "reg_mask": reg_mask,
        "wh": wh,
        "reg": reg,
        "ids": ids_out,
        "occlusion": occlusion[None],
        "occ_ind": occ_ind,
        "occ_mask": occ_mask,
        "occ_offset": occ_offset,
    }
