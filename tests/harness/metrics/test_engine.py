"""The evaluation engine against TrackEval's metric classes on the same sequences, to 1e-12, on
workloads built to break a vectorised re-implementation: ties in the assignment, zero-area boxes,
ids reused after gaps, empty frames, a tracker with one id per box, ids absent from whole
sequences, crowded frames where every pair competes, sequences with no rows on one side."""

from __future__ import annotations

import numpy as np
import pytest
from parity_helpers import assert_same
from workloads import random_sequence

from harness.data import BoxTable
from harness.errors import ConfigError
from harness.metrics import evaluate
from harness.metrics.crosscheck import trackeval_files
from harness.metrics.engine import Sequence, _line_sums
from harness.metrics.mot import prepare, trackeval_data


def _table(frame, ident, box, **columns) -> BoxTable:
    return BoxTable.build(
        frame=np.asarray(frame, dtype=np.int64),
        id=np.asarray(ident, dtype=np.int64),
        box=np.asarray(box, dtype=float).reshape(-1, 4),
        **columns,
    )


def crowd(rng, frames: int, objects: int, spread: float) -> tuple[BoxTable, BoxTable]:
    """Objects within ``spread`` px of one point: every gt box overlaps every prediction."""
    t = np.repeat(np.arange(1, frames + 1), objects)
    ident = np.tile(np.arange(1, objects + 1), frames)
    box = np.column_stack(
        [rng.uniform(0, spread, (len(t), 2)) + 100, np.full((len(t), 2), 40.0)]
    ).round(0)
    pred_box = box + rng.normal(0, spread / 4, box.shape).round(0)
    pred_id = ident.copy()
    swap = rng.random(len(t)) < 0.2  # ids swapped among the crowd now and then
    pred_id[swap] = rng.integers(1, objects + 1, int(swap.sum()))
    _, first = np.unique(np.column_stack([t, pred_id]), axis=0, return_index=True)
    keep = np.sort(first)
    return _table(t, ident, box), _table(t[keep], pred_id[keep], pred_box[keep])


def duplicates(rng, frames: int) -> tuple[BoxTable, BoxTable]:
    """Exact ties: every prediction twice (two ids, the same box), some gt boxes twice."""
    gt, pred = random_sequence(int(rng.integers(1 << 30)), frames, 6, decimals=0)
    twin = pred.select(np.arange(len(pred)))
    twins = BoxTable.build(frame=twin.frame, id=twin.id + 500, box=twin.box, conf=twin.conf)
    pred = BoxTable.concat([pred, twins])
    pick = rng.random(len(gt)) < 0.3
    extra = BoxTable.build(
        frame=gt.frame[pick], id=gt.id[pick] + 700, box=gt.box[pick], conf=gt.conf[pick]
    )
    return BoxTable.concat([gt, extra]), pred


def degenerate(rng, frames: int) -> tuple[BoxTable, BoxTable]:
    """Zero-area boxes on both sides, ids reused after gaps, frames with nothing, sparse ids."""
    gt, pred = random_sequence(int(rng.integers(1 << 30)), frames, 8, decimals=0, miss_rate=0.3)
    gt_box, pred_box = gt.box.copy(), pred.box.copy()
    gt_box[rng.random(len(gt)) < 0.1, 2] = 0.0
    pred_box[rng.random(len(pred)) < 0.1, 3] = 0.0
    empty = rng.random(frames + 1) < 0.2
    gt_keep, pred_keep = ~empty[gt.frame], ~empty[np.minimum(pred.frame, frames)]
    pred_keep &= ~(rng.random(len(pred)) < 0.1)
    gt_id = np.where(gt.id % 3 == 0, gt.id * 10_000, gt.id)  # ids far apart
    pred_id = pred.id % 4 + 1  # few ids, reused by different objects over time
    gt = _table(gt.frame[gt_keep], gt_id[gt_keep], gt_box[gt_keep], conf=gt.conf[gt_keep])
    frame, ident, box = pred.frame[pred_keep], pred_id[pred_keep], pred_box[pred_keep]
    _, first = np.unique(np.column_stack([frame, ident]), axis=0, return_index=True)
    keep = np.sort(first)
    return gt, _table(frame[keep], ident[keep], box[keep])


def one_id_per_box(rng, frames: int) -> tuple[BoxTable, BoxTable]:
    gt, pred = random_sequence(int(rng.integers(1 << 30)), frames, 12, id_swaps=0)
    return gt, _table(pred.frame, np.arange(1, len(pred) + 1), pred.box)


WORKLOADS = {
    "crowd": lambda rng: crowd(rng, 30, 8, 12.0),
    "dense-crowd": lambda rng: crowd(rng, 20, 12, 4.0),
    "duplicates": lambda rng: duplicates(rng, 40),
    "degenerate": lambda rng: degenerate(rng, 50),
    "one-id-per-box": lambda rng: one_id_per_box(rng, 40),
}


