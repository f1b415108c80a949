"""SORT: Simple Online and Realtime Tracking (Bewley et al., ICIP 2016).

Per frame: predict every track with its constant-velocity Kalman filter, match detections to
predicted boxes by the Hungarian algorithm on IoU (Sec. 3.3), reject matches below
``iou_threshold``, update matched filters, start a track for each unmatched detection and delete
tracks unmatched for more than ``max_age`` frames (Sec. 3.4). Behaviours of the reference code
(abewley/sort) followed here:

- a track is reported only in frames where it was matched (or created), and only once it has
  ``min_hits`` consecutive matches, except during the first ``min_hits`` frames of a sequence;
- the reported box is the filter's corrected state, not the raw detection;
- when exactly one track/detection pair per row and column exceeds the threshold, those pairs
  are taken directly, otherwise the Hungarian assignment maximises total IoU;
- tracks whose prediction is not finite (area driven to zero) are dropped.

Ids start at 1 in every sequence (the reference keeps one global counter across sequences).
The reported score is the score of the detection that confirmed the track in that frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.data import FrameInput, TrackOutput
from harness.protocol import MultiObjectTracker
from trackers.common.association import hungarian_iou_matches
from trackers.common.kalman import BoxKalmanFilter, state_to_box


class SORT(MultiObjectTracker):
    """SORT with the reference defaults max_age=1, min_hits=3, iou_threshold=0.3.

    ``min_score`` drops detections scoring below it; None (default) keeps all, as the reference.
    """

    inputs = frozenset({"detections"})
    dtype = "float64"

    def __init__(
        self,
        max_age: int = 1,
        min_hits: int = 3,
        iou_threshold: float = 0.3,
        min_score: float | None = None,
    ) -> None:
        self.max_age = max_age
        self.min_hits = min_hits
        self.iou_threshold = iou_threshold
        self.min_score = min_score
        self.reset({})

    def reset(self, info: dict[str, Any]) -> None:
        self.filters = BoxKalmanFilter()
        self.ids = np.zeros(0, np.int64)
        self.time_since_update = np.zeros(0, np.int64)
        self.hit_streak = np.zeros(0, np.int64)
        self.scores = np.zeros(0)
        self.frame_count = 0
        self.next_id = 1

    def _keep(self, mask: np.ndarray) -> None:
        self.filters.keep(mask)
        self.ids = self.ids[mask]
        self.time_since_update = self.time_since_update[mask]
        self.hit_streak = self.hit_streak[mask]
        self.scores = self.scores[mask]

    def step(self, frame: FrameInput) -> TrackOutput:
        self.frame_count += 1
        boxes, scores = frame.detections.boxes, frame.detections.scores
        if self.min_score is not None:
            boxes, scores = boxes[scores >= self.min_score], scores[scores >= self.min_score]

        self.filters.predict()
        self.hit_streak[self.time_since_update > 0] = 0
        self.time_since_update += 1
        predictions = state_to_box(self.filters.mean)
        finite = np.isfinite(predictions).all(axis=1)
        if not finite.all():
            self._keep(finite)
            predictions = predictions[finite]

        matches, unmatched = hungarian_iou_matches(boxes, predictions, self.iou_threshold)
        detection, track = matches[:, 0], matches[:, 1]
        self.filters.update(track, boxes[detection])
        self.time_since_update[track] = 0
        self.hit_streak[track] += 1
        self.scores[track] = scores[detection]

        born = len(unmatched)
        self.filters.add(boxes[unmatched])
        self.ids = np.concatenate([self.ids, np.arange(self.next_id, self.next_id + born)])
        self.next_id += born
        self.time_since_update = np.concatenate([self.time_since_update, np.zeros(born, np.int64)])
        self.hit_streak = np.concatenate([self.hit_streak, np.zeros(born, np.int64)])
        self.scores = np.concatenate([self.scores, scores[unmatched]])

        reported = (self.time_since_update < 1) & (
            (self.hit_streak >= self.min_hits) | (self.frame_count <= self.min_hits)
        )
        output = TrackOutput(
            ids=self.ids[reported].copy(),
            boxes=state_to_box(self.filters.mean[reported]),
            scores=self.scores[reported].copy(),
        )
        self._keep(self.time_since_update <= self.max_age)
        return output
