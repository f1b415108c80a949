"""Box helpers shared by trackers and tools, vectorised over (n, 4) arrays.

Formats: ``ltwh`` = (left, top, width, height), the MOTChallenge convention used everywhere in
trackbench; ``xyxy`` = (x1, y1, x2, y2) corners with x2 = left + width (continuous coordinates, no
"+1" pixel convention); ``cxcywh`` = (centre x, centre y, width, height).
"""

from __future__ import annotations

import numpy as np


def _as_boxes(boxes) -> np.ndarray:
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def ltwh_to_xyxy(boxes) -> np.ndarray:
    boxes = _as_boxes(boxes)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def xyxy_to_ltwh(boxes) -> np.ndarray:
    boxes = _as_boxes(boxes)
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)


def ltwh_to_cxcywh(boxes) -> np.ndarray:
    boxes = _as_boxes(boxes)
    return np.concatenate([boxes[:, :2] + boxes[:, 2:] / 2, boxes[:, 2:]], axis=1)


def cxcywh_to_ltwh(boxes) -> np.ndarray:
    boxes = _as_boxes(boxes)
    return np.concatenate([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, 2:]], axis=1)


def iou_matrix(a, b) -> np.ndarray:
    """Intersection over union of every ltwh box in ``a`` (n, 4) with every one in ``b`` (m, 4).

    Returns an (n, m) float array; a pair whose union has no area gets IoU 0.
    """
    a, b = ltwh_to_xyxy(a), ltwh_to_xyxy(b)
    lower = np.maximum(a[:, None, :2], b[None, :, :2])
    upper = np.minimum(a[:, None, 2:], b[None, :, 2:])
    intersection = np.prod(np.clip(upper - lower, 0.0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - intersection
    iou = np.zeros_like(intersection)
    np.divide(intersection, union, out=iou, where=union > 0)
    return iou
