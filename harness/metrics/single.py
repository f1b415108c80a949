"""Single-object metrics: per-frame IoU (of boxes or of box masks), Gan et al.'s mean ± std, IoU
over time and its mean over time (HART's), the OTB/got10k success curve and AUC, centre error and
precision at 20 px, the precision curve, LaSOT's normalised centre error and GOT-10k's image
bound.

Boxes are (T, 4) ltwh arrays per sequence. A frame whose gt box is NaN (no annotation) is
skipped everywhere (its IoU is NaN); a NaN predicted box (tracker gave nothing) scores IoU 0 and
an infinite centre error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.metrics.iou import box_iou

SUCCESS_THRESHOLDS = np.linspace(0, 1, 21)
PRECISION_PIXELS = 20.0
"""OTB's precision threshold: a frame counts when the box centres are at most 20 px apart."""
PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64)
"""OTB's precision plot: centre error thresholds 0, 1, ..., 50 px."""
NORMALIZED_PRECISION_THRESHOLDS = np.linspace(0, 0.5, 51)
"""LaSOT's normalised precision plot: thresholds 0, 0.01, ..., 0.5 of the gt box size."""
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


def mask_ious(
    gt: np.ndarray,
    pred: np.ndarray,
    width: int | np.ndarray,
    height: int | np.ndarray,
    origin: int = 1,
) -> np.ndarray:
    """IoU per frame of the boxes' pixel masks (Gan et al. 2015, §6: IoU of the binary masks of
    the two boxes) on a ``width`` x ``height`` image (per frame, or one size for all) whose first
    pixel is ``origin`` (1 in the MOTChallenge convention). A pixel belongs to a box when its
    centre lies inside the box, so masks are clipped to the image; NaN rules as ``frame_ious``."""
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    if gt.shape != pred.shape:
        raise ValueError(f"gt {gt.shape} and prediction {pred.shape} differ in length")

    def pixels(box: np.ndarray) -> tuple[np.ndarray, ...]:
        """First and one-past-last covered pixel index per axis (0-based, clipped)."""
        lo = np.ceil(box[:, :2] - origin - 0.5)
        hi = np.ceil(box[:, :2] + box[:, 2:] - origin - 0.5)
        limit = np.stack(np.broadcast_arrays(width, height), axis=-1).astype(np.float64)
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


def center_errors(gt: np.ndarray, pred: np.ndarray, pixel_centres: bool = False) -> np.ndarray:
    """Distance in pixels between the box centres per frame (OTB), NaN where the gt is missing and
    infinite where the prediction is. ``pixel_centres``: a box's centre is ``x + (w - 1) / 2``
    (got10k's: the middle of pixels x..x+w-1) instead of ``x + w / 2``; the distances are the
    same up to rounding."""
    gt, pred = _pair(gt, pred)
    errors = np.hypot(*(_centres(gt, pixel_centres) - _centres(pred, pixel_centres)).T)
    return _missing(errors, gt, pred)


def normalized_center_errors(
    gt: np.ndarray, pred: np.ndarray, pixel_centres: bool = False
) -> np.ndarray:
    """LaSOT's normalised centre error per frame: the centres' offset along each axis divided by
    the gt box's width or height (at least 1 px, as got10k bounds it), then its length; NaN and
    infinite as ``center_errors``."""
    gt, pred = _pair(gt, pred)
    offset = _centres(gt, pixel_centres) - _centres(pred, pixel_centres)
    errors = np.hypot(*(offset / np.maximum(gt[:, 2:], 1.0)).T)
    return _missing(errors, gt, pred)


def _pair(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.asarray(gt, dtype=np.float64).reshape(-1, 4),
        np.asarray(pred, dtype=np.float64).reshape(-1, 4),
    )


