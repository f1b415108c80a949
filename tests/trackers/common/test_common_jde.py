"""JDE's association blocks (trackers.common): Deep SORT's xyah Kalman filter, the lap-style
thresholded assignment, and the appearance, motion and IoU costs OUTrack's matching.py fuses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import chi2

from harness.boxes import iou_matrix
from trackers.common.association import (
    embedding_cost,
    fused_motion_cost,
    iou_cost,
    thresholded_assignment,
)
from trackers.common.kalman import (
    CHI2_95,
    XYAH_TRANSITION,
    XyahKalmanFilter,
    box_to_xyah,
    xyah_to_box,
)

# --- a literal Deep SORT filter, one track at a time ----------------------------------------------

WP, WV = 1 / 20, 1 / 160
F = np.eye(8) + np.eye(8, k=4)
H = np.eye(4, 8)


def reference_initiate(z):
    h = z[3]
    std = [2 * WP * h, 2 * WP * h, 1e-2, 2 * WP * h, 10 * WV * h, 10 * WV * h, 1e-5, 10 * WV * h]
    return np.r_[z, np.zeros(4)], np.diag(np.square(std))


def reference_predict(x, P):
    h = x[3]
    q = np.diag(np.square([WP * h, WP * h, 1e-2, WP * h, WV * h, WV * h, 1e-5, WV * h]))
    return F @ x, F @ P @ F.T + q


def reference_project(x, P):
    h = x[3]
    return H @ x, H @ P @ H.T + np.diag(np.square([WP * h, WP * h, 1e-1, WP * h]))


def reference_update(x, P, z):
    projected, S = reference_project(x, P)
    K = P @ H.T @ np.linalg.inv(S)
    return x + K @ (z - projected), P - K @ S @ K.T


def reference_gating(x, P, zs):
    projected, S = reference_project(x, P)
    return np.array([(z - projected) @ np.linalg.inv(S) @ (z - projected) for z in zs])


# --- Kalman filter --------------------------------------------------------------------------------


def test_xyah_round_trip():
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [-4.0, 0.0, 5.0, 2.0]])
    np.testing.assert_allclose(box_to_xyah(boxes)[0], [25.0, 50.0, 0.5, 60.0])
    np.testing.assert_allclose(xyah_to_box(box_to_xyah(boxes)), boxes, atol=1e-12)


def test_chi2_table_is_the_095_quantiles():
    assert sorted(CHI2_95) == list(range(1, 10))
    for dof, threshold in CHI2_95.items():
        assert abs(threshold - chi2.ppf(0.95, dof)) < 5e-4


def test_add_starts_at_rest_with_height_scaled_noise():
    kf = XyahKalmanFilter()
    kf.add(np.array([[10.0, 20.0, 30.0, 60.0]]))
    np.testing.assert_allclose(kf.mean[0], [25.0, 50.0, 0.5, 60.0, 0, 0, 0, 0])
    # h = 60: position 2/20 h = 6, velocity 10/160 h = 3.75; aspect 1e-2, its velocity 1e-5
    variances = [36.0, 36.0, 1e-4, 36.0, 14.0625, 14.0625, 1e-10, 14.0625]
    np.testing.assert_allclose(kf.covariance[0], np.diag(variances), rtol=1e-12)
    kf.add(np.array([[0.0, 0.0, 8.0, 16.0]]))
    assert len(kf) == 2 and kf.covariance[1, 3, 3] == pytest.approx((2 * 16 / 20) ** 2)


def test_predict_moves_by_the_velocity_and_adds_motion_noise():
    kf = XyahKalmanFilter()
    kf.add(np.array([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 10.0, 20.0], [5.0, 5.0, 4.0, 8.0]]))
    kf.mean[:, 4:] = [[2.0, -1.0, 0.01, 3.0], [1.0, 1.0, 0.0, 2.0], [7.0, 7.0, 0.0, 7.0]]
    mean, cov = kf.mean.copy(), kf.covariance.copy()
    kf.predict(np.array([0, 1]), freeze_height=np.array([False, True]))
    np.testing.assert_allclose(kf.mean[0, :4], [27.0, 49.0, 0.51, 63.0])
    # h = 60: position noise std 3, velocity 0.375
    q = np.diag([9.0, 9.0, 1e-4, 9.0, 0.140625, 0.140625, 1e-10, 0.140625])
    np.testing.assert_allclose(kf.covariance[0], XYAH_TRANSITION @ cov[0] @ XYAH_TRANSITION.T + q)
    assert kf.mean[1, 7] == 0.0 and kf.mean[1, 3] == mean[1, 3]  # height velocity zeroed first
    np.testing.assert_allclose(kf.mean[1, :2], mean[1, :2] + 1.0)
    np.testing.assert_array_equal(kf.mean[2], mean[2])  # not advanced
    np.testing.assert_array_equal(kf.covariance[2], cov[2])


def test_project_adds_the_innovation_noise():
    kf = XyahKalmanFilter()
    kf.add(np.array([[10.0, 20.0, 30.0, 60.0]]))
    mean, cov = kf.project()
    np.testing.assert_allclose(mean[0], [25.0, 50.0, 0.5, 60.0])
    np.testing.assert_allclose(cov[0], np.diag([45.0, 45.0, 1e-4 + 1e-2, 45.0]), rtol=1e-12)


def test_gating_distance_by_hand():
    kf = XyahKalmanFilter()
    kf.add(np.array([[10.0, 20.0, 30.0, 60.0]]))
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [13.0, 20.0, 30.0, 60.0], [10.0, 14.0, 30.0, 60.0]])
    # S = diag(45, 45, 0.0101, 45): 3 px in x -> 9 / 45, 6 px in y -> 36 / 45
    np.testing.assert_allclose(kf.gating_distance(boxes), [[0.0, 0.2, 0.8]], atol=1e-12)
    assert kf.gating_distance(np.zeros((0, 4))).shape == (1, 0)


def test_filter_equals_the_per_track_reference():
    rng = np.random.default_rng(7)

    def random_boxes(n):
        return np.column_stack([rng.uniform(0, 500, (n, 2)), rng.uniform(10, 80, (n, 2))])

    kf = XyahKalmanFilter()
    start = random_boxes(4)
    kf.add(start)
    states = [reference_initiate(z) for z in box_to_xyah(start)]
    for _ in range(3):
        push = rng.normal(0, 1, (4, 4))  # velocities, so that freezing the height velocity shows
        kf.mean[:, 4:] += push
        frozen = rng.random(4) < 0.5
        kf.predict(freeze_height=frozen)
        for i, (x, P) in enumerate(states):
            x = x + np.r_[np.zeros(4), push[i]]
            if frozen[i]:
                x[7] = 0.0
            states[i] = reference_predict(x, P)
        observed, index = random_boxes(2), np.array([3, 1])
        measured = random_boxes(5)
        expected_gating = [reference_gating(x, P, box_to_xyah(measured)) for x, P in states]
        np.testing.assert_allclose(kf.gating_distance(measured), expected_gating, rtol=1e-9)
        kf.update(index, observed)
        for row, i in enumerate(index):
            states[i] = reference_update(*states[i], box_to_xyah(observed[row])[0])
        for i, (x, P) in enumerate(states):
            np.testing.assert_allclose(kf.mean[i], x, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(kf.covariance[i], P, rtol=1e-7, atol=1e-9)
            np.testing.assert_allclose(kf.project()[1][i], reference_project(x, P)[1], rtol=1e-9)
    np.testing.assert_allclose(kf.boxes(), xyah_to_box(np.array([x for x, _ in states])))
    kf.keep(np.array([True, False, True, False]))
    np.testing.assert_allclose(kf.mean, [states[0][0], states[2][0]], rtol=1e-9)


# --- thresholded assignment -----------------------------------------------------------------------


def assignment(cost, limit):
    matches, rows, cols = thresholded_assignment(np.array(cost, dtype=float), limit)
    return matches.tolist(), rows.tolist(), cols.tolist()


def test_a_pair_at_the_limit_is_matched_and_one_above_is_not():
    assert assignment([[0.5]], 0.5) == ([[0, 0]], [], [])
    assert assignment([[np.nextafter(0.5, 1.0)]], 0.5) == ([], [0], [0])
    assert assignment([[0.7, 0.2], [0.9, 0.8]], 0.7) == ([[0, 1]], [1], [0])


def test_infinite_costs_are_never_matched():
    inf = np.inf
    assert assignment([[inf, 0.3], [0.2, inf]], 0.5) == ([[0, 1], [1, 0]], [], [])
    assert assignment([[inf, inf], [0.1, inf]], 0.5) == ([[1, 0]], [0], [1])
    assert assignment([[inf]], 1e9) == ([], [0], [0])


def test_empty_matrices():
    assert assignment(np.zeros((0, 3)), 0.5) == ([], [], [0, 1, 2])
    assert assignment(np.zeros((2, 0)), 0.5) == ([], [0, 1], [])
    matches, rows, cols = thresholded_assignment(np.zeros((0, 0)), 0.5)
    assert matches.shape == (0, 2) and rows.size == 0 and cols.size == 0


def test_the_optimum_beats_greedy_and_assign_then_drop():
    # greedy takes the cheapest pair (0, 0) first, then (1, 1) at 0.9: 1.0 in all; optimum 0.35
    assert assignment([[0.1, 0.2], [0.15, 0.9]], 1.0) == ([[0, 1], [1, 0]], [], [])
    # a full assignment then dropped above the limit pairs (0, 1) and (1, 0) (1.2 in all); leaving
    # row 1 and column 1 out costs 0.1 + 2 * 0.5
    assert assignment([[0.1, 0.6], [0.6, 5.0]], 1.0) == ([[0, 0]], [1], [1])


def test_a_non_finite_limit_is_refused():
    with pytest.raises(ValueError, match="finite"):
        thresholded_assignment(np.zeros((1, 1)), np.inf)


def test_assignment_equals_lap_on_random_matrices():
    lap = pytest.importorskip("lap")
    rng = np.random.default_rng(11)
    for _ in range(300):
        rows, cols = rng.integers(1, 8, 2)  # lap crashes on a 0 x 0 problem
        cost = rng.uniform(0, 1.5, (rows, cols))
        cost[rng.random((rows, cols)) < 0.2] = np.inf
        limit = rng.uniform(0.2, 1.5)
        _, x, y = lap.lapjv(cost, extend_cost=True, cost_limit=limit)
        matches, unmatched_rows, unmatched_cols = thresholded_assignment(cost, limit)
        np.testing.assert_array_equal(matches[:, 1], x[x >= 0])
        np.testing.assert_array_equal(matches[:, 0], np.flatnonzero(x >= 0))
        np.testing.assert_array_equal(unmatched_rows, np.flatnonzero(x < 0))
        np.testing.assert_array_equal(unmatched_cols, np.flatnonzero(y < 0))


# --- costs ----------------------------------------------------------------------------------------


def test_fused_motion_cost_gates_before_mixing():
    cost = np.array([[0.2, 0.3, 0.4], [np.inf, 0.5, 0.1]])
    gating = np.array([[1.0, 10.0, CHI2_95[4]], [1.0, 2.0, 9.5]])
    fused = fused_motion_cost(cost, gating)
    expected = [[0.98 * 0.2 + 0.02 * 1.0, np.inf, 0.98 * 0.4 + 0.02 * CHI2_95[4]]]
    expected.append([np.inf, 0.98 * 0.5 + 0.02 * 2.0, np.inf])
    np.testing.assert_allclose(fused, expected, rtol=1e-15)
    np.testing.assert_allclose(fused_motion_cost(cost, gating, weight=0.5, gate=20.0)[0, 1], 5.15)
    assert cost[0, 1] == 0.3  # the input is left as it was


def test_embedding_cost_is_the_floored_cosine_distance():
    rng = np.random.default_rng(5)
    tracks, detections = rng.normal(size=(4, 16)), rng.normal(size=(3, 16))
    np.testing.assert_allclose(
        embedding_cost(tracks, detections), cdist(tracks, detections, "cosine"), atol=1e-12
    )
    np.testing.assert_allclose(
        embedding_cost(3 * tracks, detections / 7), cdist(tracks, detections, "cosine"), atol=1e-12
    )
    assert embedding_cost(np.array([[1.0, 0.0]]), np.array([[-2.0, 0.0]]))[0, 0] == 2.0
    same = rng.uniform(size=(50, 4))
    unit = same / np.linalg.norm(same, axis=1, keepdims=True)
    assert (1 - np.einsum("ij,ij->i", unit, unit)).min() < 0  # rounding goes below zero here
    self_cost = np.diag(embedding_cost(same, same))
    assert (self_cost >= 0).all() and self_cost.max() < 1e-15
    assert embedding_cost(np.zeros((0, 16)), detections).shape == (0, 3)


def bbox_overlaps_pixel_inclusive(a_xyxy, b_xyxy):
    """cython_bbox's ``bbox_overlaps`` written out pair by pair."""
    out = np.zeros((len(a_xyxy), len(b_xyxy)))
    for n, a in enumerate(a_xyxy):
        for k, b in enumerate(b_xyxy):
            iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
            ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
            if iw > 0 and ih > 0:
                area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
                area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
                out[n, k] = iw * ih / (area_a + area_b - iw * ih)
    return out


