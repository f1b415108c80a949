"""The matching algebra of cross-input consistency against its equations and the released code."""

import numpy as np
import pytest
import torch

from trackers.cis.matching import (
    consistency_loss,
    greedy_assignment,
    hungarian_assignment,
    match_matrix,
    mutual_argmax,
    spatial_mask,
    terminal_reweight,
)


def test_match_matrix_is_eq1_min_of_row_and_column_softmax():
    logits = torch.tensor([[2.0, 0.0, -1.0], [1.0, 3.0, 0.5]])
    e = np.exp(logits.numpy())
    rows = e / e.sum(axis=1, keepdims=True)
    columns = e / e.sum(axis=0, keepdims=True)
    np.testing.assert_allclose(match_matrix(logits).numpy(), np.minimum(rows, columns), rtol=1e-6)
    np.testing.assert_allclose(match_matrix(logits, "row").numpy(), rows, rtol=1e-6)


def test_two_rows_on_one_column_get_at_most_a_half_each():
    """§3.2: the column softmax stops every frame-0 detection matching one detection."""
    logits = torch.tensor([[9.0, -9.0, -9.0], [9.0, -9.0, -9.0]])
    matrix = match_matrix(logits)
    assert matrix[:, 0].max() <= 0.5 + 1e-6
    assert torch.allclose(match_matrix(logits, "row")[:, 0], torch.ones(2), atol=1e-3)


def test_terminal_reweight_as_the_code():
    matrix = torch.tensor([[0.6, 0.1, 0.1], [0.2, 0.3, 0.05], [0.1, 0.1, 0.02]])
    out = terminal_reweight(matrix).numpy()
    m = matrix.numpy()
    factor = min(1 / (m[:, -1].sum() + 0.01), 3)
    room = np.maximum(1 - m[:, :-1].sum(axis=1), 0)
    np.testing.assert_allclose(out[:, :-1], m[:, :-1])
    np.testing.assert_allclose(out[:, -1], np.minimum(m[:, -1] * factor, room), rtol=1e-6)


def test_consistency_loss_is_minus_mean_log_dot_product():
    a = torch.tensor([[0.7, 0.1, 0.1], [0.1, 0.6, 0.2]])
    b = torch.tensor([[0.5, 0.2, 0.2], [0.3, 0.4, 0.1]])
    mask = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    ra, rb = terminal_reweight(a), terminal_reweight(b)
    expected = -torch.log((ra * rb * mask).sum(dim=1) + 1e-8).mean()
    assert torch.isclose(consistency_loss(a, b, mask), expected)
    # a masked entry contributes nothing: zeroing it in A changes no loss
    a2 = a.clone()
    a2[0, 1] = 0.0
    assert torch.isclose(consistency_loss(a2, b, mask), consistency_loss(a, b, mask))


def box(x, y, w=10.0, h=10.0):
    return [x, y, w, h]


def test_spatial_mask_flood_fill():
    """Labels flow along padded-IoU links, across a frame without the object, not past the age."""
    frames = [
        np.array([box(0, 0), box(100, 100)]),
        np.array([box(4, 0)]),  # only the first object
        np.zeros((0, 4)),  # nobody
        np.array([box(10, 0), box(200, 200)]),  # linked to frame 1 across the empty frame
    ]
    mask = spatial_mask(frames, 3, padding=10, min_iou=0.1, max_age=10)
    np.testing.assert_array_equal(mask, [[1, 0, 1], [0, 0, 1]])
    # without padding the 6 px step from frame 1 to frame 3 still overlaps; 40 px does not
    far = [frames[0], frames[1], frames[2], np.array([box(44, 0)])]
    assert spatial_mask(far, 3, padding=0, min_iou=0.1, max_age=10)[0, 0] == 0
    assert spatial_mask(far, 3, padding=30, min_iou=0.1, max_age=10)[0, 0] == 1
    # a label lives max_age - 1 frames without a link (preprocess-matches.go:50, 78)
    gap = [np.array([box(0, 0)])] + [np.zeros((0, 4))] * 3 + [np.array([box(0, 0)])]
    assert spatial_mask(gap, 4, 10, 0.1, max_age=5)[0, 0] == 1
    assert spatial_mask(gap, 4, 10, 0.1, max_age=4)[0, 0] == 0


def test_mutual_argmax_falls_back_to_no_match():
    matrix = torch.tensor([[0.6, 0.1, 0.3], [0.5, 0.2, 0.3], [0.1, 0.7, 0.2]])
    assert mutual_argmax(matrix).tolist() == [0, 2, 1]


@pytest.mark.parametrize(
    "scores, expected",
    [
        ([[0.9, 0.1, 0.0], [0.8, 0.3, 0.0]], {0: 0}),  # the loser stays unmatched
        ([[0.2, 0.1, 0.5], [0.1, 0.6, 0.2]], {1: 1}),  # track 0 votes "no match"
        ([[0.5, 0.1, 0.0], [0.5, 0.2, 0.0]], {0: 0}),  # a tie goes to the earlier track
        ([[0.3, 0.3, 0.0]], {0: 0}),  # a track's tie goes to the first column
    ],
)
def test_greedy_assignment(scores, expected):
    assert greedy_assignment(np.array(scores)) == expected


def test_hungarian_assignment_is_the_papers_minimum_cost_matching():
    """Cost 1 - p with a private "no match" per track: the total is minimal where the greedy
    vote is not, and a vetoed candidate (-100) is never taken."""
    scores = np.array([[0.6, 0.5, 0.1], [0.55, 0.0, 0.1]])
    assert greedy_assignment(scores) == {0: 0}  # track 1 loses detection 0 and stays unmatched
    assert hungarian_assignment(scores) == {0: 1, 1: 0}  # cost 0.5 + 0.45 < 0.4 + 0.9
    assert (
        hungarian_assignment(np.array([[-100.0, 0.2], [0.3, 0.4]])) == {}
    )  # 0.8 + 0.6 < 0.8 + 0.7
    assert hungarian_assignment(np.array([[-100.0, 0.2], [0.5, 0.4]])) == {1: 0}  # 0.8 + 0.5
    assert hungarian_assignment(np.array([[-100.0, 0.2]])) == {}
