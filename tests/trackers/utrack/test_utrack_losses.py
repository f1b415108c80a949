"""UTrack's re-ID losses against the paper's equations (§3.1) and the released code's sums, on
hand-made embeddings."""

import math

import numpy as np
import pytest
import torch

from harness.errors import ConfigError
from trackers.utrack.config import UTrackConfig
from trackers.utrack.losses import (
    adaptive_margin,
    adaptive_temperature,
    cycas_loss,
    cycle_term,
    inter_term,
    intra_term,
    negative_loss,
    similarity_matrix,
    supervised_loss,
    utrack_loss,
)


def unit(*angles):
    """2-d unit embeddings at ``angles`` (degrees)."""
    radians = np.radians(angles)
    return torch.tensor(np.stack([np.cos(radians), np.sin(radians)], axis=1), dtype=torch.float64)


FIRST, SECOND = unit(0, 90), unit(10, 80, 200)
COSINES = np.cos(np.radians(np.subtract.outer([0, 90, 10, 80, 200], [0, 90, 10, 80, 200])))


def test_similarity_matrix_masks_the_diagonal_and_appends_the_placeholder():
    """Eq. 1: cosine similarities, the diagonal masked; p the detached mean (or median, or 0) of
    the 20 off-diagonal similarities; ``none`` appends no column."""
    off = COSINES[~np.eye(5, dtype=bool)]
    for placeholder, value in (("mean", off.mean()), ("zero", 0.0), ("median", np.sort(off)[9])):
        s = similarity_matrix(FIRST, SECOND, placeholder).numpy()
        assert s.shape == (5, 6)
        np.testing.assert_allclose(s[:, 5], value)
        np.testing.assert_allclose(s[:, :5][~np.eye(5, dtype=bool)], off)
        assert (s.diagonal() <= -1e17).all()
    assert similarity_matrix(FIRST, SECOND, "none").shape == (5, 5)
    first = FIRST.clone().requires_grad_()
    similarity_matrix(first, SECOND, "mean")[:, 5].sum().backward()
    assert first.grad is None or float(first.grad.abs().sum()) == 0.0  # p is detached


def test_temperature_rule():
    """T = log(C + 1) / 0.5 = 2 log(C + 1), C counting the placeholder column (footnote 3)."""
    assert adaptive_temperature(6) == pytest.approx(2 * math.log(7))
    assert adaptive_temperature(6, epsilon=0.25) == pytest.approx(4 * math.log(7))
    t = 2.0
    assert adaptive_margin(t, 5) == pytest.approx(
        (math.e**2 - math.e**-2) / (4 * math.e**-2 + math.e**2)
    )


def by_hand(config):
    """M' and the terms written out from eqs 2-5 with loops."""
    s = np.full((5, 6), 0.0)
    off = COSINES[~np.eye(5, dtype=bool)]
    for i in range(5):
        for j in range(5):
            s[i, j] = -np.inf if i == j else COSINES[i, j]
        s[i, 5] = off.mean()
    t = 2 * math.log(7) if config.temperature is None else config.temperature
    m = np.exp(t * s) / np.exp(t * s).sum(axis=1, keepdims=True)
    frame = [0, 0, 1, 1, 1]
    intra = sum(m[i, j] for i in range(5) for j in range(5) if i != j and frame[i] == frame[j])
    intra_paper = sum(m[i, j] for i in range(5) for j in range(i + 1, 5) if frame[i] == frame[j])
    inter = sum(max(sorted(row)[-2] + 0.5 - max(row), 0) for row in m)
    cycle = sum(abs(m[i, j] - m[j, i]) for i in range(2, 5) for j in range(2))
    return m, intra, intra_paper, inter, cycle


