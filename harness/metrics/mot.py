"""CLEAR, Identity, HOTA and Count metrics computed by TrackEval's own metric classes, in memory.

Per sequence we build the data dict TrackEval's datasets hand to ``eval_sequence`` (ids remapped
to 0..K-1, one IoU matrix (n_gt, n_pred) per frame, counts), run each metric class, and combine
sequences with each class's ``combine_sequences`` exactly as ``trackeval.Evaluator`` does.
Metric names follow MOTChallenge (FP, FN, IDSW, Frag, MT/PT/ML as counts, FAF = FP per frame);
ratios are fractions; HOTA-family values are the mean over TrackEval's 19 alphas.
"""

from __future__ import annotations

import numpy as np
from trackeval.metrics import CLEAR, HOTA, Count, Identity

from harness.data import BoxTable
from harness.errors import FormatError
from harness.metrics.catalogue import CATALOGUE, TRACKEVAL_COMBINE
from harness.metrics.iou import FramePairs, overlapping_pairs
from harness.metrics.protocols import FAIRMOT, check_protocol, rows_to_keep

TRACKEVAL_METRICS = [m for m in CATALOGUE.values() if m.combine == TRACKEVAL_COMBINE]


def metric_classes() -> dict:
    """Fresh TrackEval metric objects by class name (configs silenced)."""
    return {
        "CLEAR": CLEAR({"THRESHOLD": 0.5, "PRINT_CONFIG": False}),
        "Identity": Identity({"THRESHOLD": 0.5, "PRINT_CONFIG": False}),
        "HOTA": HOTA(),
        "Count": Count(),
    }


def sequence_data(
    gt: BoxTable, pred: BoxTable, protocol: str, num_frames: int, name: str = "<sequence>"
) -> dict:
    """TrackEval's per-sequence data dict after ``protocol``'s preprocessing.

    Rows keep their order within a frame (Hungarian ties break as in TrackEval's file reader).
    """
    for table, what in ((gt, "ground truth"), (pred, "prediction")):
        _check_rows(table, num_frames, f"sequence {name}: {what}")
    gt, pred = _frame_ordered(gt), _frame_ordered(pred)
    overlaps = overlapping_pairs(gt.frame, gt.box, pred.frame, pred.box)
    keep_gt, keep_pred = rows_to_keep(protocol, gt, pred, overlaps, num_frames, name)
    a, b, iou = overlaps
    kept = keep_gt[a] & keep_pred[b]
    a, b, iou = (np.cumsum(keep_gt) - 1)[a[kept]], (np.cumsum(keep_pred) - 1)[b[kept]], iou[kept]
    gt_frame, gt_id = gt.frame[keep_gt], gt.id[keep_gt]
    pred_frame, pred_id = pred.frame[keep_pred], pred.id[keep_pred]

    pairs = FramePairs(gt_frame, pred_frame, num_frames)
    gt_ids, gt_index = _dense_ids(gt_id)
    pred_ids, pred_index = _dense_ids(pred_id)
    return {
        "gt_ids": _split(gt_index, pairs.a_start, pairs.a_counts),
        "tracker_ids": _split(pred_index, pairs.b_start, pairs.b_counts),
        "similarity_scores": pairs.matrices(pairs.dense(a, b, iou)),
        "num_timesteps": num_frames,
        "num_gt_ids": gt_ids,
        "num_tracker_ids": pred_ids,
        "num_gt_dets": len(gt_frame),
        "num_tracker_dets": len(pred_frame),
        "seq": name,
    }


def _frame_ordered(table: BoxTable) -> BoxTable:
    """``table`` stably sorted by frame (itself when already in frame order, as files are)."""
    if (table.frame[1:] >= table.frame[:-1]).all():
        return table
    return table.select(np.argsort(table.frame, kind="stable"))


def _dense_ids(ids: np.ndarray) -> tuple[int, np.ndarray]:
    """The number of distinct ``ids`` and each id's rank among them (0..K-1, in id order)."""
    if len(ids) == 0:
        return 0, np.zeros(0, dtype=int)
    low = int(ids.min())
    span = int(ids.max()) - low + 1
    if span > 16 * len(ids) + 1024:  # sparse ids: sorting beats a lookup table
        unique, index = np.unique(ids, return_inverse=True)
        return len(unique), index.astype(int)
    present = np.zeros(span, dtype=bool)
    present[ids - low] = True
    rank = np.cumsum(present) - 1
    return int(rank[-1]) + 1, rank[ids - low].astype(int)


