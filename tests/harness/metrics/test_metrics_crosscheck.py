"""py-motmetrics cross-check: where it equals TrackEval, and its known, documented differences."""

from __future__ import annotations

import numpy as np
import pytest
from workloads import random_sequence

from harness.data import BoxTable
from harness.metrics import evaluate
from harness.metrics.crosscheck import MOTMETRICS_NAMES, motmetrics_evaluate
from harness.motchallenge import read_mot

TUD = ("TUD-Campus", "TUD-Stadtmitte")


def table(rows) -> BoxTable:
    """Rows of (frame, id, left, top, width, height)."""
    rows = np.asarray(rows, dtype=float).reshape(-1, 6)
    return BoxTable.build(frame=rows[:, 0], id=rows[:, 1], box=rows[:, 2:6])


def both(gt: BoxTable, pred: BoxTable) -> tuple[dict, dict]:
    ours = evaluate({"s": gt}, {"s": pred})["combined"]
    return ours, motmetrics_evaluate({"s": gt}, {"s": pred})["combined"]


def test_tud_all_metrics_agree(motmetrics_data):
    gt = {s: read_mot(motmetrics_data / s / "gt.txt", "gt") for s in TUD}
    pred = {s: read_mot(motmetrics_data / s / "test.txt", "result") for s in TUD}
    ours, theirs = evaluate(gt, pred, "mot15"), motmetrics_evaluate(gt, pred, "mot15")
    for mine, other in [
        *((ours["sequences"][s], theirs["sequences"][s]) for s in TUD),
        (ours["combined"], theirs["combined"]),
    ]:
        for metric in MOTMETRICS_NAMES:
            assert other[metric] == pytest.approx(mine[metric], abs=1e-9), metric


@pytest.mark.parametrize("seed", range(3))
def test_synthetic_counts_and_ratios_agree(seed):
    gt, pred = random_sequence(seed, 40, 8, id_swaps=0)
    ours, theirs = both(gt, pred)
    for metric in ("FP", "FN", "IDF1", "IDP", "IDR"):
        assert theirs[metric] == pytest.approx(ours[metric], abs=1e-9), metric


def test_known_difference_a_continuity_after_a_miss():
    """gt 1 is tracked by 1, missed in frame 2, then overlapped by 1 (IoU 0.67) and 2 (IoU 1).
    TrackEval only prefers the previous frame's pairing: it takes 2 and counts an IDSW;
    motmetrics re-establishes the older pairing with 1 and counts none."""
    gt = table([(1, 1, 0, 0, 10, 10), (2, 1, 0, 0, 10, 10), (3, 1, 0, 0, 10, 10)])
    pred = table(
        [(1, 1, 0, 0, 10, 10), (2, 1, 50, 50, 10, 10), (3, 1, 2, 0, 10, 10), (3, 2, 0, 0, 10, 10)]
    )
    ours, theirs = both(gt, pred)
    assert (ours["IDSW"], theirs["IDSW"]) == (1, 0)
    assert ours["FP"] == theirs["FP"] == 2 and ours["Frag"] == theirs["Frag"] == 1


def test_known_difference_b_mostly_tracked_at_exactly_80_percent():
    gt = table([(f, 1, 0, 0, 10, 10) for f in range(1, 6)])
    pred = table([(f, 1, 0, 0, 10, 10) for f in range(1, 5)])
    ours, theirs = both(gt, pred)
    assert (ours["MT"], ours["PT"]) == (0, 1)  # TrackEval: ratio > 0.8
    assert (theirs["MT"], theirs["PT"]) == (1, 0)  # motmetrics: ratio >= 0.8


def test_known_difference_c_frag_over_annotation_gap():
    """gt 1 is not annotated in frame 2 (gt 2 is); it is tracked in frames 1 and 3."""
    gt = table(
        [(1, 1, 0, 0, 10, 10), (3, 1, 0, 0, 10, 10), *((f, 2, 100, 0, 10, 10) for f in (1, 2, 3))]
    )
    pred = table(
        [(1, 1, 0, 0, 10, 10), (3, 1, 0, 0, 10, 10), *((f, 2, 100, 0, 10, 10) for f in (1, 2, 3))]
    )
    ours, theirs = both(gt, pred)
    assert (ours["Frag"], theirs["Frag"]) == (1, 0)
    assert ours["IDSW"] == theirs["IDSW"] == 0 and ours["MOTA"] == theirs["MOTA"] == 1.0
