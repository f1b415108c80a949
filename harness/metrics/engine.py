"""CLEAR, Identity, HOTA and Count as TrackEval 1.3.0 defines them, vectorised over a sequence.

The input is a ``Sequence``: the evaluated rows (1-based frames, dense ids) and the (gt row,
prediction row) pairs of a frame with IoU > 0; every other same-frame pair has IoU 0, which
TrackEval's dense matrices hold explicitly. The outputs are TrackEval's result dicts (its field
names), per sequence and combined as its ``combine_sequences`` combines them, and equal its
numbers: every decision (a threshold, an assignment) is taken on bit-identical values, and sums
whose order differs from TrackEval's differ by rounding only.

What makes it fast: a frame's optimal assignment is taken without a solver wherever the positive
entries of its score matrix share no row or column (every optimal assignment then holds exactly
those pairs); only frames where pairs compete go to the solver, with TrackEval's full matrix for
that frame. HOTA's 19 alphas are counted at once from each match's highest passed alpha.
Identity's assignment is solved on the ids that have a candidate match (IDTP's optimum is the
same). CLEAR's id switches and fragmentations are counted with sorts; only its contested frames
run in order (each needs the previous evaluated frame's matches).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np

from harness.metrics.assignment import FrameBlocks, linear_sum_assignment
from harness.metrics.iou import EPS

#: TrackEval's HOTA alphas: ``np.arange(0.05, 0.99, 0.05)``.
ALPHAS = np.arange(0.05, 0.99, 0.05)
CLEAR_THRESHOLD = IDENTITY_THRESHOLD = 0.5
#: CLEAR's bonus for continuing the previous frame's match (TrackEval's 1000).
CONTINUATION_BONUS = 1000


@dataclass(frozen=True)
class Sequence:
    """One sequence's evaluated rows and their overlapping pairs.

    ``gt_frame``/``pred_frame``: 1-based frames in non-decreasing order (file order within a
    frame); ``gt_id``/``pred_id``: dense ids 0..K-1; ``gt_row``/``pred_row``/``iou``: the
    same-frame pairs with IoU > 0, sorted by gt row, then prediction row.
    """

    name: str
    num_frames: int
    gt_frame: np.ndarray
    gt_id: np.ndarray
    num_gt_ids: int
    pred_frame: np.ndarray
    pred_id: np.ndarray
    num_pred_ids: int
    gt_row: np.ndarray
    pred_row: np.ndarray
    iou: np.ndarray

    @classmethod
    def from_trackeval(cls, data: Mapping) -> Sequence:
        """The sequence of TrackEval's per-sequence data dict (``gt_ids``, ``tracker_ids``,
        ``similarity_scores`` per frame, ...)."""
        num_frames = int(data["num_timesteps"])
        gt_counts = [len(ids) for ids in data["gt_ids"]]
        pred_counts = [len(ids) for ids in data["tracker_ids"]]
        gt_start = np.cumsum([0, *gt_counts])
        pred_start = np.cumsum([0, *pred_counts])
        rows, cols, values = [], [], []
        for t, similarity in enumerate(data["similarity_scores"]):
            r, c = np.nonzero(similarity > 0)
            rows.append(r + gt_start[t])
            cols.append(c + pred_start[t])
            values.append(similarity[r, c])
        frames = np.arange(1, num_frames + 1)

        def joined(parts: list) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

        return cls(
            name=str(data.get("seq", "<sequence>")),
            num_frames=num_frames,
            gt_frame=np.repeat(frames, gt_counts),
            gt_id=joined(list(data["gt_ids"])).astype(np.int64),
            num_gt_ids=int(data["num_gt_ids"]),
            pred_frame=np.repeat(frames, pred_counts),
            pred_id=joined(list(data["tracker_ids"])).astype(np.int64),
            num_pred_ids=int(data["num_tracker_ids"]),
            gt_row=joined(rows).astype(np.int64),
            pred_row=joined(cols).astype(np.int64),
            iou=joined(values).astype(float),
        )

    @cached_property
    def layout(self) -> Layout:
        """Rows per frame and where each frame's rows start."""
        gt_counts = np.bincount(self.gt_frame - 1, minlength=self.num_frames)
        pred_counts = np.bincount(self.pred_frame - 1, minlength=self.num_frames)
        return Layout(
            gt_counts,
            np.cumsum(gt_counts) - gt_counts,
            pred_counts,
            np.cumsum(pred_counts) - pred_counts,
        )

    def blocks(self, pairs: np.ndarray, frames: np.ndarray) -> FrameBlocks:
        """The dense matrices of ``frames`` (0-based) with room for ``pairs`` (indices into the
        pair arrays) as TrackEval lays them out."""
        return FrameBlocks(
            self.gt_frame,
            self.pred_frame,
            self.gt_row[pairs],
            self.pred_row[pairs],
            frames,
            self.num_frames,
        )

    def pair_at(self, gt_rows: np.ndarray, pred_rows: np.ndarray) -> np.ndarray:
        """The pairs (indices into the pair arrays) of (gt row, prediction row), which must be
        pairs."""
        key = self.gt_row * len(self.pred_frame) + self.pred_row
        return np.searchsorted(key, gt_rows * len(self.pred_frame) + pred_rows)