def _split(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """``values`` cut into consecutive pieces of ``counts`` rows starting at ``starts``."""
    return [values[start : start + count] for start, count in zip(starts.tolist(), counts.tolist())]


def _check_rows(table: BoxTable, num_frames: int, what: str) -> None:
    if len(table) == 0:
        return
    outside = (table.frame < 1) | (table.frame > num_frames)
    if outside.any():
        raise FormatError(f"{what}: frame {int(table.frame[outside][0])} outside 1..{num_frames}")
    key = table.frame * (int(table.id.max()) - int(table.id.min()) + 1) + table.id - table.id.min()
    if (key[1:] > key[:-1]).all():  # rows sorted by (frame, id): no repeats, no sort needed
        return
    unique, counts = np.unique(key, return_counts=True)
    if (counts > 1).any():
        i = int(np.flatnonzero(key == unique[counts > 1][0])[0])
        raise FormatError(
            f"{what}: id {int(table.id[i])} appears twice in frame {int(table.frame[i])}"
        )


def evaluate(
    gt: dict[str, BoxTable],
    pred: dict[str, BoxTable],
    protocol: str = "plain",
    num_frames: dict[str, int] | None = None,
) -> dict:
    """CLEAR/Identity/HOTA/Count per sequence and combined over sequences.

    ``gt`` and ``pred`` map sequence names to tables (same names). ``num_frames[name]`` defaults
    to the last frame seen in gt or pred. Returns ``{"sequences": {name: {metric: value}},
    "combined": {metric: value}}``. Protocol ``fairmot`` is FairMOT's py-motmetrics evaluation
    instead (``harness.metrics.fairmot``; it reads no frame counts).
    """
    if protocol == FAIRMOT:
        from harness.metrics.fairmot import evaluate_fairmot  # here: imports py-motmetrics

        return evaluate_fairmot(gt, pred)
    return evaluate_data(prepare(gt, pred, protocol, num_frames))


def prepare(
    gt: dict[str, BoxTable],
    pred: dict[str, BoxTable],
    protocol: str = "plain",
    num_frames: dict[str, int] | None = None,
) -> dict[str, dict]:
    """Per-sequence TrackEval data dicts (see ``sequence_data``), sequences in name order."""
    check_protocol(protocol)
    missing = sorted(set(gt) ^ set(pred))
    if missing:
        raise FormatError(f"sequences without both gt and prediction: {', '.join(missing)}")
    num_frames = num_frames or {}
    return {
        name: sequence_data(
            gt[name],
            pred[name],
            protocol,
            num_frames.get(name) or _last_frame(gt[name], pred[name]),
            name,
        )
        for name in sorted(gt)
    }


def evaluate_data(data: dict[str, dict]) -> dict:
    """Run the metric classes on prepared per-sequence data dicts and combine them."""
    metrics = metric_classes()
    raw = {
        family: {name: metric.eval_sequence(seq) for name, seq in data.items()}
        for family, metric in metrics.items()
    }
    combined = {
        family: metrics[family].combine_sequences(per_seq) for family, per_seq in raw.items()
    }
    return {
        "sequences": {
            name: named_metrics({family: raw[family][name] for family in metrics}) for name in data
        },
        "combined": named_metrics(combined),
    }


def named_metrics(by_family: dict[str, dict]) -> dict:
    """The catalogue's TrackEval metrics (``Metric.source``) as plain Python values: alpha
    arrays averaged, counts as int."""
    out = {}
    for metric in TRACKEVAL_METRICS:
        family, field = metric.source
        value = by_family[family][field]
        out[metric.name] = int(value) if metric.integral else float(np.mean(value))
    return out


def _last_frame(gt: BoxTable, pred: BoxTable) -> int:
    return int(max(gt.frame.max(initial=0), pred.frame.max(initial=0), 1))