def test_iou_cost_by_hand_in_both_conventions():
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 0.0, 10.0, 10.0], [10.0, 0.0, 10.0, 10.0]])
    # continuous: 50 / 150 and touching boxes do not overlap; 11 x 11 pixels: 66 / 176 and 11 / 231
    np.testing.assert_allclose(iou_cost(a, b, pixel_inclusive=False), [[2 / 3, 1.0]])
    np.testing.assert_allclose(iou_cost(a, b, pixel_inclusive=True), [[1 - 0.375, 1 - 1 / 21]])


def test_iou_cost_equals_its_references_on_random_boxes():
    rng = np.random.default_rng(2)
    a = np.column_stack([rng.uniform(0, 50, (6, 2)), rng.uniform(1, 30, (6, 2))])
    b = np.column_stack([rng.uniform(0, 50, (5, 2)), rng.uniform(1, 30, (5, 2))])
    np.testing.assert_allclose(iou_cost(a, b, pixel_inclusive=False), 1 - iou_matrix(a, b))
    a_xyxy, b_xyxy = np.c_[a[:, :2], a[:, :2] + a[:, 2:]], np.c_[b[:, :2], b[:, :2] + b[:, 2:]]
    expected = 1 - bbox_overlaps_pixel_inclusive(a_xyxy, b_xyxy)
    np.testing.assert_allclose(iou_cost(a, b, pixel_inclusive=True), expected, rtol=1e-12)