def _engines_agree(gt: dict, pred: dict, protocol: str, frames: dict | None = None) -> dict:
    ours = evaluate(gt, pred, protocol, frames, engine="trackbench")
    assert_same(ours, evaluate(gt, pred, protocol, frames, engine="trackeval"))
    return ours


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@pytest.mark.parametrize("protocol", ["plain", "mot15"])
def test_adversarial_workloads_equal_trackeval(workload, protocol):
    rng = np.random.default_rng(sorted(WORKLOADS).index(workload))
    gt, pred = {}, {}
    for k in range(4):
        gt[f"s{k}"], pred[f"s{k}"] = WORKLOADS[workload](rng)
    ours = _engines_agree(gt, pred, protocol)
    assert ours["combined"]["GT_Dets"] > 0


def test_crowded_frames_send_every_frame_to_the_solver_and_still_agree():
    gt, pred = crowd(np.random.default_rng(7), 15, 10, 3.0)
    seq = prepare({"s": gt}, {"s": pred})["s"]
    gt_counts, _, pred_counts, _ = seq.layout
    pairs = np.bincount(seq.gt_frame[seq.gt_row] - 1, minlength=seq.num_frames)
    assert np.array_equal(pairs, gt_counts * pred_counts)  # every gt box meets every prediction
    ours = _engines_agree({"s": gt}, {"s": pred}, "plain")
    assert ours["combined"]["IDSW"] > 0 and 0 < ours["combined"]["HOTA"] < 1


def test_mot17_preprocessing_and_engine_equal_trackevals_files():
    """Distractor classes, zero consider flags and crowds, through TrackEval's own files."""
    gt, pred = {}, {}
    for k in range(3):
        gt[f"MOT17-0{k}"], pred[f"MOT17-0{k}"] = random_sequence(40 + k, 60, 25, "mot17")
    assert_same(evaluate(gt, pred, "mot17"), trackeval_files(gt, pred, "mot17"))


def test_sequences_without_rows_on_one_side():
    gt, pred = random_sequence(3, 20, 5)
    empty = BoxTable.empty()
    only_gt = _engines_agree({"a": gt, "b": gt}, {"a": empty, "b": pred}, "plain", {"a": 25})
    assert only_gt["sequences"]["a"]["FN"] == len(gt)
    no_gt = gt.select(gt.conf == 2)  # a gt file whose every row is dropped by the protocol
    only_pred = _engines_agree({"a": no_gt, "b": gt}, {"a": pred, "b": pred}, "plain", {"a": 20})
    assert only_pred["sequences"]["a"]["FP"] == len(pred)
    apart = _table(pred.frame, pred.id, pred.box + 5000)  # rows on both sides, no pair overlaps
    nothing = _engines_agree({"a": gt}, {"a": apart}, "plain")
    assert nothing["combined"]["HOTA"] == 0 and nothing["combined"]["LocA"] == 1


def test_sequence_round_trips_through_trackevals_data_dict():
    gt, pred = crowd(np.random.default_rng(1), 6, 5, 20.0)
    seq = prepare({"s": gt}, {"s": pred})["s"]
    again = Sequence.from_trackeval(trackeval_data(seq))
    for field in ("gt_frame", "gt_id", "pred_frame", "pred_id", "gt_row", "pred_row", "iou"):
        assert np.array_equal(getattr(again, field), getattr(seq, field)), field


def test_line_sums_are_numpys_dense_sums_bit_for_bit():
    """HOTA's global alignment divides by row and column sums of each frame's IoU matrix; the
    solver's choices depend on them, so they must be numpy's own, bit for bit: in order, but
    pairwise along a contiguous line of 8 or more (where the zeros' positions matter)."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        n, m = (int(x) for x in rng.integers(1, 40, 2))
        dense = np.where(rng.random((n, m)) < rng.random(), rng.random((n, m)), 0.0)
        rows, cols = np.nonzero(dense)
        values = dense[rows, cols]
        row_sums = _line_sums(rows, cols, values, np.full(n, m), np.full(n, m >= 8))
        col_pairwise = np.full(m, m == 1 and n >= 8)
        col_sums = _line_sums(cols, rows, values, np.full(m, n), col_pairwise)
        assert np.array_equal(row_sums, dense.sum(1)) and np.array_equal(col_sums, dense.sum(0))


def test_unknown_engine_is_refused():
    gt, pred = random_sequence(0, 5, 2)
    with pytest.raises(ConfigError, match="unknown evaluation engine 'fast'; choose one of"):
        evaluate({"s": gt}, {"s": pred}, engine="fast")
