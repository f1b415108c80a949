"""Association of tracks to detections: IoU matching, optimal (SORT) and greedy (IOU tracker), and
JDE's thresholded assignment over appearance, motion and IoU costs (OUTrack's matching.py)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from harness.boxes import iou_matrix
from trackers.common.kalman import CHI2_95


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


def thresholded_assignment(
    cost: np.ndarray, limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The minimum-cost matching of the rows and columns of ``cost`` (n, m) where leaving a row or
    a column unmatched costs ``limit / 2`` (so a pair costing more than ``limit`` is never
    matched) and infinite entries are never matched: what ``lap.lapjv(cost, extend_cost=True,
    cost_limit=limit)`` gives (OUTrack matching.py:42-53), solved as lap does on the extended
    (n + m, n + m) matrix. An entry exactly at ``limit`` is matched rather than left (as lap does
    for a lone pair); where other optima tie, lap's choice follows its search order, so the two
    agree on the total cost but may pick different pairs.

    Returns (matches (k, 2) of [row, column] by increasing row, unmatched rows, unmatched columns).
    """
    if not np.isfinite(limit):
        raise ValueError(f"the assignment limit must be finite, got {limit}")
    cost = np.asarray(cost, dtype=np.float64)
    rows, cols = cost.shape
    extended = np.full((rows + cols, rows + cols), limit / 2)
    extended[rows:, cols:] = 0.0
    extended[:rows, :cols] = np.where(cost == limit, np.nextafter(limit, -np.inf), cost)
    matched_rows, matched_cols = linear_sum_assignment(extended)
    real = (matched_rows < rows) & (matched_cols < cols)
    matches = np.stack([matched_rows[real], matched_cols[real]], axis=1).astype(np.int64)
    return (
        matches,
        np.setdiff1d(np.arange(rows), matches[:, 0]),
        np.setdiff1d(np.arange(cols), matches[:, 1]),
    )


def fused_motion_cost(
    appearance_cost: np.ndarray,
    gating_distance: np.ndarray,
    weight: float = 0.98,
    gate: float = CHI2_95[4],
) -> np.ndarray:
    """Appearance cost (n, m) fused with the Kalman gating distance (n, m): entries whose gating
    distance exceeds ``gate`` become infinite first, then every entry is ``weight * cost +
    (1 - weight) * gating`` (so a gated entry stays infinite; OUTrack matching.py:185-196)."""
    gated = np.where(gating_distance > gate, np.inf, appearance_cost)
    return weight * gated + (1 - weight) * gating_distance


def embedding_cost(track_features: np.ndarray, detection_features: np.ndarray) -> np.ndarray:
    """Cosine distances (n, m), floored at 0, between L2-normalised track (n, d) and detection
    (m, d) embeddings (OUTrack matching.py:115-169, metric 'cosine'). For its 'momentum' type pass
    each track's smoothed embedding, for 'latest' its last one."""
    tracks = track_features / np.linalg.norm(track_features, axis=1, keepdims=True)
    detections = detection_features / np.linalg.norm(detection_features, axis=1, keepdims=True)
    return np.maximum(0.0, 1.0 - tracks @ detections.T)


def iou_cost(a_ltwh: np.ndarray, b_ltwh: np.ndarray, *, pixel_inclusive: bool) -> np.ndarray:
    """1 - IoU (n, m) of ltwh boxes ``a`` (n, 4) and ``b`` (m, 4). With ``pixel_inclusive`` a box
    spans width + 1 by height + 1 pixels, as cython_bbox's ``bbox_overlaps`` counts
    (x2 - x1 + 1)(y2 - y1 + 1): OUTrack's ``iou_distance`` uses it on (l, t, l + w, t + h)
    corners, so its code's reading is ``pixel_inclusive=True`` (matching.py:56-95)."""
    if pixel_inclusive:
        a_ltwh = np.asarray(a_ltwh, np.float64).reshape(-1, 4) + [0.0, 0.0, 1.0, 1.0]
        b_ltwh = np.asarray(b_ltwh, np.float64).reshape(-1, 4) + [0.0, 0.0, 1.0, 1.0]
    return 1.0 - iou_matrix(a_ltwh, b_ltwh)
