"""Box conversions and the vectorised IoU matrix against a brute-force loop."""

from __future__ import annotations

import numpy as np
import pytest

from harness.boxes import (
    cxcywh_to_ltwh,
    iou_matrix,
    ltwh_to_cxcywh,
    ltwh_to_xyxy,
    xyxy_to_ltwh,
)


def brute_force_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two ltwh boxes written out scalar by scalar."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter_w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    inter_h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack([rng.uniform(0, 100, (n, 2)), rng.uniform(0, 40, (n, 2))])


def test_iou_matrix_matches_brute_force_loop():
    rng = np.random.default_rng(0)
    a, b = random_boxes(rng, 30), random_boxes(rng, 20)
    a[0, 2:] = 0.0  # a degenerate box
    expected = np.array([[brute_force_iou(x, y) for y in b] for x in a])
    got = iou_matrix(a, b)
    assert got.shape == (30, 20)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert (got > 0).any() and (got == 0).any()


def test_iou_matrix_special_cases():
    box = np.array([[10.0, 20.0, 30.0, 40.0]])
    assert iou_matrix(box, box)[0, 0] == pytest.approx(1.0)
    assert iou_matrix(box, box + [100, 0, 0, 0])[0, 0] == 0.0
    half = np.array([[25.0, 20.0, 30.0, 40.0]])  # shifted by half the width: IoU = 1/3
    assert iou_matrix(box, half)[0, 0] == pytest.approx(1 / 3)
    zero = np.zeros((1, 4))
    assert iou_matrix(zero, zero)[0, 0] == 0.0
    assert iou_matrix(np.zeros((0, 4)), box).shape == (0, 1)
    assert iou_matrix(box, []).shape == (1, 0)


def test_conversions_round_trip_and_values():
    rng = np.random.default_rng(1)
    boxes = random_boxes(rng, 50)
    np.testing.assert_allclose(xyxy_to_ltwh(ltwh_to_xyxy(boxes)), boxes, atol=1e-12)
    np.testing.assert_allclose(cxcywh_to_ltwh(ltwh_to_cxcywh(boxes)), boxes, atol=1e-12)
    np.testing.assert_array_equal(ltwh_to_xyxy([1, 2, 3, 4]), [[1, 2, 4, 6]])
    np.testing.assert_array_equal(ltwh_to_cxcywh([1, 2, 4, 6]), [[3, 5, 4, 6]])