class Layout(NamedTuple):
    """Per 0-based frame: gt rows, first gt row, predictions, first prediction."""

    gt_counts: np.ndarray
    gt_start: np.ndarray
    pred_counts: np.ndarray
    pred_start: np.ndarray


def evaluate_sequence(seq: Sequence) -> dict[str, dict]:
    """TrackEval's per-sequence results of its HOTA, CLEAR, Identity and Count classes."""
    return {
        "HOTA": hota(seq),
        "CLEAR": clear(seq),
        "Identity": identity(seq),
        "Count": count(seq),
    }


def combine_sequences(per_sequence: Mapping[str, Mapping[str, dict]]) -> dict[str, dict]:
    """Each family's results combined over sequences as its ``combine_sequences`` does."""
    results = list(per_sequence.values())
    return {
        "HOTA": _combine_hota([r["HOTA"] for r in results]),
        "CLEAR": _combine_clear([r["CLEAR"] for r in results]),
        "Identity": _identity_final(_sums([r["Identity"] for r in results], IDENTITY_COUNTS)),
        "Count": _sums([r["Count"] for r in results], COUNT_FIELDS),
    }


# --- Count -------------------------------------------------------------------------------------

COUNT_FIELDS = ("Dets", "GT_Dets", "IDs", "GT_IDs")


def count(seq: Sequence) -> dict:
    return {
        "Dets": len(seq.pred_frame),
        "GT_Dets": len(seq.gt_frame),
        "IDs": seq.num_pred_ids,
        "GT_IDs": seq.num_gt_ids,
        "Frames": seq.num_frames,
    }


# --- Identity ----------------------------------------------------------------------------------

IDENTITY_COUNTS = ("IDTP", "IDFN", "IDFP")


