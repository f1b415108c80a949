"""The online association of OUTrack's tracker (src/lib/tracker/occ_tracker.py ``update``,
FairMOT's JDE logic) on detections with embeddings, and OccE's re-finding of lost tracks.

Per frame: the confirmed and lost tracks' Kalman filters predict (a lost track's height velocity
zeroed, occ_tracker.py:96-115); (1) embeddings: cosine distance to each track's momentum
embedding fused with the gated Mahalanobis distance, assigned below ``reid_threshold``
(occ_tracker.py:893-900); (2) the confirmed tracks left against the detections left by 1 - IoU
below ``iou_threshold``, the unmatched ones become lost (occ_tracker.py:911-929); (3) unconfirmed
tracks (one frame old) by 1 - IoU below ``unconfirmed_threshold``, the unmatched removed
(occ_tracker.py:931-940); (4) every detection left starts a track, confirmed at once only in the
first frame (occ_tracker.py:958-964, 121-132); (5) a track lost more than ``track_buffer`` frames
is removed, and of a confirmed and a lost track overlapping with 1 - IoU < 0.15 the younger goes
(occ_tracker.py:966-985, 1051-1071). The confirmed tracks are output, then OccE's re-found ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trackers.common.association import (
    embedding_cost,
    fused_motion_cost,
    iou_cost,
    thresholded_assignment,
)
from trackers.common.kalman import XyahKalmanFilter
from trackers.utrack.config import Inference
from trackers.utrack.occlusion import refind

DUPLICATE_DISTANCE = 0.15
OCCLUDED_OVERLAP = 0.2
"""Overlap / own area above which a confirmed track counts as occluded (occ_tracker.py:671)."""
BORDER = 0.05
"""A track counts as occluded only with its centre this far inside the frame
(occ_tracker.py:672)."""


@dataclass
class Track:
    """A track's identity and bookkeeping; its box lives in the shared Kalman filter."""

    id: int
    feature: np.ndarray | None
    score: float
    start: int
    last: int
    lost: bool = False
    confirmed: bool = False
    missed: int = 0
    """Frames lost without being re-found (Algorithm 1's w)."""
    occluded_at: int | None = None
    """The last frame in which it was a confirmed track occluded by another (the code's flag)."""


@dataclass(frozen=True)
class Occlusion:
    """OccE at tracking time: occlusion centres (k, 2) in pixels; ``tau_o`` the agreement needed;
    ``window`` the code's ``lost_frame_range`` (Algorithm 1's tau_w); ``output``: ``paper``
    (a re-found track output at its relocated box, Algorithm 1) or ``code`` (a lost track occluded
    within the window and holding a candidate centre output at its Kalman box)."""

    centres: np.ndarray
    tau_o: float = 0.7
    window: int = 1
    output: str = "paper"


