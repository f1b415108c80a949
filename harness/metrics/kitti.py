"""KITTI tracking label files (label_02 and results) and TrackEval's ``Kitti2DBox`` protocol.

A label row is ``frame id class truncated occluded alpha x1 y1 x2 y2 h w l X Y Z rot_y [score]``
with 0-based frames, track id -1 for DontCare regions and pixel corner boxes. We keep our
conventions at the boundary: frames + 1, boxes ltwh (``w = x2 - x1``, ``h = y2 - y1``, the height
TrackEval's ``min_height`` test uses); ``write_kitti`` converts back.

Protocol (trackeval 1.3.0 ``Kitti2DBox.get_preprocessed_seq_data``), per class (car, pedestrian)
and frame:

1. gt rows of the class or its distractor (van for car, person = Person/Person_sitting for
   pedestrian) and predictions of the class are kept; DontCare boxes are ignore regions;
2. predictions Hungarian-matched (IoU ``>= 0.5 - eps``, score ``> eps``) to a distractor gt row or
   to one with ``int(occluded) > 2`` or ``int(truncated) > 0`` are removed;
3. unmatched predictions with height ``<= 25 + eps`` or more than ``0.5 + eps`` of their area inside
   one DontCare box are removed;
4. gt rows of the distractor class, or occluded/truncated as in 2, are removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.data import BoxTable
from harness.errors import FormatError
from harness.metrics.assignment import linear_sum_assignment
from harness.metrics.engine import Sequence
from harness.metrics.iou import EPS, box_iou, corners
from harness.metrics.mot import DEFAULT_ENGINE, evaluate_data

#: TrackEval's class ids (``Kitti2DBox.class_name_to_class_id``), keyed by lower-case name.
#: ``person_sitting`` (the devkit readme's spelling) is the tracking labels' ``Person``; TrackEval
#: itself only reads ``Person``.
CLASS_IDS = {
    "car": 1,
    "van": 2,
    "truck": 3,
    "pedestrian": 4,
    "person": 5,
    "person_sitting": 5,
    "cyclist": 6,
    "tram": 7,
    "misc": 8,
    "dontcare": 9,
}
CLASS_NAMES = {
    1: "Car",
    2: "Van",
    3: "Truck",
    4: "Pedestrian",
    5: "Person",
    6: "Cyclist",
    7: "Tram",
    8: "Misc",
    9: "DontCare",
}
DONTCARE = 9
EVALUATED = {"car": (1, 2), "pedestrian": (4, 5)}  # class -> (class id, distractor id)
MAX_OCCLUSION, MAX_TRUNCATION, MIN_HEIGHT = 2, 0, 25
LABEL_COLUMNS = 17  # results may add an 18th, the score


@dataclass(frozen=True)
class KittiLabels:
    """The rows of one KITTI label or results file.

    ``table``: 1-based frames, ids (-1 for DontCare), ltwh boxes, ``conf`` = score (1 when the file
    has none), ``cls`` = TrackEval class id (``CLASS_NAMES``). ``truncated``/``occluded`` as in the
    file (-1 where unknown); ``pose`` (n, 8) = alpha, h, w, l, X, Y, Z, rot_y.
    """

    table: BoxTable
    truncated: np.ndarray
    occluded: np.ndarray
    pose: np.ndarray
    has_score: bool = False

    def __len__(self) -> int:
        return len(self.table)

    def select(self, mask) -> KittiLabels:
        return KittiLabels(
            self.table.select(mask),
            self.truncated[mask],
            self.occluded[mask],
            self.pose[mask],
            self.has_score,
        )

    @property
    def dontcare(self) -> np.ndarray:
        return self.table.cls == DONTCARE


def read_kitti(path: str | Path, kind: str = "gt", num_frames: int | None = None) -> KittiLabels:
    """Read a KITTI tracking label (``kind="gt"``) or results (``"result"``) file, validated."""
    path = Path(path)
    if not path.is_file():
        raise FormatError("file not found", path)
    return parse_kitti(path.read_text(encoding="utf-8", errors="replace"), kind, path, num_frames)


def parse_kitti(
    text: str, kind: str = "gt", path: str | Path = "<text>", num_frames: int | None = None
) -> KittiLabels:
    """Parse KITTI label text; every problem is a ``FormatError`` naming ``path`` and the line.

    Checks: 17 columns (18 with a score), numbers, known classes, integer frames >= 0 (and below
    ``num_frames``, the sequence's length, when given), ids >= 0 except DontCare (-1), x2 > x1
    and y2 > y1, no id twice in a frame; ground truth also needs truncated in [0, 2] and occluded
    in 0..3 on every row but DontCare, and at least one row.
    """
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        if kind == "gt":
            raise FormatError("empty label file", path)
        return _labels(np.zeros((0, LABEL_COLUMNS - 1)), np.zeros(0, int), False)
    width = len(lines[0][1])
    for number, fields in lines:
        if len(fields) != width or width not in (LABEL_COLUMNS, LABEL_COLUMNS + 1):
            raise FormatError(
                f"expected {LABEL_COLUMNS} columns (or {LABEL_COLUMNS + 1} with a score)"
                + (f" like line {lines[0][0]}" if len(fields) != width else "")
                + f", found {len(fields)}",
                path,
                number,
            )
    numbers = [n for n, _ in lines]
    classes = np.array([CLASS_IDS.get(f[2].lower(), 0) for _, f in lines])
    if (classes == 0).any():
        i = int(np.flatnonzero(classes == 0)[0])
        raise FormatError(
            f"unknown class {lines[i][1][2]!r}; expected one of "
            + ", ".join(sorted({CLASS_NAMES[c] for c in CLASS_IDS.values()})),
            path,
            numbers[i],
        )
    values = np.empty((len(lines), width - 1))
    for i, (number, fields) in enumerate(lines):
        try:
            values[i] = [float(v) for v in fields[:2] + fields[3:]]
        except ValueError:
            bad = next(v for v in fields[:2] + fields[3:] if not _is_number(v))
            raise FormatError(f"not a number: {bad!r}", path, number) from None
    _check_values(values, classes, numbers, kind, path, num_frames)
    return _labels(values, classes, width > LABEL_COLUMNS)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_values(values, classes, numbers, kind, path, num_frames) -> None:
    """Raise at the first row (in file order) that breaks a rule of ``parse_kitti``."""
    frame, ids = values[:, 0], values[:, 1]
    trunc, occ = values[:, 2], values[:, 3]
    x1, y1, x2, y2 = values[:, 5], values[:, 6], values[:, 7], values[:, 8]
    dontcare = classes == DONTCARE
    rules = [
        (~np.isfinite(values).all(axis=1), "a value is not finite"),
        ((frame < 0) | (frame != np.round(frame)), "frame must be an integer >= 0"),
        ((ids != np.round(ids)) | (ids < -1), "track id must be an integer >= -1"),
        ((ids < 0) & ~dontcare, "track id -1 is only for DontCare rows"),
        (x2 <= x1, "box x2 must be greater than x1"),
        (y2 <= y1, "box y2 must be greater than y1"),
    ]
    if num_frames is not None:
        late = frame >= num_frames
        rules.append(
            (
                late,
                f"frame {int(frame[np.argmax(late)])} (0-based) outside the sequence's "
                f"{num_frames} frames",
            )
        )
    if kind == "gt":
        rules += [
            (~dontcare & ((trunc < 0) | (trunc > 2)), "truncated must be in [0, 2]"),
            (
                ~dontcare & ~np.isin(occ, (0, 1, 2, 3)),
                "occluded must be 0, 1, 2 or 3",
            ),
        ]
    keyed = np.flatnonzero(~dontcare)
    order = keyed[np.lexsort((keyed, ids[keyed], frame[keyed]))]
    repeat = (frame[order][1:] == frame[order][:-1]) & (ids[order][1:] == ids[order][:-1])
    rules.append(
        (np.isin(np.arange(len(values)), order[1:][repeat]), "track id repeated in a frame")
    )
    hits = [(int(np.argmax(mask)), k) for k, (mask, _) in enumerate(rules) if mask.any()]
    if hits:
        row, k = min(hits)
        message = rules[k][1]
        if k == len(rules) - 1:
            message = f"track id {int(ids[row])} appears twice in frame {int(frame[row])}"
        raise FormatError(message, path, numbers[row])


def _labels(values: np.ndarray, classes: np.ndarray, has_score: bool) -> KittiLabels:
    x1, y1, x2, y2 = values[:, 5], values[:, 6], values[:, 7], values[:, 8]
    table = BoxTable.build(
        frame=values[:, 0].astype(np.int64) + 1,
        box=np.stack([x1, y1, x2 - x1, y2 - y1], axis=1),
        id=values[:, 1].astype(np.int64),
        conf=values[:, 16] if has_score else None,
        cls_=classes,
    )
    return KittiLabels(
        table, values[:, 2].copy(), values[:, 3].copy(), values[:, [4, *range(9, 16)]], has_score
    )


def write_kitti(path: str | Path, labels: KittiLabels) -> None:
    """Write ``labels`` as a KITTI file: frames back to 0-based, boxes back to corners."""
    t = labels.table
    x1, y1 = t.box[:, 0], t.box[:, 1]
    rows = []
    for i in range(len(t)):
        fields = [
            str(int(t.frame[i]) - 1),
            str(int(t.id[i])),
            CLASS_NAMES[int(t.cls[i])],
            f"{labels.truncated[i]:g}",
            f"{int(labels.occluded[i])}",
            f"{labels.pose[i, 0]:.6f}",
            *(f"{v:.6f}" for v in (x1[i], y1[i], x1[i] + t.box[i, 2], y1[i] + t.box[i, 3])),
            *(f"{v:.6f}" for v in labels.pose[i, 1:]),
        ]
        if labels.has_score:
            fields.append(f"{t.conf[i]:.6f}")
        rows.append(" ".join(fields) + "\n")
    Path(path).write_text("".join(rows), encoding="utf-8")


def tracks_to_kitti(table: BoxTable, class_name: str) -> KittiLabels:
    """Tracker output (ids, ltwh boxes, scores) as KITTI result rows of one class, 3D unknown."""
    n = len(table)
    pose = np.tile([-10.0, -1, -1, -1, -1000, -1000, -1000, -10], (n, 1))
    cls = np.full(n, CLASS_IDS[class_name.lower()])
    labelled = BoxTable(table.frame, table.id, table.box, table.conf, cls, table.visibility)
    return KittiLabels(labelled, np.full(n, -1.0), np.full(n, -1.0), pose, True)


def sequence_data(
    gt: KittiLabels, pred: KittiLabels, cls: str, num_frames: int, name: str = "<sequence>"
) -> dict:
    """TrackEval's per-sequence data dict for class ``cls`` after Kitti2DBox preprocessing."""
    if cls not in EVALUATED:
        raise FormatError(f"KITTI class {cls!r} is not evaluated (car, pedestrian)")
    for labels, what in ((gt, "ground truth"), (pred, "prediction")):
        late = labels.table.frame > num_frames
        if late.any():
            raise FormatError(
                f"sequence {name}: {what} frame {int(labels.table.frame[late][0]) - 1} "
                f"(0-based) outside the sequence's {num_frames} frames"
            )
    cls_id, distractor_id = EVALUATED[cls]
    gt_rows = _by_frame(gt.table, np.isin(gt.table.cls, (cls_id, distractor_id)), num_frames)
    ignore_rows = _by_frame(gt.table, gt.dontcare, num_frames)
    pred_rows = _by_frame(pred.table, pred.table.cls == cls_id, num_frames)
    occluded = gt.occluded.astype(int) > MAX_OCCLUSION
    truncated = gt.truncated.astype(int) > MAX_TRUNCATION
    scored_gt = (gt.table.cls == cls_id) & ~occluded & ~truncated
    gt_box, pred_box = gt.table.box, pred.table.box

    kept_gt, kept_pred, similarity = [], [], []
    for t in range(num_frames):
        g, p = gt_rows[t], pred_rows[t]
        iou = box_iou(gt_box[g][:, None], pred_box[p][None])
        unmatched = np.ones(len(p), dtype=bool)
        removed = np.zeros(len(p), dtype=bool)
        if len(g) and len(p):
            scores = np.where(iou < 0.5 - EPS, 0.0, iou)
            rows, cols = linear_sum_assignment(-scores)
            hit = scores[rows, cols] > EPS
            rows, cols = rows[hit], cols[hit]
            unmatched[cols] = False
            matched = g[rows]
            removed[cols] = (
                (gt.table.cls[matched] == distractor_id) | occluded[matched] | truncated[matched]
            )
        small = pred_box[p, 3] <= MIN_HEIGHT + EPS
        inside = (_ioa(pred_box[p], gt_box[ignore_rows[t]]) > 0.5 + EPS).any(axis=1)
        removed |= unmatched & (small | inside)
        keep_g = scored_gt[g]
        kept_gt.append(g[keep_g])
        kept_pred.append(p[~removed])
        similarity.append(iou[keep_g][:, ~removed])

    gt_ids, gt_index = _dense(gt.table.id, kept_gt)
    pred_ids, pred_index = _dense(pred.table.id, kept_pred)
    return {
        "gt_ids": gt_index,
        "tracker_ids": pred_index,
        "similarity_scores": similarity,
        "num_timesteps": num_frames,
        "num_gt_ids": gt_ids,
        "num_tracker_ids": pred_ids,
        "num_gt_dets": sum(len(r) for r in kept_gt),
        "num_tracker_dets": sum(len(r) for r in kept_pred),
        "seq": name,
    }


def _by_frame(table: BoxTable, mask: np.ndarray, num_frames: int) -> list[np.ndarray]:
    """Row indices where ``mask`` holds, per frame 1..num_frames, in file order."""
    rows = np.flatnonzero(mask)
    rows = rows[np.argsort(table.frame[rows], kind="stable")]
    bounds = np.searchsorted(table.frame[rows], np.arange(1, num_frames + 2))
    return [rows[bounds[f] : bounds[f + 1]] for f in range(num_frames)]


def _ioa(boxes: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Intersection of each box with each region over the box's area (TrackEval's ``do_ioa``)."""
    b_x0, b_y0, b_x1, b_y1, area = (c[:, None] for c in corners(boxes))
    r_x0, r_y0, r_x1, r_y1, _ = (c[None] for c in corners(regions))
    inter = np.maximum(np.minimum(b_x1, r_x1) - np.maximum(b_x0, r_x0), 0) * np.maximum(
        np.minimum(b_y1, r_y1) - np.maximum(b_y0, r_y0), 0
    )
    valid = area > EPS
    return np.divide(inter, area, out=np.zeros_like(inter), where=valid)


def _dense(ids: np.ndarray, rows_per_frame: list[np.ndarray]) -> tuple[int, list[np.ndarray]]:
    """Ids of the kept rows relabelled 0..K-1 in id order, per frame."""
    kept = ids[np.concatenate(rows_per_frame)] if rows_per_frame else np.zeros(0, int)
    unique = np.unique(kept)
    return len(unique), [np.searchsorted(unique, ids[r]) for r in rows_per_frame]


def evaluate_kitti(
    gt: dict[str, KittiLabels],
    pred: dict[str, KittiLabels],
    classes: tuple[str, ...] = ("car", "pedestrian"),
    num_frames: dict[str, int] | None = None,
    engine: str = DEFAULT_ENGINE,
) -> dict:
    """CLEAR/Identity/HOTA/Count per class, as TrackEval's Evaluator with ``Kitti2DBox`` gives.

    ``num_frames[seq]`` (the seqmap's length, or the images in ``image_02/<seq>``) defaults to
    the last labelled frame; ``engine`` as ``harness.metrics.mot.evaluate``'s. Returns
    ``{"classes": {cls: {"sequences": {...}, "combined": {...}}}}``.
    """
    missing = sorted(set(gt) ^ set(pred))
    if missing:
        raise FormatError(f"sequences without both gt and prediction: {', '.join(missing)}")
    num_frames = num_frames or {}
    lengths = {
        seq: num_frames.get(seq)
        or int(max(gt[seq].table.frame.max(initial=1), pred[seq].table.frame.max(initial=1)))
        for seq in gt
    }
    return {
        "classes": {
            cls: evaluate_data(
                {
                    seq: Sequence.from_trackeval(
                        sequence_data(gt[seq], pred[seq], cls, lengths[seq], seq)
                    )
                    for seq in sorted(gt)
                },
                engine,
            )
            for cls in classes
        }
    }