def identity(seq: Sequence) -> dict:
    """IDTP is the largest number of (gt, prediction) rows with IoU >= 0.5 that a one-to-one
    matching of gt ids to predicted ids pairs up (Ristani et al. 2016)."""
    num_gt, num_pred = len(seq.gt_frame), len(seq.pred_frame)
    res = dict.fromkeys(("IDF1", "IDR", "IDP", *IDENTITY_COUNTS), 0)
    if num_pred == 0:
        res["IDFN"] = num_gt
        return res
    if num_gt == 0:
        res["IDFP"] = num_pred
        return res
    hit = seq.iou >= IDENTITY_THRESHOLD
    gt_ids, pred_ids = seq.gt_id[seq.gt_row[hit]], seq.pred_id[seq.pred_row[hit]]
    idtp = 0
    if len(gt_ids):
        keys, together = np.unique(gt_ids * seq.num_pred_ids + pred_ids, return_counts=True)
        rows, row = np.unique(keys // seq.num_pred_ids, return_inverse=True)
        cols, col = np.unique(keys % seq.num_pred_ids, return_inverse=True)
        matrix = np.zeros((len(rows), len(cols)))
        matrix[row, col] = together
        r, c = linear_sum_assignment(matrix, maximize=True)
        idtp = int(matrix[r, c].sum())
    res.update(IDTP=idtp, IDFN=num_gt - idtp, IDFP=num_pred - idtp)
    return _identity_final(res)


def _identity_final(res: dict) -> dict:
    tp, fn, fp = res["IDTP"], res["IDFN"], res["IDFP"]
    res["IDR"] = tp / np.maximum(1.0, tp + fn)
    res["IDP"] = tp / np.maximum(1.0, tp + fp)
    res["IDF1"] = tp / np.maximum(1.0, tp + 0.5 * fp + 0.5 * fn)
    return res


# --- CLEAR -------------------------------------------------------------------------------------

CLEAR_COUNTS = ("CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag", "CLR_Frames")


def clear(seq: Sequence) -> dict:
    """CLEAR MOT (Bernardin and Stiefelhagen 2008) with TrackEval's matching: per frame, the
    assignment maximising 1000 x (continues the previous evaluated frame's match) + IoU over the
    pairs with IoU >= 0.5; IDSW against each gt id's last match, Frag over evaluated frames
    (those with gt and predictions), MT/PT/ML at 80 % and 20 % of a gt id's frames."""
    num_gt, num_pred = len(seq.gt_frame), len(seq.pred_frame)
    res: dict = dict.fromkeys(
        (*CLEAR_COUNTS, "MOTA", "MOTP", "MODA", "CLR_Re", "CLR_Pr", "MTR", "PTR", "MLR"), 0
    )
    res.update(dict.fromkeys(("sMOTA", "CLR_F1", "FP_per_frame", "MOTAL", "MOTP_sum"), 0))
    if num_pred == 0:
        res.update(CLR_FN=num_gt, ML=seq.num_gt_ids, MLR=1.0)
        return res
    if num_gt == 0:
        res.update(CLR_FP=num_pred, MLR=1.0)
        return res

    candidate = np.flatnonzero(seq.iou >= CLEAR_THRESHOLD - EPS)
    frames = seq.gt_frame[seq.gt_row[candidate]] - 1
    contested = _contested_frames(seq, candidate, frames)
    gt_counts, _, pred_counts, _ = seq.layout
    evaluated = (gt_counts > 0) & (pred_counts > 0)
    previous_evaluated = np.concatenate([[-1], np.flatnonzero(evaluated)])[
        np.cumsum(evaluated) - evaluated
    ]  # for each frame, the last evaluated frame before it (-1 when none)

    matched = candidate[~contested[frames]]  # uncontested frames: every candidate pair
    if contested.any():
        matched = np.sort(
            np.concatenate(
                [matched, _solve_contested(seq, candidate, frames, contested, previous_evaluated)]
            )
        )
    gt_row, pred_row = seq.gt_row[matched], seq.pred_row[matched]
    gt_id, pred_id = seq.gt_id[gt_row], seq.pred_id[pred_row]
    step = np.cumsum(evaluated)[seq.gt_frame[gt_row] - 1]  # 1-based index among evaluated frames

    order = np.lexsort((step, gt_id))
    gt_id, pred_id, step = gt_id[order], pred_id[order], step[order]
    same_id = gt_id[1:] == gt_id[:-1]
    id_switches = int(np.count_nonzero(same_id & (pred_id[1:] != pred_id[:-1])))
    starts = np.ones(len(gt_id), dtype=bool)  # a match not continuing one in the last step
    starts[1:] = ~(same_id & (step[1:] == step[:-1] + 1))
    runs = np.bincount(gt_id[starts], minlength=seq.num_gt_ids)

    frames_of_id = np.bincount(seq.gt_id, minlength=seq.num_gt_ids).astype(float)
    matched_of_id = np.bincount(gt_id, minlength=seq.num_gt_ids).astype(float)
    present = frames_of_id > 0
    tracked_ratio = matched_of_id[present] / frames_of_id[present]
    mostly = int(np.sum(np.greater(tracked_ratio, 0.8)))
    partly = int(np.sum(np.greater_equal(tracked_ratio, 0.2))) - mostly
    tp = len(matched)
    res.update(
        CLR_TP=tp,
        CLR_FN=num_gt - tp,
        CLR_FP=num_pred - tp,
        IDSW=id_switches,
        MT=mostly,
        PT=partly,
        ML=seq.num_gt_ids - mostly - partly,
        Frag=int(np.sum(runs[runs > 0] - 1)),
        MOTP_sum=float(seq.iou[matched].sum()),
        CLR_Frames=seq.num_frames,
    )
    return _clear_final(res)


def _contested_frames(seq: Sequence, pairs: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Mask of the frames where two of ``pairs`` share a gt row or a prediction row."""
    shared = np.zeros(seq.num_frames, dtype=bool)
    for rows in (seq.gt_row[pairs], seq.pred_row[pairs]):
        degree = np.bincount(rows)
        shared[frames[degree[rows] > 1]] = True
    return shared


def _solve_contested(
    seq: Sequence,
    candidate: np.ndarray,
    frames: np.ndarray,
    contested: np.ndarray,
    previous_evaluated: np.ndarray,
) -> np.ndarray:
    """The matched candidate pairs of the contested frames, solved in frame order on TrackEval's
    score matrix (the continuation bonus needs the previous evaluated frame's matches)."""
    candidate_bounds = np.searchsorted(frames, np.arange(seq.num_frames + 1))
    blocks = seq.blocks(candidate, np.flatnonzero(contested))
    similarities = blocks.matrices(blocks.dense(seq.iou[candidate]))
    last_ids = np.full(seq.num_gt_ids, -1)  # the predicted id matched to each gt id there
    solved: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k, t in enumerate(blocks.frames.tolist()):
        gt_rows, pred_rows = blocks.rows(k)
        before = int(previous_evaluated[t])
        if before in solved:
            last_gt, last_pred = solved[before]
        else:
            last = candidate[candidate_bounds[max(before, 0)] : candidate_bounds[before + 1]]
            last_gt, last_pred = seq.gt_row[last], seq.pred_row[last]
        last_ids[seq.gt_id[last_gt]] = seq.pred_id[last_pred]
        continuing = seq.pred_id[pred_rows][None, :] == last_ids[seq.gt_id[gt_rows]][:, None]
        last_ids[seq.gt_id[last_gt]] = -1
        similarity = similarities[k]
        score = CONTINUATION_BONUS * continuing + similarity
        score[similarity < CLEAR_THRESHOLD - EPS] = 0
        rows, cols = linear_sum_assignment(-score)
        keep = score[rows, cols] > EPS
        solved[t] = gt_rows[rows[keep]], pred_rows[cols[keep]]
    return seq.pair_at(
        np.concatenate([r for r, _ in solved.values()]),
        np.concatenate([c for _, c in solved.values()]),
    )


def _clear_final(res: dict) -> dict:
    """TrackEval's ``CLEAR._compute_final_fields``."""
    tp, fn, fp, idsw = res["CLR_TP"], res["CLR_FN"], res["CLR_FP"], res["IDSW"]
    num_gt_ids = res["MT"] + res["ML"] + res["PT"]
    res["MTR"] = res["MT"] / np.maximum(1.0, num_gt_ids)
    res["MLR"] = res["ML"] / np.maximum(1.0, num_gt_ids)
    res["PTR"] = res["PT"] / np.maximum(1.0, num_gt_ids)
    res["CLR_Re"] = tp / np.maximum(1.0, tp + fn)
    res["CLR_Pr"] = tp / np.maximum(1.0, tp + fp)
    res["MODA"] = (tp - fp) / np.maximum(1.0, tp + fn)
    res["MOTA"] = (tp - fp - idsw) / np.maximum(1.0, tp + fn)
    res["MOTP"] = res["MOTP_sum"] / np.maximum(1.0, tp)
    res["sMOTA"] = (res["MOTP_sum"] - fp - idsw) / np.maximum(1.0, tp + fn)
    res["CLR_F1"] = tp / np.maximum(1.0, tp + 0.5 * fn + 0.5 * fp)
    res["FP_per_frame"] = fp / np.maximum(1.0, res["CLR_Frames"])
    log_idsw = np.log10(idsw) if idsw > 0 else idsw
    res["MOTAL"] = (tp - fp - log_idsw) / np.maximum(1.0, tp + fn)
    return res


def _combine_clear(results: list[dict]) -> dict:
    return _clear_final(_sums(results, (*CLEAR_COUNTS, "MOTP_sum")))


# --- HOTA --------------------------------------------------------------------------------------

HOTA_COUNTS = ("HOTA_TP", "HOTA_FN", "HOTA_FP")


def hota(seq: Sequence) -> dict:
    """HOTA (Luiten et al. 2021, eqs 1-10) over TrackEval's 19 alphas: per frame, the assignment
    maximising (global alignment of the two ids) x IoU, a match counting at alpha when its IoU
    is >= alpha; AssA, AssRe, AssPr from the matches of each (gt id, predicted id)."""
    num_gt, num_pred = len(seq.gt_frame), len(seq.pred_frame)
    res: dict = {
        field: np.zeros(len(ALPHAS))
        for field in (
            "HOTA",
            "DetA",
            "AssA",
            "DetRe",
            "DetPr",
            "AssRe",
            "AssPr",
            "LocA",
            "OWTA",
            *HOTA_COUNTS,
        )
    }
    res.update({"HOTA(0)": 0, "LocA(0)": 0, "HOTALocA(0)": 0})
    if num_pred == 0 or num_gt == 0:
        res["HOTA_FN" if num_pred == 0 else "HOTA_FP"] = np.full(
            len(ALPHAS), float(num_gt or num_pred)
        )
        res["LocA"] = np.ones(len(ALPHAS))
        res["LocA(0)"] = 1.0
        return res

    gt_row, pred_row, iou = seq.gt_row, seq.pred_row, seq.iou
    gt_counts, _, pred_counts, _ = seq.layout
    frames = seq.gt_frame[gt_row] - 1
    # Global alignment (eq. 9) with TrackEval's arithmetic: per frame, IoU / (its column's sum
    # + its row's sum - IoU), summed per id pair over frames in frame order.
    # Rows are contiguous; a column is only in a one-column matrix.
    _, gt_start, _, pred_start = seq.layout
    row_length = pred_counts[seq.gt_frame - 1]
    col_length = gt_counts[seq.pred_frame - 1]
    row_sum = _line_sums(gt_row, pred_row - pred_start[frames], iou, row_length, row_length >= 8)
    col_sum = _line_sums(
        pred_row,
        gt_row - gt_start[frames],
        iou,
        col_length,
        (pred_counts[seq.pred_frame - 1] == 1) & (col_length >= 8),
    )
    denominator = (col_sum[pred_row] + row_sum[gt_row]) - iou
    jaccard = np.zeros(len(iou))
    np.divide(iou, denominator, out=jaccard, where=denominator > 0 + EPS)
    key = seq.gt_id[gt_row] * seq.num_pred_ids + seq.pred_id[pred_row]
    keys, key_of_pair = np.unique(key, return_inverse=True)
    potential = np.bincount(key_of_pair, weights=jaccard, minlength=len(keys))
    gt_dets = np.bincount(seq.gt_id, minlength=seq.num_gt_ids).astype(float)
    pred_dets = np.bincount(seq.pred_id, minlength=seq.num_pred_ids).astype(float)
    key_gt, key_pred = keys // seq.num_pred_ids, keys % seq.num_pred_ids
    alignment = potential / ((gt_dets[key_gt] + pred_dets[key_pred]) - potential)

    score = alignment[key_of_pair] * iou
    positive = np.flatnonzero(score > 0)
    contested = _contested_frames(seq, positive, frames[positive])
    matched = positive[~contested[frames[positive]]]
    if contested.any():  # a match of score 0 passes no alpha (its IoU is 0 or tiny)
        blocks = seq.blocks(np.arange(len(iou)), np.flatnonzero(contested))
        rows, cols, value = blocks.assign(blocks.dense(score))
        hit = value > 0
        matched = np.sort(np.concatenate([matched, seq.pair_at(rows[hit], cols[hit])]))

    # Each match counts at the alphas up to its highest passed one: level = how many it passes.
    level = np.searchsorted(ALPHAS - EPS, iou[matched], side="right")
    match_key = key_of_pair[matched]
    by_key_level = np.bincount(
        match_key * (len(ALPHAS) + 1) + level, minlength=len(keys) * (len(ALPHAS) + 1)
    ).reshape(len(keys), len(ALPHAS) + 1)
    matches = np.cumsum(by_key_level[:, ::-1], axis=1)[:, ::-1][:, 1:].astype(float)
    tp = matches.sum(axis=0)
    loc_by_level = np.bincount(level, weights=iou[matched], minlength=len(ALPHAS) + 1)
    res["HOTA_TP"] = tp
    res["HOTA_FN"] = num_gt - tp
    res["HOTA_FP"] = num_pred - tp
    gt_of_key, pred_of_key = gt_dets[key_gt][:, None], pred_dets[key_pred][:, None]
    ass_a = matches / np.maximum(1, gt_of_key + pred_of_key - matches)
    res["AssA"] = np.sum(matches * ass_a, axis=0) / np.maximum(1, tp)
    res["AssRe"] = np.sum(matches * (matches / np.maximum(1, gt_of_key)), axis=0) / np.maximum(
        1, tp
    )
    res["AssPr"] = np.sum(matches * (matches / np.maximum(1, pred_of_key)), axis=0) / np.maximum(
        1, tp
    )
    loc = np.cumsum(loc_by_level[::-1])[::-1][1:]
    res["LocA"] = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    return _hota_final(res)


def _hota_final(res: dict) -> dict:
    """TrackEval's ``HOTA._compute_final_fields``."""
    tp, fn, fp = res["HOTA_TP"], res["HOTA_FN"], res["HOTA_FP"]
    res["DetRe"] = tp / np.maximum(1, tp + fn)
    res["DetPr"] = tp / np.maximum(1, tp + fp)
    res["DetA"] = tp / np.maximum(1, tp + fn + fp)
    res["HOTA"] = np.sqrt(res["DetA"] * res["AssA"])
    res["OWTA"] = np.sqrt(res["DetRe"] * res["AssA"])
    res["HOTA(0)"] = res["HOTA"][0]
    res["LocA(0)"] = res["LocA"][0]
    res["HOTALocA(0)"] = res["HOTA(0)"] * res["LocA(0)"]
    return res


def _combine_hota(results: list[dict]) -> dict:
    res = _sums(results, HOTA_COUNTS)
    weight = np.maximum(1.0, res["HOTA_TP"])
    for field in ("AssRe", "AssPr", "AssA"):
        res[field] = sum(r[field] * r["HOTA_TP"] for r in results) / weight
    loc = sum(r["LocA"] * r["HOTA_TP"] for r in results)
    res["LocA"] = np.maximum(1e-10, loc) / np.maximum(1e-10, res["HOTA_TP"])
    return _hota_final(res)


# --- shared ------------------------------------------------------------------------------------


def _sums(results: list[dict], fields: tuple[str, ...]) -> dict:
    return {field: sum(r[field] for r in results) for field in fields}


def _line_sums(
    line: np.ndarray,
    position: np.ndarray,
    values: np.ndarray,
    length: np.ndarray,
    pairwise: np.ndarray,
) -> np.ndarray:
    """Sums of ``values`` per line (a row or a column of a frame's matrix) as numpy sums the
    dense line. Entry k sits on ``line[k]`` at ``position[k]``; line i has ``length[i]`` entries
    and ``pairwise[i]`` marks those numpy sums pairwise (along a contiguous axis, 8 or more
    entries). Lines summed in order are summed here in order; pairwise lines with 3 or more
    nonzero values, whose result depends on where the zeros are, are summed densely by numpy."""
    sums = np.bincount(line, weights=values, minlength=len(length))
    redo = pairwise & (np.bincount(line, minlength=len(length)) >= 3)
    if not redo.any():
        return sums
    picked = redo[line]
    line, position, values = line[picked], position[picked], values[picked]
    for size in np.unique(length[redo]).tolist():
        lines = np.flatnonzero(redo & (length == size))
        of_size = length[line] == size
        dense = np.zeros((len(lines), size))
        dense[np.searchsorted(lines, line[of_size]), position[of_size]] = values[of_size]
        sums[lines] = dense.sum(axis=1)
    return sums
