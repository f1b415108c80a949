"""Single-object IoU metrics: per-frame IoU, Gan et al.'s mean ± std, IoU over time, success/AUC.

Boxes are (T, 4) ltwh arrays per sequence. A frame whose gt box is NaN (no annotation) is
skipped everywhere (its IoU is NaN); a NaN predicted box (tracker gave nothing) scores IoU 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.metrics.iou import box_iou

SUCCESS_THRESHOLDS = np.linspace(0, 1, 21)


def frame_ious(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """IoU per frame (T,), NaN where the gt box is missing."""
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    if gt.shape != pred.shape:
        raise ValueError(f"gt {gt.shape} and prediction {pred.shape} differ in length")
    ious = np.nan_to_num(box_iou(gt, np.nan_to_num(pred)), nan=0.0)
    ious[np.isnan(pred).any(axis=1)] = 0.0
    ious[np.isnan(gt).any(axis=1)] = np.nan
    return ious


def mean_iou(per_sequence: Sequence[np.ndarray]) -> dict:
    """Gan et al.: mean IoU over each sequence's annotated frames, then mean ± std (ddof 0)
    over sequences; also min, max and median as their test script prints."""
    means = np.array([np.nanmean(ious) for ious in per_sequence])
    return {
        "mean": float(means.mean()),
        "std": float(means.std()),
        "min": float(means.min()),
        "max": float(means.max()),
        "median": float(np.median(means)),
        "per_sequence": means.tolist(),
    }


def iou_over_time(per_sequence: Sequence[np.ndarray]) -> np.ndarray:
    """Mean IoU at each time step t over the sequences annotated at t (Kosiorek et al. 2017,
    Fig. 5; the released HART code's scripts/eval_kitti.ipynb, akosiorek/hart).

    Sequences may differ in length; the curve is as long as the longest.
    """
    length = max(len(ious) for ious in per_sequence)
    stacked = np.full((len(per_sequence), length), np.nan)
    for row, ious in zip(stacked, per_sequence):
        row[: len(ious)] = ious
    annotated = ~np.isnan(stacked)
    return np.nansum(stacked, axis=0) / np.maximum(annotated.sum(axis=0), 1)


def success_curve(ious: np.ndarray) -> np.ndarray:
    """OTB/got10k success curve: fraction of annotated frames with IoU > each threshold."""
    ious = np.asarray(ious, dtype=np.float64)
    ious = ious[~np.isnan(ious)]
    return (ious[:, None] > SUCCESS_THRESHOLDS[None, :]).mean(axis=0)


def success_auc(per_sequence: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
    """OTB protocol: the mean over sequences of each sequence's success curve, and its AUC
    (the mean of the curve over the 21 thresholds)."""
    curve = np.mean([success_curve(ious) for ious in per_sequence], axis=0)
    return curve, float(curve.mean())
