"""Re-identification losses on the embeddings of two frames' objects (Liu et al. 2022 §3.1;
liuqk3/OUTrack src/lib/models/losses.py): UTrack's (eqs 1-8), CycAs's (the baseline of Table 1)
and a supervised reference. Each returns (loss summed over the pair, objects counted); a batch
divides the sums by the count, as ``CycleLoss.forward`` does (losses.py:687-690).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional

from trackers.utrack.config import UTrackConfig

MASKED = -1e18
"""The similarity of an object with itself (eq. 1's -inf; losses.py:538-539)."""


def similarity_matrix(first: Tensor, second: Tensor, placeholder: str) -> Tensor:
    """S' (N+M, N+M+1) of eq. 1 for embeddings ``first`` (N, D) and ``second`` (M, D): cosine
    similarities, the diagonal masked, and the placeholder column p: the mean (or median: the
    lower of the two middle values, as torch's) of the off-diagonal similarities, detached, or 0
    (``zero``); ``none`` appends no column (losses.py:534-581)."""
    features = functional.normalize(torch.cat([first, second]), dim=1)
    similarity = features @ features.T
    diagonal = torch.eye(len(features), dtype=torch.bool, device=features.device)
    off = similarity[~diagonal].detach()
    similarity = similarity.masked_fill(diagonal, MASKED)
    if placeholder == "none":
        return similarity
    value = {"mean": off.mean, "median": off.median}.get(placeholder, lambda: off.new_zeros(()))()
    column = value.expand(len(features), 1)
    return torch.cat([similarity, column], dim=1)


def adaptive_temperature(columns: int, epsilon: float = 0.5) -> float:
    """T = log(C + 1) / epsilon for C columns (losses.py:508-510; eq. 2's 2 log(C + 1))."""
    return math.log(columns + 1) / epsilon


def temperature_of(similarity: Tensor, config: UTrackConfig) -> float:
    """The fixed temperature of ``config``, else the adaptive one for S''s columns."""
    if config.temperature is not None:
        return config.temperature
    return adaptive_temperature(similarity.shape[1], config.epsilon)


def adaptive_margin(temperature: float, objects: int) -> float:
    """The code's margin when m <= 0 (losses.py:589-592)."""
    t = temperature
    return (math.exp(t) - math.exp(-t)) / ((objects - 1) * math.exp(-t) + math.exp(t))


def intra_term(assignment: Tensor, first: int, reading: str = "code") -> Tensor:
    """Eq. 3: the assignments between objects of one frame (both triangles of each frame's block,
    losses.py:599-601; ``paper``: i < j only)."""
    total = assignment.shape[0]
    frame = torch.arange(total, device=assignment.device) < first
    same = frame[:, None] == frame[None, :]
    pairs = same & ~torch.eye(total, dtype=torch.bool, device=assignment.device)
    if reading == "paper":
        pairs = pairs.triu(diagonal=1)
    return assignment[:, :total][pairs].sum()


def inter_term(assignment: Tensor, margin: float) -> Tensor:
    """Eq. 4: per row, the hinge of the second-largest assignment + m over the largest, over
    every column including the placeholder (losses.py:614-615)."""
    top = torch.topk(assignment, k=2, dim=1).values
    return torch.relu(top[:, 1] + margin - top[:, 0]).sum()


def cycle_term(assignment: Tensor, first: int) -> Tensor:
    """Eq. 5: |M_ij - M_ji| over i in the second frame, j in the first (losses.py:607-609)."""
    total = assignment.shape[0]
    forward = assignment[:first, first:total]
    backward = assignment[first:total, :first]
    return (forward - backward.T).abs().sum()


def utrack_loss(first: Tensor, second: Tensor, config: UTrackConfig) -> tuple[Tensor, int]:
    """Eq. 6 on a positive pair: the chosen terms of M' summed (losses.py:573-622)."""
    similarity = similarity_matrix(first, second, config.placeholder)
    temperature = temperature_of(similarity, config)
    assignment = torch.softmax(temperature * similarity, dim=1)  # M' of eq. 2
    objects = len(assignment)
    margin = config.margin if config.margin > 0 else adaptive_margin(temperature, objects)
    terms = {
        "intra": lambda: intra_term(assignment, len(first), config.intra),
        "inter": lambda: inter_term(assignment, margin),
        "cycle": lambda: cycle_term(assignment, len(first)),
    }
    loss = torch.stack([terms[name]() for name in config.terms]).sum()
    return loss, objects


def negative_loss(first: Tensor, second: Tensor, config: UTrackConfig) -> tuple[Tensor, int]:
    """Eq. 7 on a negative pair (two videos): every assignment between objects, with the
    placeholder at 0, plus the code's hinge of the best match + m over the placeholder
    (losses.py:573, 623-636)."""
    similarity = similarity_matrix(first, second, "zero")
    assignment = torch.softmax(temperature_of(similarity, config) * similarity, dim=1)
    objects = len(assignment)
    loss = assignment[:, :objects].sum() - assignment[:, :objects].diagonal().sum()
    best = assignment[:, :objects].max(dim=1).values
    margin = config.margin if config.margin > 0 else 0.0
    return loss + torch.relu(best + margin - assignment[:, objects]).sum(), objects


def cycas_loss(
    first: Tensor, second: Tensor, margin: float, epsilon: float = 0.5
) -> tuple[Tensor, int]:
    """CycAs (the code's ``CycasLoss`` with supervise 0, losses.py:370-428): with N <= M, the
    forward (N, M) and backward (M, N) row softmaxes at the adaptive temperature, their product
    A (N, N), and hinges pushing each diagonal entry above its row's and column's largest
    off-diagonal entry (the diagonal counted as 0) by ``margin``."""
    if len(first) > len(second):
        first, second = second, first
    first, second = functional.normalize(first, dim=1), functional.normalize(second, dim=1)
    similarity = first @ second.T
    forward = torch.softmax(adaptive_temperature(similarity.shape[1], epsilon) * similarity, 1)
    backward = torch.softmax(adaptive_temperature(similarity.shape[0], epsilon) * similarity.T, 1)
    cycle = forward @ backward
    diagonal = cycle.diagonal()
    off = cycle - torch.diag(diagonal)
    loss = torch.relu(off.max(dim=1).values - diagonal + margin) + torch.relu(
        off.max(dim=0).values - diagonal + margin
    )
    return loss.sum(), len(diagonal)


def supervised_loss(
    first: Tensor, second: Tensor, first_ids: Tensor, second_ids: Tensor, config: UTrackConfig
) -> tuple[Tensor, int]:
    """The upper reference: M' trained toward the true assignment (cross-entropy of each row
    against the same identity in the other frame, or the placeholder when it has none; rows
    without either are skipped). FairMOT's reference classifies each identity of a finite
    training set (trains/mot.py:33-40, 70-75); a generated stream has no finite identity set."""
    similarity = similarity_matrix(first, second, config.placeholder)
    log_assignment = torch.log_softmax(temperature_of(similarity, config) * similarity, dim=1)
    n, m = len(first), len(second)
    ids = torch.cat([first_ids, second_ids])
    other_frame = (torch.arange(n + m) < n)[:, None] != (torch.arange(n + m) < n)[None, :]
    partner = (ids[:, None] == ids[None, :]) & other_frame
    has = partner.any(dim=1)
    target = torch.where(has, partner.float().argmax(dim=1), torch.full_like(ids, n + m))
    usable = has | torch.tensor(similarity.shape[1] > n + m)
    picked = log_assignment[torch.arange(n + m)[usable], target[usable]]
    return -picked.sum(), n + m
