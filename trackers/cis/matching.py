"""The matching algebra of cross-input consistency: eq. 1's transition matrix, the code's terminal
reweighting, the consistency loss, the spatial mask's flood fill, the recurrent selection and the
greedy assignment of inference. Matrices are (tracks, detections + 1): the last column is
"no match" (the track ended or is hidden).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from harness.boxes import iou_matrix

SELF_PAIR_LOGIT = -50.0
"""A frame-0 detection offered as its own negative candidate gets this logit (model.py:313-314)."""
NEGATIVE_SCORE = -100.0
"""Inference: a candidate a branch scores below 0 gets this score (infer.py:270-271)."""
EPSILON = 1e-8
"""Inside the loss's logarithm (model.py:389)."""


def match_matrix(logits: Tensor, normalisation: str = "min") -> Tensor:
    """Eq. 1: M = min(softmax over each row, softmax over each column) of the score matrix
    (model.py:329-332); ``normalisation="row"`` is the row softmax alone (the paper's degenerate
    alternative, §3.2)."""
    rows = torch.softmax(logits, dim=1)
    if normalisation == "row":
        return rows
    return torch.minimum(rows, torch.softmax(logits, dim=0))


def terminal_reweight(matrix: Tensor) -> Tensor:
    """The code's R (model.py:357-364): the "no match" column scaled by
    min(1 / (its sum + 0.01), rows), each entry capped at 1 minus the rest of its row."""
    terminal = matrix[:, -1]
    factor = torch.clamp(1.0 / (terminal.sum() + 1e-2), max=float(matrix.shape[0]))
    room = torch.clamp(1 - matrix[:, :-1].sum(dim=1), min=0)
    return torch.cat([matrix[:, :-1], torch.minimum(terminal * factor, room)[:, None]], dim=1)


def consistency_loss(a: Tensor, b: Tensor, mask: Tensor | None = None) -> Tensor:
    """§3.2's loss as the code computes it (model.py:383-397): minus the mean over rows of
    log Σ_j R(A)_ij R(B)_ij C_ij (+1e-8), C the spatial mask (None: all ones)."""
    product = terminal_reweight(a) * terminal_reweight(b)
    if mask is not None:
        product = product * mask
    return -torch.log(product.sum(dim=1) + EPSILON).mean()


def spatial_mask(
    boxes: list[np.ndarray], last: int, padding: float, min_iou: float, max_age: int
) -> np.ndarray:
    """C(0, last) (len(boxes[0]), len(boxes[last]) + 1): 1 where a frame-0 detection's label can
    reach a detection of frame ``last`` (and always in the "no match" column), else 0.

    The flood fill of scripts/preprocess-matches.go:33-92 over consecutive frames ``boxes[t]``
    (n_t, 4) ltwh: a detection carrying a label passes it to each detection of a later frame, at
    most ``max_age`` - 1 frames later, whose box overlaps its own with IoU >= ``min_iou`` when both
    are padded by ``padding`` pixels on every side.
    """
    padded = [
        np.concatenate([b[:, :2] - padding, b[:, 2:] + 2 * padding], axis=1) if len(b) else b
        for b in boxes[: last + 1]
    ]
    n0 = len(boxes[0])
    labels = [np.eye(n0, dtype=bool)]  # labels[t][j]: frame-0 labels held by detection j of t
    for t in range(1, last + 1):
        held = np.zeros((len(padded[t]), n0), bool)
        for source in range(max(0, t - max_age + 1), t):
            if len(padded[source]) and len(padded[t]):
                links = iou_matrix(padded[t], padded[source]) >= min_iou
                held |= (links.astype(np.int64) @ labels[source].astype(np.int64)) > 0
        labels.append(held)
    mask = np.ones((n0, len(boxes[last]) + 1), np.float32)
    mask[:, :-1] = labels[last].T
    return mask


def mutual_argmax(matrix: Tensor) -> Tensor:
    """Each row's argmax column when that row is also the column's argmax, else the "no match"
    column (model.py:366-381): how training follows tracks from frame to frame."""
    rows = matrix.argmax(dim=1)
    if not len(rows):
        return rows
    columns = matrix.argmax(dim=0)
    mutual = columns[rows] == torch.arange(len(rows), device=matrix.device)
    return torch.where(mutual, rows, matrix.shape[1] - 1)


def greedy_assignment(scores: np.ndarray) -> dict[int, int]:
    """Track -> detection matches of one frame from scores (tracks, detections + 1) (infer.py
    262-287): each track votes for its best column (the first on ties); a detection voted for by
    several tracks goes to the highest vote (the earliest track on ties); a track voting "no
    match" or losing stays unmatched."""
    if scores.size == 0:
        return {}
    best = scores.argmax(axis=1)
    value = scores[np.arange(len(scores)), best]
    winners: dict[int, int] = {}
    for track in range(len(scores)):
        column = int(best[track])
        if column == scores.shape[1] - 1:
            continue
        if column not in winners or value[track] > value[winners[column]]:
            winners[column] = track
    return {track: column for column, track in winners.items()}


def hungarian_assignment(scores: np.ndarray) -> dict[int, int]:
    """The paper's reading (§3.1): a minimum-cost bipartite matching of tracks to detections at
    cost 1 - p, each track also offered its own "no match" at 1 - p(no match); a track matched to
    it stays unmatched."""
    n, m = scores.shape[0], scores.shape[1] - 1
    if n == 0:
        return {}
    stay = np.full((n, n), np.inf)
    np.fill_diagonal(stay, 1 - scores[:, -1])
    cost = np.concatenate([1 - scores[:, :m], stay], axis=1)
    rows, columns = linear_sum_assignment(cost)
    return {int(r): int(c) for r, c in zip(rows, columns) if c < m}
