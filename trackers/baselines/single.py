"""Single-object baselines: the constant box (no motion at all) and the ground-truth test double."""

from __future__ import annotations

import numpy as np

from harness.data import SingleObjectSample
from harness.protocol import SingleObjectTracker


class ConstantBoxTracker(SingleObjectTracker):
    """Reports the initial box on every frame (got10k's IdentityTracker): the score of not
    moving, which any tracker should beat."""

    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        self.box = np.asarray(box, dtype=np.float64).copy()

    def update(self, image: np.ndarray) -> np.ndarray:
        return self.box


class GroundTruthBoxTracker(SingleObjectTracker):
    """Replays each sample's ground-truth boxes (IoU 1 everywhere): checks the single-object
    harness; no method."""

    inputs = frozenset()
    online = False

    def track(self, samples: list[SingleObjectSample]) -> list[np.ndarray]:
        return [np.asarray(sample.boxes, dtype=np.float64) for sample in samples]
