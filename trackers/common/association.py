"""IoU association of tracks to detections: optimal (SORT) and greedy (IOU tracker)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from harness.boxes import iou_matrix


def hungarian_iou_matches(
    detections: np.ndarray, predictions: np.ndarray, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Match ltwh ``detections`` (n, 4) to ``predictions`` (m, 4) (Bewley et al. 2016, Sec. 3.3).

    When exactly one pair per row and column exceeds ``iou_threshold`` those pairs are taken,
    otherwise the Hungarian assignment maximises total IoU; pairs below the threshold are dropped.
    Returns (matches (k, 2) of [detection, prediction] indices, unmatched detection indices).
    """
    iou = iou_matrix(detections, predictions)
    if iou.size == 0:
        return np.zeros((0, 2), np.int64), np.arange(len(detections))
    above = iou > iou_threshold
    if above.sum(axis=1).max() == 1 and above.sum(axis=0).max() == 1:
        rows, cols = np.nonzero(above)
    else:
        rows, cols = linear_sum_assignment(-iou)
    kept = iou[rows, cols] >= iou_threshold
    matches = np.stack([rows[kept], cols[kept]], axis=1).astype(np.int64)
    unmatched = np.setdiff1d(np.arange(len(detections)), matches[:, 0])
    return matches, unmatched


def greedy_iou_matches(
    tracks: np.ndarray, detections: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Each ltwh track box (n, 4) in order takes the free detection (m, 4) of highest IoU if that
    IoU >= ``iou_threshold`` (Bochinski et al. 2017, Alg. 1). Returns the detection index of each
    track, -1 where it took none."""
    iou = iou_matrix(tracks, detections)
    matched = np.full(len(iou), -1, np.int64)
    free = np.ones(len(detections), bool)
    for track, row in enumerate(iou):
        if not free.any():
            break
        best = int(np.argmax(np.where(free, row, -np.inf)))
        if row[best] >= iou_threshold:
            matched[track] = best
            free[best] = False
    return matched
