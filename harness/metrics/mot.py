"""CLEAR, Identity, HOTA and Count of MOT tables, in memory, as TrackEval's Evaluator gives them.

Per sequence the protocol selects the evaluated rows, ids are remapped to 0..K-1 and the
overlapping (gt, prediction) pairs of each frame found (``sequence``); then either our engine
(``harness.metrics.engine``, the default) or TrackEval's own metric classes, on the data dict its
datasets hand to ``eval_sequence`` (``trackeval_data``), compute the metrics and combine them over
sequences as ``trackeval.Evaluator`` does.
Metric names follow MOTChallenge (FP, FN, IDSW, Frag, MT/PT/ML as counts, FAF = FP per frame);
ratios are fractions; HOTA-family values are the mean over TrackEval's 19 alphas.
"""

from __future__ import annotations

import numpy as np

from harness.data import BoxTable
from harness.errors import ConfigError, FormatError
from harness.metrics.catalogue import CATALOGUE, TRACKEVAL_COMBINE
from harness.metrics.engine import Sequence, combine_sequences, evaluate_sequence
from harness.metrics.iou import FramePairs, overlapping_pairs
from harness.metrics.protocols import FAIRMOT, check_protocol, rows_to_keep

TRACKEVAL_METRICS = [m for m in CATALOGUE.values() if m.combine == TRACKEVAL_COMBINE]
#: ``trackbench``: harness.metrics.engine; ``trackeval``: TrackEval's own metric classes.
ENGINES = ("trackbench", "trackeval")
DEFAULT_ENGINE = "trackbench"


def metric_classes() -> dict:
    """Fresh TrackEval metric objects by class name (configs silenced)."""
    from trackeval.metrics import CLEAR, HOTA, Count, Identity  # here: the CLI starts faster

    return {
        "CLEAR": CLEAR({"THRESHOLD": 0.5, "PRINT_CONFIG": False}),
        "Identity": Identity({"THRESHOLD": 0.5, "PRINT_CONFIG": False}),
        "HOTA": HOTA(),
        "Count": Count(),
    }


def sequence(
    gt: BoxTable, pred: BoxTable, protocol: str, num_frames: int, name: str = "<sequence>"
) -> Sequence:
    """The rows ``protocol`` evaluates and their overlapping pairs (``engine.Sequence``).

    Rows keep their order within a frame (Hungarian ties break as in TrackEval's file reader).
    """
    for table, what in ((gt, "ground truth"), (pred, "prediction")):
        _check_rows(table, num_frames, f"sequence {name}: {what}")
    gt, pred = _frame_ordered(gt), _frame_ordered(pred)
    overlaps = overlapping_pairs(gt.frame, gt.box, pred.frame, pred.box)
    keep_gt, keep_pred = rows_to_keep(protocol, gt, pred, overlaps, num_frames, name)
    a, b, iou = overlaps
    kept = keep_gt[a] & keep_pred[b] & (iou > 0)
    a, b, iou = (np.cumsum(keep_gt) - 1)[a[kept]], (np.cumsum(keep_pred) - 1)[b[kept]], iou[kept]
    order = np.lexsort((b, a))  # by gt row, then prediction row
    gt_ids, gt_index = _dense_ids(gt.id[keep_gt])
    pred_ids, pred_index = _dense_ids(pred.id[keep_pred])
    return Sequence(
        name=name,
        num_frames=num_frames,
        gt_frame=gt.frame[keep_gt],
        gt_id=gt_index,
        num_gt_ids=gt_ids,
        pred_frame=pred.frame[keep_pred],
        pred_id=pred_index,
        num_pred_ids=pred_ids,
        gt_row=a[order],
        pred_row=b[order],
        iou=iou[order],
    )


def trackeval_data(seq: Sequence) -> dict:
    """TrackEval's per-sequence data dict of ``seq``: ids and dense IoU matrices per frame."""
    pairs = FramePairs(seq.gt_frame, seq.pred_frame, seq.num_frames)
    return {
        "gt_ids": _split(seq.gt_id, pairs.a_start, pairs.a_counts),
        "tracker_ids": _split(seq.pred_id, pairs.b_start, pairs.b_counts),
        "similarity_scores": pairs.matrices(pairs.dense(seq.gt_row, seq.pred_row, seq.iou)),
        "num_timesteps": seq.num_frames,
        "num_gt_ids": seq.num_gt_ids,
        "num_tracker_ids": seq.num_pred_ids,
        "num_gt_dets": len(seq.gt_frame),
        "num_tracker_dets": len(seq.pred_frame),
        "seq": seq.name,
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
    engine: str = DEFAULT_ENGINE,
) -> dict:
    """CLEAR/Identity/HOTA/Count per sequence and combined over sequences.

    ``gt`` and ``pred`` map sequence names to tables (same names). ``num_frames[name]`` defaults
    to the last frame seen in gt or pred. Returns ``{"sequences": {name: {metric: value}},
    "combined": {metric: value}}``. ``engine`` computes the metrics: ``trackbench``
    (``harness.metrics.engine``) or ``trackeval`` (TrackEval's own metric classes); the numbers
    are equal. Protocol ``fairmot`` is FairMOT's py-motmetrics evaluation instead
    (``harness.metrics.fairmot``; it reads no frame counts).
    """
    check_engine(engine)
    if protocol == FAIRMOT:
        from harness.metrics.fairmot import evaluate_fairmot  # here: imports py-motmetrics

        return evaluate_fairmot(gt, pred)
    return evaluate_data(prepare(gt, pred, protocol, num_frames), engine)


def prepare(
    gt: dict[str, BoxTable],
    pred: dict[str, BoxTable],
    protocol: str = "plain",
    num_frames: dict[str, int] | None = None,
) -> dict[str, Sequence]:
    """Per-sequence evaluated rows and pairs (see ``sequence``), sequences in name order."""
    check_protocol(protocol)
    missing = sorted(set(gt) ^ set(pred))
    if missing:
        raise FormatError(f"sequences without both gt and prediction: {', '.join(missing)}")
    num_frames = num_frames or {}
    return {
        name: sequence(
            gt[name],
            pred[name],
            protocol,
            num_frames.get(name) or _last_frame(gt[name], pred[name]),
            name,
        )
        for name in sorted(gt)
    }


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ConfigError(
            f"unknown evaluation engine {engine!r}; choose one of {', '.join(ENGINES)}"
        )


def evaluate_data(data: dict[str, Sequence], engine: str = DEFAULT_ENGINE) -> dict:
    """The metrics of prepared sequences, per sequence and combined, by ``engine``."""
    check_engine(engine)
    if engine == "trackeval":
        metrics = metric_classes()
        dicts = {name: trackeval_data(seq) for name, seq in data.items()}
        raw = {
            name: {family: metric.eval_sequence(d) for family, metric in metrics.items()}
            for name, d in dicts.items()
        }
        combined = {
            family: metric.combine_sequences({name: raw[name][family] for name in raw})
            for family, metric in metrics.items()
        }
    else:
        raw = {name: evaluate_sequence(seq) for name, seq in data.items()}
        combined = combine_sequences(raw)
    return {
        "sequences": {name: named_metrics(results) for name, results in raw.items()},
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
