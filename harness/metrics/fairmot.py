"""Protocol ``fairmot``: the MOT evaluation of FairMOT's code, which OUTrack (Liu et al. 2022)
reports its MOT16/17/20 validation numbers with, and py-motmetrics summaries in our metric names.

What liuqk3/OUTrack's ``src/track.py`` (``main``) and ``src/lib/tracking_utils/evaluation.py`` /
``io.py`` do, with py-motmetrics 1.4.0 and its ``lap`` solver (evaluation.py:5; SciPy's where
``lap`` is not installed, which can only break ties differently):

- ground truth, for a sequence whose name holds ``MOT16-`` or ``MOT17-`` (io.py:80-96; the code
  tests the file's path, whose only such part is the sequence folder): rows whose consider flag
  truncates to 0 or whose class is not pedestrian (1) are dropped; rows of class 2, 7, 8 or 12
  (person on vehicle, static person, distractor, reflection) or of visibility < 0 are the
  *ignored* boxes, whatever their flag. Any other sequence (MOT15, MOT20, custom) keeps every gt
  row and has no ignored boxes;
- only the frames present in the results are evaluated (evaluation.py:88-94): a frame without a
  single predicted box counts no false negative, and a sequence with empty results counts
  nothing;
- per frame, predictions matched to ignored boxes are removed (evaluation.py:51-62): a minimum
  cost assignment on the distance 1 - IoU of the pairs with IoU >= 0.5;
- the rest go to a ``MOTAccumulator`` with the same distances (IoU >= 0.5, evaluation.py:74-77);
  sequences combine with ``compute_many(..., generate_overall=True)`` (evaluation.py:105-111,
  called by track.py:260-262 with ``motchallenge_metrics``).

So it differs from TrackEval's ``mot17`` protocol (``harness.metrics.protocols``) beyond
motmetrics' own known differences (``harness.metrics.crosscheck``): frames missing from the
results, ignored boxes matched on their own (a prediction over a pedestrian and a distractor can
be removed) and visibility < 0, and the MOT20 and MOT15 ground truth kept as it is. Results carry
``"protocol": "fairmot"``. ``MOTP`` is the mean IoU of matches (1 - motmetrics' ``motp``, which
FairMOT's printed summary shows as a distance).

py-motmetrics' ``iou_matrix`` calls ``np.asfarray``, gone in NumPy 2; ``iou_distances`` is the
same arithmetic on its ``boxiou``.
"""

from __future__ import annotations

from collections.abc import Mapping

import motmetrics
import numpy as np

from harness.data import BoxTable
from harness.errors import FormatError
from harness.metrics.catalogue import metric_named
from harness.metrics.protocols import FAIRMOT, PEDESTRIAN

MOTMETRICS_NAMES = {  # our metric name -> py-motmetrics' (the cross-check's set)
    "MOTA": "mota",
    "MOTP": "motp",
    "IDF1": "idf1",
    "IDP": "idp",
    "IDR": "idr",
    "FP": "num_false_positives",
    "FN": "num_misses",
    "IDSW": "num_switches",
    "Frag": "num_fragmentations",
    "MT": "mostly_tracked",
    "PT": "partially_tracked",
    "ML": "mostly_lost",
}
FAIRMOT_NAMES = {**MOTMETRICS_NAMES, "Recall": "recall", "Precision": "precision"}
FILTERED_SEQUENCES = ("MOT16-", "MOT17-")  # io.py:81, 89
IGNORED_CLASSES = (2, 7, 8, 12)  # io.py:65
MAX_DISTANCE = 0.5  # max_iou=0.5: IoU >= 0.5 (evaluation.py:52, 74)
SOLVER = "lap" if "lap" in (motmetrics.lap.available_solvers or ()) else "scipy"


