"""Single-object metrics: per-frame IoU (of boxes or of box masks), Gan et al.'s mean ± std, IoU
over time, the OTB/got10k success curve and AUC, centre error and precision at 20 px.

Boxes are (T, 4) ltwh arrays per sequence. A frame whose gt box is NaN (no annotation) is
skipped everywhere (its IoU is NaN); a NaN predicted box (tracker gave nothing) scores IoU 0 and
an infinite centre error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.metrics.iou import box_iou

SUCCESS_THRESHOLDS = np.linspace(0, 1, 21)
PRECISION_PIXELS = 20.0
"""OTB's precision threshold: a frame counts when the box centres are at most 20 px apart."""
IOU_KINDS = ("box", "mask")


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


def mask_ious(gt: np.ndarray, pred: np.ndarray, width: int, height: int, origin: int = 1):
    """IoU per frame of the boxes' pixel masks (Gan et al. 2015, §6: IoU of the binary masks of
    the two boxes) on a ``width`` x ``height`` image whose first pixel is ``origin`` (1 in the
    MOTChallenge convention). A pixel belongs to a box when its centre lies inside the box, so
    masks are clipped to the image; NaN rules as ``frame_ious``."""
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    if gt.shape != pred.shape:
        raise ValueError(f"gt {gt.shape} and prediction {pred.shape} differ in length")

    def pixels(box: np.ndarray) -> tuple[np.ndarray, ...]:
        """First and one-past-last covered pixel index per axis (0-based, clipped)."""
        lo = np.ceil(box[:, :2] - origin - 0.5)
        hi = np.ceil(box[:, :2] + box[:, 2:] - origin - 0.5)
        limit = np.array([width, height], dtype=np.float64)
        return np.clip(lo, 0, limit), np.clip(hi, 0, limit)

    (g_lo, g_hi), (p_lo, p_hi) = pixels(gt), pixels(np.nan_to_num(pred))
    g_area = np.prod(np.maximum(g_hi - g_lo, 0), axis=1)
    p_area = np.prod(np.maximum(p_hi - p_lo, 0), axis=1)
    inter = np.prod(np.maximum(np.minimum(g_hi, p_hi) - np.maximum(g_lo, p_lo), 0), axis=1)
    union = g_area + p_area - inter
    ious = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    ious[np.isnan(pred).any(axis=1)] = 0.0
    ious[np.isnan(gt).any(axis=1)] = np.nan
    return ious


def center_errors(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Distance in pixels between the box centres per frame (OTB), NaN where the gt is missing and
    infinite where the prediction is."""
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    errors = np.hypot(*(_centres(gt) - _centres(pred)).T)
    errors[np.isnan(pred).any(axis=1)] = np.inf
    errors[np.isnan(gt).any(axis=1)] = np.nan
    return errors


def _centres(box: np.ndarray) -> np.ndarray:
    return box[:, :2] + box[:, 2:] / 2


def sample_scores(ious: np.ndarray, errors: np.ndarray) -> dict[str, float]:
    """One sample's scalars over its scored frames (NaN frames skipped): ``IoU`` (mean),
    ``AUC`` (area under its success curve), ``Precision20`` (fraction of frames with a centre
    error of at most 20 px) and ``CenterError`` (mean px over frames with a prediction)."""
    scored = ~np.isnan(ious)
    finite = np.isfinite(errors)
    return {
        "IoU": float(ious[scored].mean()),
        "AUC": float(success_curve(ious).mean()),
        "Precision20": float((errors[scored] <= PRECISION_PIXELS).mean()),
        "CenterError": float(errors[finite].mean()) if finite.any() else float("inf"),
    }


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
