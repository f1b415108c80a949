"""Single-object IoU metrics, on hand-made boxes."""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics.single import (
    SUCCESS_THRESHOLDS,
    center_errors,
    frame_ious,
    iou_over_time,
    mean_iou,
    sample_scores,
    success_auc,
    success_curve,
    time_iou,
)

NAN = [np.nan] * 4


def test_frame_ious_skip_missing_gt_and_score_missing_prediction_zero():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], NAN, [0, 0, 10, 10]])
    pred = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [0, 0, 1, 1], NAN])
    ious = frame_ious(gt, pred)
    np.testing.assert_allclose(ious[[0, 1, 3]], [1.0, 50 / 150, 0.0])
    assert np.isnan(ious[2])
    with pytest.raises(ValueError, match="differ in length"):
        frame_ious(gt, pred[:2])


def test_mean_iou_per_sequence_then_over_sequences():
    stats = mean_iou([np.array([1.0, 0.5, np.nan]), np.array([0.25, 0.25])])
    assert stats["per_sequence"] == [0.75, 0.25]
    assert stats["mean"] == 0.5 and stats["std"] == 0.25  # population std over sequences
    assert (stats["min"], stats["max"], stats["median"]) == (0.25, 0.75, 0.5)


def test_iou_over_time_averages_sequences_present_at_each_step():
    curve = iou_over_time([np.array([1.0, 0.5, 0.2]), np.array([0.0, np.nan]), np.array([0.5])])
    np.testing.assert_allclose(curve, [0.5, 0.5, 0.2])


def test_time_iou_is_the_mean_of_the_curve_over_time_steps_not_over_sequences():
    ious = [np.array([1.0, 0.5, 0.2, 0.1]), np.array([1.0, 0.3]), np.array([1.0, np.nan, 0.6])]
    # steps: t0 (1 + 1 + 1) / 3, t1 (0.5 + 0.3) / 2, t2 (0.2 + 0.6) / 2, t3 0.1 / 1
    assert time_iou(ious) == pytest.approx((1.0 + 0.4 + 0.4 + 0.1) / 4)
    assert time_iou(ious) == pytest.approx(iou_over_time(ious).mean())
    per_sequence = np.mean([0.45, 0.65, 0.8])  # each sequence's mean, then over sequences
    assert abs(time_iou(ious) - per_sequence) > 0.1
    assert time_iou([np.array([0.8, 0.6, 0.4])]) == pytest.approx(0.6)
    gap = [np.array([1.0, np.nan, 0.5])]  # a step no sequence annotates is left out
    assert time_iou(gap) == pytest.approx(0.75) and iou_over_time(gap).tolist() == [1.0, 0.0, 0.5]


def test_success_curve_and_auc():
    assert SUCCESS_THRESHOLDS.shape == (21,) and SUCCESS_THRESHOLDS[1] == 0.05
    curve = success_curve(np.array([0.0, 0.5, 1.0, np.nan]))
    assert curve[0] == pytest.approx(2 / 3)  # IoU > 0: strictly greater
    assert curve[10] == pytest.approx(1 / 3)  # IoU 0.5 is not > 0.5
    assert curve[20] == 0.0
    mean_curve, auc = success_auc([np.array([1.0, 1.0]), np.array([0.0])])
    np.testing.assert_allclose(mean_curve[:20], 0.5)
    assert auc == pytest.approx(mean_curve.mean())


def test_sample_scores_match_the_per_sample_definitions():
    rng = np.random.default_rng(3)
    ious = rng.random(400)
    ious[::9], ious[::10], ious[::11] = 0.0, 1.0, np.nan  # edges and unannotated frames
    ious[::13] = SUCCESS_THRESHOLDS[7]  # exactly on a threshold: not above it
    errors = rng.random(400) * 40
    sample = np.sort(rng.integers(0, 12, 400))
    scores = sample_scores(sample, ious, errors)
    for i in range(12):
        mine = sample == i
        annotated = mine & ~np.isnan(ious)
        np.testing.assert_allclose(scores["success"][i], success_curve(ious[mine]))
        assert scores["AUC"][i] == pytest.approx(success_curve(ious[mine]).mean())
        assert scores["IoU"][i] == pytest.approx(np.nanmean(ious[mine]))
        assert scores["Precision20"][i] == pytest.approx((errors[annotated] <= 20).mean())
        assert scores["CenterError"][i] == pytest.approx(errors[annotated].mean())


def test_centre_errors_are_distances_of_box_centres():
    gt = np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0], NAN])
    pred = np.array([[3.0, 4.0, 10.0, 10.0], NAN, [0.0, 0.0, 1.0, 1.0]])
    errors = center_errors(gt, pred)
    assert errors[0] == 5.0 and errors[1] == np.inf and np.isnan(errors[2])