def _missing(errors: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``errors`` infinite where the prediction is missing and NaN where the gt is."""
    errors[np.isnan(pred).any(axis=1)] = np.inf
    errors[np.isnan(gt).any(axis=1)] = np.nan
    return errors


def _centres(box: np.ndarray, pixel_centres: bool = False) -> np.ndarray:
    return box[:, :2] + (box[:, 2:] - 1 if pixel_centres else box[:, 2:]) / 2


def bounded_boxes(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Boxes held inside a ``width`` x ``height`` image as GOT-10k's evaluation holds them
    (got10k's ``rect_iou`` bound): the left and top edges clipped into the image first, then the
    width and height to what remains right of and below them. A box reaching past the left or top
    edge is moved inside with its size kept, not cut; NaN stays NaN."""
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    size = np.array([width, height], dtype=np.float64)
    boxes[:, :2] = np.clip(boxes[:, :2], 0, size)
    boxes[:, 2:] = np.clip(boxes[:, 2:], 0, size - boxes[:, :2])
    return boxes


def sample_scores(sample: np.ndarray, ious: np.ndarray, errors: np.ndarray) -> dict[str, Any]:
    """Scores of many samples at once from their frames' IoUs and centre errors, ``sample``
    (N,) naming each frame's sample 0..S-1 (frames to score only; NaN IoU = unannotated, skipped).

    Per sample (S,): ``IoU`` (mean), ``AUC`` (area under its success curve: the mean over
    thresholds of the fraction of frames above each), ``Precision20`` (fraction of frames whose
    centre error is at most 20 px), ``CenterError`` (mean px); and ``success`` (S, 21), each
    sample's success curve.
    """
    scored = ~np.isnan(ious)
    sample, ious, errors = sample[scored], ious[scored], errors[scored]
    count = np.bincount(sample)

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(sample, weights=values, minlength=len(count)) / count

    # a frame is above thresholds 0..k-1 where k thresholds lie strictly below its IoU
    levels = len(SUCCESS_THRESHOLDS) + 1
    below = np.searchsorted(SUCCESS_THRESHOLDS, ious, side="left")
    frames_at = np.bincount(sample * levels + below, minlength=len(count) * levels)
    above = np.cumsum(frames_at.reshape(len(count), levels)[:, ::-1], axis=1)[:, ::-1]
    success = above[:, 1:] / count[:, None]
    return {
        "IoU": mean(ious),
        "AUC": success.mean(axis=1),
        "Precision20": mean(errors <= PRECISION_PIXELS),
        "CenterError": mean(errors),
        "success": success,
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

    Sequences may differ in length; the curve is as long as the longest (0 at a step no sequence
    annotates).
    """
    total, count = _per_step(per_sequence)
    return total / np.maximum(count, 1)


def time_iou(per_sequence: Sequence[np.ndarray]) -> float:
    """The mean over time steps t = 0..T-1 of ``iou_over_time`` (Kosiorek et al. 2017, Table 1:
    "average IoU over 60 time-steps"): every step weighs the same, however many sequences are
    still present at it, and a step no sequence annotates is left out. Not the mean of per-sequence
    values: with sequences of different lengths the two differ."""
    total, count = _per_step(per_sequence)
    present = count > 0
    return float(np.mean(total[present] / count[present]))


def _per_step(per_sequence: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The sum of the annotated IoUs at each time step t = 0..T-1 (T: the longest sequence) and
    how many sequences are annotated there."""
    length = max(len(ious) for ious in per_sequence)
    stacked = np.full((len(per_sequence), length), np.nan)
    for row, ious in zip(stacked, per_sequence):
        row[: len(ious)] = ious
    return np.nansum(stacked, axis=0), (~np.isnan(stacked)).sum(axis=0)


def success_curve(ious: np.ndarray, thresholds: np.ndarray = SUCCESS_THRESHOLDS) -> np.ndarray:
    """OTB/got10k success curve: fraction of annotated frames with IoU > each threshold (OTB's
    21 by default; GOT-10k's plot has 101)."""
    ious = np.asarray(ious, dtype=np.float64)
    ious = ious[~np.isnan(ious)]
    return (ious[:, None] > thresholds[None, :]).mean(axis=0)


def precision_curve(
    errors: np.ndarray, thresholds: np.ndarray = PRECISION_THRESHOLDS
) -> np.ndarray:
    """OTB/got10k precision curve: fraction of annotated frames (NaN error: skipped) whose centre
    error is at most each threshold (OTB's 0..50 px by default; its value at 20 px is
    Precision20)."""
    errors = np.asarray(errors, dtype=np.float64)
    errors = errors[~np.isnan(errors)]
    return (errors[:, None] <= thresholds[None, :]).mean(axis=0)


def success_auc(per_sequence: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
    """OTB protocol: the mean over sequences of each sequence's success curve, and its AUC
    (the mean of the curve over the 21 thresholds)."""
    curve = np.mean([success_curve(ious) for ious in per_sequence], axis=0)
    return curve, float(curve.mean())