def evaluate_fairmot(gt: Mapping[str, BoxTable], pred: Mapping[str, BoxTable]) -> dict:
    """FairMOT's evaluation (see the module docstring) of ``pred`` against ``gt`` (tables by
    sequence name, the same names): ``{"protocol": "fairmot", "sequences": {name: {metric:
    value}}, "combined": {metric: value}}``."""
    missing = sorted(set(gt) ^ set(pred))
    if missing:
        raise FormatError(f"sequences without both gt and prediction: {', '.join(missing)}")
    names = sorted(gt)
    with motmetrics.lap.set_default_solver(SOLVER):
        accumulators = [sequence_accumulator(gt[name], pred[name], name) for name in names]
        summary = motmetrics.metrics.create().compute_many(
            accumulators,
            metrics=list(FAIRMOT_NAMES.values()),
            names=names,
            generate_overall=True,
        )
    rows = [motmetrics_values(summary.iloc[i], FAIRMOT_NAMES) for i in range(len(names) + 1)]
    return {"protocol": FAIRMOT, "sequences": dict(zip(names, rows)), "combined": rows[-1]}


def sequence_accumulator(gt: BoxTable, pred: BoxTable, name: str) -> motmetrics.MOTAccumulator:
    """One sequence's ``MOTAccumulator`` as ``Evaluator.eval_file`` fills it (evaluation.py:85-96):
    the frames of ``pred`` in order, each frame's rows in table order."""
    truth, ignored = _gt_and_ignored(gt, name)
    truth, ignored, pred = (
        t.select(np.argsort(t.frame, kind="stable")) for t in (truth, ignored, pred)
    )
    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    for frame in np.unique(pred.frame):
        hyps = pred.select(_rows_of(pred, frame))
        hyps = hyps.select(~_on_ignored(ignored.box[_rows_of(ignored, frame)], hyps.box))
        objects = truth.select(_rows_of(truth, frame))
        accumulator.update(objects.id, hyps.id, iou_distances(objects.box, hyps.box))
    return accumulator


def iou_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """py-motmetrics' ``iou_matrix(a, b, max_iou=0.5)`` for ltwh boxes: 1 - IoU, NaN where that
    is above 0.5 (shape (len(a), len(b)), also when one is empty)."""
    distance = 1.0 - motmetrics.distances.boxiou(a[:, None], b[None, :])
    return np.where(distance > MAX_DISTANCE, np.nan, distance)


def motmetrics_values(row, names: Mapping[str, str]) -> dict:
    """A py-motmetrics summary row in our metric names (``names``: ours -> theirs): counts as
    int, ratios as float, ``MOTP`` as the mean IoU of matches (1 - motmetrics' mean distance)."""
    out = {
        ours: int(row[theirs]) if metric_named(ours).integral else float(row[theirs])
        for ours, theirs in names.items()
    }
    out["MOTP"] = 1.0 - out["MOTP"]
    return out


def _gt_and_ignored(gt: BoxTable, name: str) -> tuple[BoxTable, BoxTable]:
    """The evaluated gt rows and the ignored boxes of sequence ``name`` (io.py:80-96)."""
    if not any(tag in name for tag in FILTERED_SEQUENCES):
        return gt, BoxTable.empty()
    if len(gt) and (gt.cls == -1).any():
        raise FormatError(
            f"sequence {name}: ground truth without a class column (class -1); protocol "
            "fairmot reads the consider flag, class and visibility of MOT16/17 gt (9 columns)"
        )
    considered = gt.conf.astype(np.int64) != 0
    ignored = np.isin(gt.cls, IGNORED_CLASSES) | (gt.visibility < 0)
    return gt.select(considered & (gt.cls == PEDESTRIAN)), gt.select(ignored)


def _rows_of(table: BoxTable, frame: int) -> slice:
    """The rows of ``frame`` in ``table``, which is sorted by frame."""
    return slice(*np.searchsorted(table.frame, [frame, frame + 1]))


def _on_ignored(ignored: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Mask of ``boxes`` that the assignment of evaluation.py:51-62 pairs with an ignored box."""
    removed = np.zeros(len(boxes), dtype=bool)
    if len(ignored) == 0 or len(boxes) == 0:
        return removed
    distance = iou_distances(ignored, boxes)
    rows, cols = motmetrics.lap.linear_sum_assignment(distance)
    removed[cols[~np.isnan(distance[rows, cols])]] = True
    return removed