class Association:
    """The tracks of one sequence and the rules that move them (see the module docstring)."""

    def __init__(self, settings: Inference, size: tuple[int, int], fps: float = 30.0):
        self.settings, self.size = settings, size
        self.buffer = int(fps / 30.0 * settings.track_buffer)
        self.filter = XyahKalmanFilter()
        self.tracks: list[Track] = []
        self.frame = 0
        self.next_id = 1

    def step(
        self,
        boxes: np.ndarray,
        scores: np.ndarray,
        features: np.ndarray | None,
        occlusion: Occlusion | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Consume one frame's detections (ltwh (n, 4), scores (n,), embeddings (n, D) or None);
        return the output (ids, ltwh boxes, scores)."""
        s = self.settings
        self.frame += 1
        width = self.size[0]
        right, bottom = boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]
        keep = (scores > s.conf_threshold) & (boxes[:, 0] <= width - 1) & (boxes[:, 1] <= width - 1)
        keep &= (right > 0) & (bottom > 0)  # occ_tracker.py:836-842, the width used for both
        boxes, scores = boxes[keep], scores[keep]
        features = None if features is None or not s.embeddings else features[keep]
        pool = [i for i, t in enumerate(self.tracks) if t.confirmed or t.lost]
        unconfirmed = [i for i, t in enumerate(self.tracks) if not t.confirmed and not t.lost]
        self.filter.predict(
            np.array(pool, np.int64), np.array([self.tracks[i].lost for i in pool], bool)
        )
        left = np.arange(len(boxes))
        if features is not None and pool:
            left, pool_left = self._embedding_stage(pool, boxes, scores, features)
        else:
            pool_left = pool
        tracked_left = [i for i in pool_left if not self.tracks[i].lost]
        matched, tracked_unmatched, left = self._iou_stage(
            tracked_left, boxes, scores, features, left, s.iou_threshold
        )
        for i in tracked_unmatched:
            self.tracks[i].lost = True
        _, unconfirmed_unmatched, left = self._iou_stage(
            unconfirmed, boxes, scores, features, left, s.unconfirmed_threshold
        )
        removed = set(unconfirmed_unmatched)
        self._start(boxes[left], scores[left], None if features is None else features[left])
        removed |= {
            i for i, t in enumerate(self.tracks) if t.lost and self.frame - t.last > self.buffer
        }
        self._remove(removed)
        self._remove_duplicates()
        output = [i for i, t in enumerate(self.tracks) if t.confirmed and not t.lost]
        out_boxes = {i: self.filter.boxes()[i] for i in output}
        if occlusion is not None:
            out_boxes |= self._refind(occlusion)
            self._flag_occluded()
        return self._output(out_boxes)

    # -- the stages ----------------------------------------------------------------------------

    def _embedding_stage(
        self, pool: list[int], boxes: np.ndarray, scores: np.ndarray, features: np.ndarray
    ) -> tuple[np.ndarray, list[int]]:
        tracks = np.stack([self.tracks[i].feature for i in pool])
        cost = embedding_cost(tracks, features)
        gating = self.filter.gating_distance(boxes)[pool]
        cost = fused_motion_cost(cost, gating, self.settings.motion_weight)
        matches, rows, cols = thresholded_assignment(cost, self.settings.reid_threshold)
        for row, col in matches:
            self._update(pool[row], boxes[col], scores[col], features[col])
        return cols, [pool[r] for r in rows]

    def _iou_stage(
        self,
        candidates: list[int],
        boxes: np.ndarray,
        scores: np.ndarray,
        features: np.ndarray | None,
        left: np.ndarray,
        threshold: float,
    ) -> tuple[list[int], list[int], np.ndarray]:
        """Match ``candidates`` to detections ``left`` by 1 - IoU below ``threshold``; returns
        (matched tracks, unmatched tracks, detections still left)."""
        track_boxes = self.filter.boxes()[candidates]
        cost = iou_cost(track_boxes, boxes[left], pixel_inclusive=True)
        matches, rows, cols = thresholded_assignment(cost, threshold)
        for row, col in matches:
            detection = left[col]
            feature = None if features is None else features[detection]
            self._update(candidates[row], boxes[detection], scores[detection], feature)
        return [candidates[r] for r, _ in matches], [candidates[r] for r in rows], left[cols]

    def _update(
        self, index: int, box: np.ndarray, score: float, feature: np.ndarray | None
    ) -> None:
        """A matched track: Kalman update, momentum embedding (occ_tracker.py:69-84), confirmed."""
        track = self.tracks[index]
        self.filter.update(np.array([index]), box[None])
        track.score, track.last = float(score), self.frame
        track.lost, track.confirmed, track.missed = False, True, 0
        if feature is not None:
            unit = feature / np.linalg.norm(feature)
            if track.feature is None:
                track.feature = unit
            else:
                m = self.settings.momentum
                smooth = m * track.feature + (1 - m) * unit
                track.feature = smooth / np.linalg.norm(smooth)

    def _start(self, boxes: np.ndarray, scores: np.ndarray, features: np.ndarray | None) -> None:
        for k, score in enumerate(scores):
            feature = None
            if features is not None:
                feature = features[k] / np.linalg.norm(features[k])
            self.tracks.append(
                Track(
                    self.next_id,
                    feature,
                    float(score),
                    self.frame,
                    self.frame,
                    confirmed=self.frame == 1,
                )
            )
            self.next_id += 1
        self.filter.add(boxes)

    def _remove(self, indices: set[int]) -> None:
        if not indices:
            return
        keep = np.array([i not in indices for i in range(len(self.tracks))], bool)
        self.tracks = [t for t, k in zip(self.tracks, keep) if k]
        self.filter.keep(keep)

    def _remove_duplicates(self) -> None:
        """Of a tracked (confirmed or not) and a lost track closer than 0.15 in 1 - IoU, drop the
        one tracked for fewer frames (the tracked one on a tie, occ_tracker.py:1051-1062)."""
        active = [i for i, t in enumerate(self.tracks) if not t.lost]
        lost = [i for i, t in enumerate(self.tracks) if t.lost]
        if not active or not lost:
            return
        boxes = self.filter.boxes()
        close = iou_cost(boxes[active], boxes[lost], pixel_inclusive=True) < DUPLICATE_DISTANCE
        drop = set()
        for a, b in zip(*np.nonzero(close)):
            first, second = self.tracks[active[a]], self.tracks[lost[b]]
            if first.last - first.start > second.last - second.start:
                drop.add(lost[b])
            else:
                drop.add(active[a])
        self._remove(drop)

    # -- OccE ----------------------------------------------------------------------------------

    def _refind(self, occlusion: Occlusion) -> dict[int, np.ndarray]:
        """Algorithm 1 Step 5 (``paper``) or the code's output rule (occ_tracker.py:440-486)."""
        lost = [i for i, t in enumerate(self.tracks) if t.lost]
        tracked = [i for i, t in enumerate(self.tracks) if not t.lost]
        if not lost:
            return {}
        boxes = ltrb(self.filter.boxes())
        centres = np.asarray(occlusion.centres, np.float64).reshape(-1, 2)
        found = refind(boxes[lost], boxes[tracked], centres, occlusion.output)
        out = {}
        for index, (score, box) in zip(lost, found):
            track = self.tracks[index]
            if occlusion.output == "code":
                flagged = track.occluded_at is not None and (
                    self.frame - track.occluded_at <= occlusion.window
                )
                if box is not None and flagged:
                    out[index] = self.filter.boxes()[index]
            elif track.missed < occlusion.window and box is not None and score > occlusion.tau_o:
                relocated = np.concatenate([box[:2], box[2:] - box[:2]])
                self.filter.update(np.array([index]), relocated[None])
                out[index] = relocated
            else:
                track.missed += 1
        return out

    def _flag_occluded(self) -> None:
        """The code's ``refresh_occluded_objects`` (occ_tracker.py:662-686): a confirmed track
        whose box another confirmed one covers by more than 20 % of its own area, with its centre
        inside the frame's 5 % border, is flagged occluded now."""
        tracked = [i for i, t in enumerate(self.tracks) if not t.lost]
        if len(tracked) < 2:
            return
        boxes = ltrb(self.filter.boxes()[tracked])
        inter = np.concatenate(
            [
                np.maximum(boxes[:, None, :2], boxes[None, :, :2]),
                np.minimum(boxes[:, None, 2:], boxes[None, :, 2:]),
            ],
            axis=-1,
        )
        sides = np.clip(inter[..., 2:] - inter[..., :2], 0, None)
        own = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
        cover = sides[..., 0] * sides[..., 1] / np.where(own > 0, own, np.inf)[:, None]
        np.fill_diagonal(cover, 0.0)
        width, height = self.size
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2 / np.array([width, height])
        centre = np.clip(centre, 0, 1)
        inside = ((centre > BORDER) & (centre < 1 - BORDER)).all(axis=1)
        for k in np.flatnonzero(inside & (cover.max(axis=1) > OCCLUDED_OVERLAP)):
            self.tracks[tracked[k]].occluded_at = self.frame

    def _output(self, boxes: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The tracks' (ids, ltwh boxes, scores) after the output filters
        (occ_tracker.py:170-191)."""
        s = self.settings
        rows = []
        for index, box in boxes.items():
            w, h = box[2], box[3]
            if w <= 0 or h <= 0 or w * h <= s.min_box_area:
                continue
            if s.max_aspect is not None and w / h > s.max_aspect:
                continue
            rows.append((self.tracks[index].id, box, self.tracks[index].score))
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0)
        ids, out, scores = zip(*rows)
        return np.array(ids, np.int64), np.stack(out), np.array(scores)


def ltrb(boxes: np.ndarray) -> np.ndarray:
    """ltwh (n, 4) -> (left, top, right, bottom)."""
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
