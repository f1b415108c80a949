"""The harness test double: a tracker that replays the ground truth (got10k IdentityTracker style).

It reads each sequence's annotations, so it is no method and has no place on a leaderboard except
as the upper bound that checks the harness itself: evaluated under any protocol, it must score
MOTA = 1 and IDF1 = 1. It needs no image and no detection (``inputs`` is empty) and works on whole
sequences only (``online = False``): ground truth is not a per-frame input of the protocol.
"""

from __future__ import annotations

import numpy as np

from harness.data import BoxTable, Sequence
from harness.protocol import MultiObjectTracker


class GroundTruthTracker(MultiObjectTracker):
    """Returns every considered ground-truth row (conf != 0) with its id and box, score 1."""

    inputs = frozenset()
    online = False

    def track(
        self, sequences: list[Sequence], detections: list[BoxTable | None] | None = None
    ) -> list[BoxTable]:
        results = []
        for sequence in sequences:
            gt = sequence.gt.select(sequence.gt.conf != 0)
            results.append(
                BoxTable.build(frame=gt.frame, box=gt.box, id=gt.id, conf=np.ones(len(gt))).sorted()
            )
        return results
