"""IOU tracker (Bochinski, Eiselein and Sikora, AVSS 2017).

The paper's algorithm (Alg. 1), as its reference code (bochinski/iou-tracker) runs it, per frame:

1. drop detections scoring below ``sigma_l``;
2. each active track, in order, takes the remaining detection with the highest IoU with its last
   box; if that IoU >= ``sigma_iou`` the detection extends the track and is removed from the pool;
3. a track that got no detection ends; it is kept only if its best score >= ``sigma_h`` and it
   has >= ``t_min`` boxes; the tracks alive at the last frame end the same way;
4. every unused detection starts a new track.

Reporting. The paper's rule (3) decides a track's validity when the track *ends*, so the paper's
output is offline: a valid track is reported from its first box. ``OfflineIOUTracker`` is that
faithful variant; it only tracks whole sequences (``track()``, ``online = False``).
``IOUTracker`` is the causal variant for the per-frame protocol: the same association, and a track
is reported from the frame in which it first satisfies rule (3) (>= ``t_min`` boxes and a best
score so far >= ``sigma_h``) until it ends. Its output is the offline output minus, for each valid
track, the frames before it became valid (never more than the first ``t_min - 1`` frames when its
first box already scores >= ``sigma_h``). Reported scores are the track's best score (offline: over
the whole track, as the reference writes; online: so far).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.data import BoxTable, FrameInput, Sequence, TrackOutput, frame_inputs
from harness.protocol import MultiObjectTracker
from trackers.common.association import greedy_iou_matches


@dataclass
class IOUTrack:
    """One track: its first frame, its boxes (one per consecutive frame) and best score."""

    start_frame: int
    boxes: list[np.ndarray]
    max_score: float
    id: int = 0  # 0 until the track is reported

    def is_valid(self, sigma_h: float, t_min: int) -> bool:
        """Rule (3) of the paper: best score >= sigma_h and at least t_min boxes."""
        return self.max_score >= sigma_h and len(self.boxes) >= t_min


class IOUAssociation:
    """Rules (1), (2) and (4): the greedy IoU association shared by both reporting variants."""

    def __init__(self, sigma_l: float, sigma_iou: float) -> None:
        self.sigma_l = sigma_l
        self.sigma_iou = sigma_iou
        self.active: list[IOUTrack] = []

    def advance(self, number: int, boxes: np.ndarray, scores: np.ndarray) -> list[IOUTrack]:
        """Consume frame ``number``'s detections; return the tracks that ended (not extended)."""
        keep = scores >= self.sigma_l
        boxes, scores = boxes[keep], scores[keep]
        matched = greedy_iou_matches([t.boxes[-1] for t in self.active], boxes, self.sigma_iou)
        extended, ended = [], []
        for track, detection in zip(self.active, matched):
            if detection < 0:
                ended.append(track)
                continue
            track.boxes.append(boxes[detection])
            track.max_score = max(track.max_score, float(scores[detection]))
            extended.append(track)
        free = np.ones(len(boxes), bool)
        free[matched[matched >= 0]] = False
        born = [
            IOUTrack(start_frame=number, boxes=[box], max_score=float(score))
            for box, score in zip(boxes[free], scores[free])
        ]
        self.active = extended + born
        return ended


class IOUTracker(MultiObjectTracker):
    """The online (causal) IOU tracker: reports a track once it satisfies the paper's rule (3)."""

    inputs = frozenset({"detections"})
    dtype = "float64"

    def __init__(self, sigma_l: float, sigma_h: float, sigma_iou: float, t_min: int) -> None:
        self.sigma_l, self.sigma_h, self.sigma_iou, self.t_min = sigma_l, sigma_h, sigma_iou, t_min
        self.reset({})

    def reset(self, info: dict[str, Any]) -> None:
        self.association = IOUAssociation(self.sigma_l, self.sigma_iou)
        self.next_id = 1

    def step(self, frame: FrameInput) -> TrackOutput:
        self.association.advance(frame.number, frame.detections.boxes, frame.detections.scores)
        valid = [t for t in self.association.active if t.is_valid(self.sigma_h, self.t_min)]
        for track in valid:
            if track.id == 0:
                track.id, self.next_id = self.next_id, self.next_id + 1
        if not valid:
            return TrackOutput.empty()
        return TrackOutput(
            ids=np.array([t.id for t in valid], np.int64),
            boxes=np.stack([t.boxes[-1] for t in valid]),
            scores=np.array([t.max_score for t in valid]),
        )


class OfflineIOUTracker(MultiObjectTracker):
    """The paper's IOU tracker: validity decided when a track ends, valid tracks reported whole.

    Ids are given in the order tracks end, as the reference writes them.
    """

    inputs = frozenset({"detections"})
    online = False
    dtype = "float64"

    def __init__(self, sigma_l: float, sigma_h: float, sigma_iou: float, t_min: int) -> None:
        self.sigma_l, self.sigma_h, self.sigma_iou, self.t_min = sigma_l, sigma_h, sigma_iou, t_min

    def track(
        self, sequences: list[Sequence], detections: list[BoxTable | None] | None = None
    ) -> list[BoxTable]:
        detections = detections or [None] * len(sequences)
        return [self._track_one(s, d) for s, d in zip(sequences, detections)]

    def _track_one(self, sequence: Sequence, detections: BoxTable | None) -> BoxTable:
        association = IOUAssociation(self.sigma_l, self.sigma_iou)
        finished: list[IOUTrack] = []
        for frame in frame_inputs(sequence, self.inputs, detections):
            dets = frame.detections
            ended = association.advance(frame.number, dets.boxes, dets.scores)
            finished += [t for t in ended if t.is_valid(self.sigma_h, self.t_min)]
        finished += [t for t in association.active if t.is_valid(self.sigma_h, self.t_min)]
        if not finished:
            return BoxTable.empty()
        lengths = np.array([len(t.boxes) for t in finished])
        starts = np.repeat([t.start_frame for t in finished], lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return BoxTable.build(
            frame=starts + offsets,
            box=np.concatenate([np.stack(t.boxes) for t in finished]),
            id=np.repeat(np.arange(1, len(finished) + 1), lengths),
            conf=np.repeat([t.max_score for t in finished], lengths),
        ).sorted()


def iou_tracker(report: str, **params) -> IOUTracker | OfflineIOUTracker:
    """The IOU tracker with ``report`` "online" (causal, per frame) or "offline" (the paper's)."""
    variants = {"online": IOUTracker, "offline": OfflineIOUTracker}
    if report not in variants:
        raise ValueError(f"iou tracker report must be 'online' or 'offline', got {report!r}")
    return variants[report](**params)


# What the registry reads from a factory; both variants are multi-object trackers of detections.
iou_tracker.kind = IOUTracker.kind
iou_tracker.inputs = IOUTracker.inputs
