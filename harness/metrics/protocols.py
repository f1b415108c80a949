"""Evaluation protocols: which ground-truth and predicted rows count before the metrics run.

``plain``: every prediction counts; a gt row counts unless its consider flag (``conf``) is 0.

``mot15`` / ``mot16`` / ``mot17`` / ``mot20``: what TrackEval's
``MotChallenge2DBox.get_preprocessed_seq_data`` does for that benchmark (trackeval 1.3.0):

1. (not MOT15) per frame, predictions are matched to *all* gt boxes by the Hungarian algorithm on
   IoU, pairs below ``0.5 - eps`` zeroed and matches kept when their score is ``> eps``;
   predictions matched to a distractor class (person_on_vehicle 2, static_person 7, distractor 8,
   reflection 12, and for MOT20 also non_mot_vehicle 6) are removed;
2. gt rows whose consider flag is zero-marked are removed. TrackEval casts the flag with
   ``astype(int)``, so a fractional flag in (-1, 1) also counts as zero-marked (``plain`` only
   drops an exact 0);
3. (not MOT15) gt rows of any class but pedestrian (1) are removed.

Only frames where a distractor box overlaps a prediction by ``>= 0.5 - eps`` and that pair competes
with another candidate pair run the Hungarian step (same matrix, same result); see
``_matched_to_distractors``.
``kitti`` / ``kitti-car`` / ``kitti-pedestrian``: TrackEval's ``Kitti2DBox`` for both classes or
one; they need KITTI label files (truncation, occlusion, DontCare regions), so they run through
``harness.metrics.kitti`` (``evaluate_files`` or the ``kitti-tracking`` adapter), not on BoxTables.
``fairmot``: FairMOT's own evaluator (py-motmetrics, only the frames present in the results), which
OUTrack reports with; ``harness.metrics.mot.evaluate`` hands it to ``harness.metrics.fairmot``.

MOT16/17/20 require every gt class in 1..13; TrackEval checks this only in frames that have both
gt and predictions, we check every row (in files, with ``required_gt_classes``, naming the line).
"""

from __future__ import annotations

import numpy as np

from harness.data import BoxTable
from harness.errors import ConfigError, FormatError
from harness.metrics.iou import EPS

PEDESTRIAN = 1
VALID_CLASSES = np.arange(1, 14)
DISTRACTORS = {
    "mot16": (2, 7, 8, 12),
    "mot17": (2, 7, 8, 12),
    "mot20": (2, 6, 7, 8, 12),
}
KITTI_PROTOCOLS = {
    "kitti": ("car", "pedestrian"),
    "kitti-car": ("car",),
    "kitti-pedestrian": ("pedestrian",),
}
FAIRMOT = "fairmot"
PROTOCOLS = ("plain", "mot15", "mot16", "mot17", "mot20", *KITTI_PROTOCOLS, FAIRMOT)


def check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ConfigError(
            f"unknown evaluation protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}"
        )


def required_gt_classes(protocol: str) -> np.ndarray | None:
    """The class ids every gt row must have under ``protocol`` (MOT16/17/20's 1..13), or None
    when the protocol does not read the class column."""
    return VALID_CLASSES if protocol in DISTRACTORS else None


def rows_to_keep(
    protocol: str,
    gt: BoxTable,
    pred: BoxTable,
    overlaps: tuple[np.ndarray, np.ndarray, np.ndarray],
    num_frames: int,
    sequence: str = "<sequence>",
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the gt and pred rows that ``protocol`` evaluates.

    Both tables are sorted by frame (stably, so file order holds within a frame); ``overlaps``
    is ``iou.overlapping_pairs`` of their boxes.
    """
    check_protocol(protocol)
    if protocol in KITTI_PROTOCOLS:
        raise ConfigError(
            f"protocol {protocol} needs KITTI labels (truncation, occlusion, DontCare regions): "
            "evaluate label_02 files with evaluate_files or the kitti-tracking adapter"
        )
    if protocol == FAIRMOT:
        raise ConfigError(
            "protocol fairmot is FairMOT's py-motmetrics evaluation, not a preprocessing of "
            "TrackEval's: evaluate with harness.metrics.mot.evaluate or evaluate_files"
        )
    if protocol == "plain":
        return gt.conf != 0, np.ones(len(pred), dtype=bool)
    considered = gt.conf.astype(np.int64) != 0
    if protocol == "mot15":
        return considered, np.ones(len(pred), dtype=bool)

    invalid = ~np.isin(gt.cls, VALID_CLASSES)
    if invalid.any():
        raise FormatError(
            f"sequence {sequence}: ground-truth class {int(gt.cls[invalid][0])} is not a "
            f"MOTChallenge class 1..13 (protocol {protocol} needs the 9-column gt format)"
        )
    distractor = np.isin(gt.cls, DISTRACTORS[protocol])
    removed = _matched_to_distractors(gt, pred, distractor, overlaps, num_frames)
    return considered & (gt.cls == PEDESTRIAN), ~removed


def _matched_to_distractors(
    gt: BoxTable,
    pred: BoxTable,
    distractor: np.ndarray,
    overlaps: tuple[np.ndarray, np.ndarray, np.ndarray],
    num_frames: int,
) -> np.ndarray:
    """Mask of predictions that TrackEval's per-frame Hungarian match pairs with a distractor.

    A candidate pair (IoU ``>= 0.5 - eps``) whose gt row and prediction have no other candidate
    is in every optimal assignment, so it is decided without the Hungarian step; only frames
    with a distractor candidate that competes with other candidates run it.
    """
    from harness.metrics.assignment import FrameBlocks  # here: the CLI starts faster

    a, b, iou = overlaps
    candidate = iou >= 0.5 - EPS
    a, b, iou = a[candidate], b[candidate], iou[candidate]
    row_degree = np.bincount(a, minlength=len(gt))
    col_degree = np.bincount(b, minlength=len(pred))
    on_distractor = distractor[a]
    isolated = on_distractor & (row_degree[a] == 1) & (col_degree[b] == 1)
    removed = np.zeros(len(pred), dtype=bool)
    removed[b[isolated]] = True

    # Frames where a distractor candidate competes: solved on their full score matrices.
    pair_t = gt.frame[a] - 1
    contested = np.zeros(num_frames, dtype=bool)
    contested[pair_t[on_distractor & ~isolated]] = True
    blocks = FrameBlocks(gt.frame, pred.frame, a, b, np.flatnonzero(contested), num_frames)
    rows, cols, score = blocks.assign(blocks.dense(iou))
    removed[cols[(score > EPS) & distractor[rows]]] = True
    return removed
