"""OccE against the paper's equations: occlusion targets (eqs 9-10, 13), the agreement score and
the relocation of a lost box (eqs 15-16), Algorithm 1's choice."""

import math

import numpy as np
import pytest

from trackers.utrack.occlusion import (
    centre_agreement,
    gaussian_radius,
    occlusion_boxes,
    occlusion_targets,
    refind,
    relocate,
    relocate_code,
    relocate_side,
)


def test_gaussian_radius_is_the_smallest_of_centernets_three():
    """For a 10 x 20 box at overlap 0.7, the three roots as CenterNet writes them."""
    h, w, o = 10, 20, 0.7
    r1 = ((h + w) + math.sqrt((h + w) ** 2 - 4 * w * h * (1 - o) / (1 + o))) / 2
    r2 = (2 * (h + w) + math.sqrt(4 * (h + w) ** 2 - 16 * (1 - o) * w * h)) / 2
    r3 = (-2 * o * (h + w) + math.sqrt(4 * o**2 * (h + w) ** 2 - 16 * o * (o - 1) * w * h)) / 2
    assert gaussian_radius(h, w) == pytest.approx(min(r1, r2, r3))
    assert gaussian_radius(h, w) == pytest.approx(r3)


def test_eq9_keeps_overlaps_above_tau_of_the_smaller_box():
    """A small box covered by a large one (Fig. 3 left) and two boxes overlapping by 25% of the
    smaller (Fig. 3 right): only the first is an occlusion at tau 0.7, both at tau 0.2."""
    boxes = np.array([[0, 0, 40, 40], [10, 10, 20, 20], [100, 100, 120, 120], [110, 110, 130, 130]])
    np.testing.assert_array_equal(occlusion_boxes(boxes, 0.7), [[10, 10, 20, 20]])
    found = occlusion_boxes(boxes, 0.2)
    np.testing.assert_array_equal(found, [[10, 10, 20, 20], [110, 110, 120, 120]])
    assert len(occlusion_boxes(boxes[:1], 0.7)) == 0


def test_targets_peak_at_the_overlap_centre_with_the_offset():
    """Eq. 10: Y is 1 at the integer overlap centre and falls off as CenterNet's Gaussian; eq. 13's
    offset is the centre's fractional part."""
    boxes = np.array([[2.0, 3.0, 12.5, 13.5], [4.0, 5.0, 11.0, 12.0]])
    heatmap, centres, offsets = occlusion_targets(boxes, 20, 20, tau=0.7)
    np.testing.assert_array_equal(centres, [[7, 8]])
    np.testing.assert_allclose(offsets, [[0.5, 0.5]])
    assert heatmap[8, 7] == 1.0
    assert heatmap.max() == 1.0
    radius = int(gaussian_radius(7, 7))
    sigma = (2 * radius + 1) / 6
    assert heatmap[8, 8] == pytest.approx(math.exp(-1 / (2 * sigma**2)))
    assert heatmap[8, 7 + radius + 1] == 0.0
    empty, none, _ = occlusion_targets(np.zeros((0, 4)), 20, 20)
    assert empty.sum() == 0 and len(none) == 0


def test_eq16_cases():
    """F(a1, a2, b1, b2, z) for a lost span [a1, a2] and an occluder [b1, b2]: each case puts the
    overlap's centre at z."""
    # lost left of the occluder: overlap [b1, a2'] centred at z
    left = relocate_side(0, 10, 5, 20, 8)
    assert left == 1 and (5 + left + 10) / 2 == 8
    # lost inside the occluder: its own centre at z
    assert relocate_side(6, 10, 5, 20, 9) == 7
    # lost right of the occluder: overlap [a1', b2] centred at z
    right = relocate_side(15, 25, 5, 20, 18)
    assert right == 16 and (right + 20) / 2 == 18
    # lost containing the occluder: kept
    assert relocate_side(0, 30, 5, 20, 12) == 0


def test_eq15_keeps_size_and_centres_the_overlap():
    lost, occluder, centre = (
        np.array([0, 0, 10, 10.0]),
        np.array([5, 2, 20, 30.0]),
        np.array([8, 6]),
    )
    box = relocate(lost, occluder, centre)
    np.testing.assert_allclose(box[2:] - box[:2], [10, 10])
    overlap = np.concatenate([np.maximum(box[:2], occluder[:2]), np.minimum(box[2:], occluder[2:])])
    np.testing.assert_allclose((overlap[:2] + overlap[2:]) / 2, centre)


def test_code_inverse_averages_the_consistent_cases():
    """Where the paper's case (from the predicted box) and the solution's own position disagree,
    the code keeps only consistent solutions and averages them."""
    lost, occluder = np.array([0, 0, 10, 10.0]), np.array([5, 0, 20, 10.0])
    centre = np.array([8.0, 5.0])
    np.testing.assert_allclose(
        relocate_code(lost, occluder, centre), relocate(lost, occluder, centre)
    )
    # a centre deep inside the occluder: the paper's case 1 gives left 11 (> b1, not case 1);
    # the code finds case 2 (left 9.0, inside) and case 3 would need left + 10 > 20
    centre = np.array([14.0, 5.0])
    assert relocate(lost, occluder, centre)[0] == 2 * 14 - 5 - 10
    assert relocate_code(lost, occluder, centre)[0] == pytest.approx((2 * 14 - 10) / 2)


def test_agreement_is_the_gaussian_of_the_overlap_centre():
    tracked, lost = np.array([0, 0, 20, 20.0]), np.array([10, 0, 30, 20.0])
    assert centre_agreement(tracked, lost, np.array([15.0, 10.0])) == 1.0
    radius = gaussian_radius(10, 20)
    score = centre_agreement(tracked, lost, np.array([17.0, 10.0]))
    assert score == pytest.approx(math.exp(-4 / (2 * radius**2)))
    assert centre_agreement(tracked, np.array([40, 40, 50, 50.0]), np.array([45.0, 45.0])) == 0.0


def test_refind_takes_the_best_pair_inside_both_boxes():
    """Algorithm 1 line 19: only centres inside the lost box and a tracked box count; the best
    agreement wins and gives the relocated box."""
    lost = np.array([[10, 0, 30, 20.0], [200, 200, 210, 210.0]])
    tracked = np.array([[0, 0, 20, 20.0], [25, 0, 45, 20.0]])
    centres = np.array([[16.0, 10.0], [29.0, 10.0], [100.0, 100.0]])
    first = centre_agreement(tracked[0], lost[0], centres[0])
    second = centre_agreement(tracked[1], lost[0], centres[1])
    assert first > second > 0
    (score, box), (none_score, none_box) = refind(lost, tracked, centres)
    assert score == pytest.approx(first)
    np.testing.assert_allclose(box, relocate(lost[0], tracked[0], centres[0]))
    assert (none_score, none_box) == (0.0, None)