def test_each_term_on_a_hand_made_case():
    """Eqs 3-5 on two frames of 2 and 3 objects: the code's intra sums both triangles of each
    frame's block, the paper's i < j; inter over every column with the placeholder; cycle over
    the pairs of the two frames once."""
    config = UTrackConfig()
    m, intra, intra_paper, inter, cycle = by_hand(config)
    assignment = torch.softmax(
        adaptive_temperature(6) * similarity_matrix(FIRST, SECOND, "mean"), dim=1
    )
    np.testing.assert_allclose(assignment.numpy(), m, rtol=1e-12)
    assert float(intra_term(assignment, 2)) == pytest.approx(intra)
    assert float(intra_term(assignment, 2, "paper")) == pytest.approx(intra_paper)
    assert float(inter_term(assignment, 0.5)) == pytest.approx(inter)
    assert float(cycle_term(assignment, 2)) == pytest.approx(cycle)
    loss, objects = utrack_loss(FIRST, SECOND, config)
    assert objects == 5
    assert float(loss) == pytest.approx(intra + inter + cycle)
    only_inter, _ = utrack_loss(FIRST, SECOND, config.replace(terms=("inter",)))
    assert float(only_inter) == pytest.approx(inter)


def test_fixed_temperature():
    config = UTrackConfig(temperature=3.0)
    m, intra, _, inter, cycle = by_hand(config)
    loss, _ = utrack_loss(FIRST, SECOND, config)
    assert float(loss) == pytest.approx(intra + inter + cycle)


def test_matching_embeddings_give_a_low_loss():
    """Objects that keep their embedding across frames and differ within one score lower than
    a shuffled second frame."""
    first, second = unit(0, 120, 240), unit(2, 122, 238)
    matched, _ = utrack_loss(first, second, UTrackConfig())
    collapsed, _ = utrack_loss(first, unit(0, 1, 2), UTrackConfig())
    assert float(matched) < float(collapsed)


def test_negative_pair_pushes_every_object_to_the_placeholder():
    """Eq. 7: the assignments between objects (placeholder 0) summed, plus the code's hinge of
    the best match + m over the placeholder."""
    loss, objects = negative_loss(FIRST, SECOND, UTrackConfig())
    s = np.where(np.eye(5, dtype=bool), -np.inf, COSINES)
    s = np.concatenate([s, np.zeros((5, 1))], axis=1)
    m = np.exp(2 * math.log(7) * s)
    m /= m.sum(axis=1, keepdims=True)
    hinge = np.maximum(m[:, :5].max(axis=1) + 0.5 - m[:, 5], 0).sum()
    assert objects == 5
    assert float(loss) == pytest.approx(m[:, :5].sum() + hinge)


def test_cycas_by_hand():
    """CycAs: forward (N, M) and backward (M, N) row softmaxes at log(K + 1) / 0.5, their product,
    hinges of the row and column maxima off the diagonal (0 on it) over the diagonal; the smaller
    frame first."""
    loss, objects = cycas_loss(SECOND, FIRST, margin=0.5)  # swapped inside: N = 2
    s = np.cos(np.radians(np.subtract.outer([0, 90], [10, 80, 200])))
    forward = np.exp(2 * math.log(4) * s)
    forward /= forward.sum(axis=1, keepdims=True)
    backward = np.exp(2 * math.log(3) * s.T)
    backward /= backward.sum(axis=1, keepdims=True)
    a = forward @ backward
    d = a.diagonal()
    off = a - np.diag(d)
    expected = np.maximum(off.max(1) - d + 0.5, 0) + np.maximum(off.max(0) - d + 0.5, 0)
    assert objects == 2
    assert float(loss) == pytest.approx(expected.sum())


def test_supervised_reference_targets_the_true_partner_or_the_placeholder():
    """Cross-entropy of each row of M' against the same identity in the other frame; an object
    without a partner targets the placeholder column."""
    config = UTrackConfig()
    loss, objects = supervised_loss(
        FIRST, SECOND, torch.tensor([1, 2]), torch.tensor([1, 2, 9]), config
    )
    m, *_ = by_hand(config)
    targets = [2, 3, 0, 1, 5]
    assert objects == 5
    assert float(loss) == pytest.approx(-sum(math.log(m[i, t]) for i, t in enumerate(targets)))


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="placeholder"):
        UTrackConfig(placeholder="max")
    with pytest.raises(ConfigError, match="terms"):
        UTrackConfig(terms=("intra", "outer"))
    with pytest.raises(ConfigError, match="temperature"):
        UTrackConfig(temperature=0.0)
