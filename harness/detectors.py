"""A seeded "oracle" detector: ground truth with controlled misses, box jitter and false positives.

It lets detection-based trackers run on synthetic data (DESIGN.md, Data). Scores separate true
from false positives on average but not perfectly: a kept ground-truth box scores ~ Beta(8, 2)
(mean 0.8), a false positive ~ Beta(2, 5) (mean 0.29).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.data import BoxTable, Sequence
from harness.errors import ConfigError

TP_SCORE_BETA = (8.0, 2.0)
FP_SCORE_BETA = (2.0, 5.0)
MIN_SIZE = 1.0  # px; jittered sizes are clamped here so boxes stay valid


@dataclass(frozen=True)
class OracleNoise:
    """``miss_rate``: probability that a ground-truth box is dropped; ``jitter``: std of the
    Gaussian noise on centre and size, as a fraction of the box's width/height; ``fp_rate``: mean
    number of false positives per frame (Poisson, so it may exceed 1); ``occlusion_miss``: when
    set, a ground-truth box whose visibility is known (>= 0) and below it is never detected."""

    miss_rate: float = 0.0
    jitter: float = 0.0
    fp_rate: float = 0.0
    occlusion_miss: float | None = None

    def __post_init__(self) -> None:
        for name in ("miss_rate", "occlusion_miss"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError(f"oracle {name} must be in [0, 1], got {value}")
        for name in ("jitter", "fp_rate"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ConfigError(f"oracle {name} must be a finite number >= 0, got {value}")


def oracle_detections(sequence: Sequence, noise: OracleNoise, seed: int) -> BoxTable:
    """Detections (id -1, conf = score) of ``sequence`` from its ground truth rows with conf != 0.

    Every gt row draws its miss and jitter noise whatever the rates, so with one seed a higher
    miss rate drops a superset of the boxes a lower one drops. Occlusion misses are removed after
    the boxes' draws, so they change no other box. False positives have the size of a random gt
    box (10% of the image without gt) and lie uniformly inside the image.
    """
    rng = np.random.default_rng(seed)
    gt = sequence.gt.select(sequence.gt.conf != 0)
    n = len(gt)
    missed = rng.random(n) < noise.miss_rate
    size = gt.box[:, 2:]
    centre = gt.box[:, :2] + size / 2 + rng.standard_normal((n, 2)) * noise.jitter * size
    size = np.maximum(size + rng.standard_normal((n, 2)) * noise.jitter * size, MIN_SIZE)
    tp_box = np.concatenate([centre - size / 2, size], axis=1)[~missed]
    tp_frame = gt.frame[~missed]
    tp_score = rng.beta(*TP_SCORE_BETA, size=len(tp_frame))
    shown = ~occluded(sequence.name, gt, noise.occlusion_miss)[~missed]
    tp_box, tp_frame, tp_score = tp_box[shown], tp_frame[shown], tp_score[shown]

    counts = rng.poisson(noise.fp_rate, sequence.num_frames)
    fp_frame = np.repeat(np.arange(1, sequence.num_frames + 1), counts)
    m = len(fp_frame)
    image = np.array([sequence.width, sequence.height], np.float64)
    if n:
        fp_size = gt.box[rng.integers(0, n, m), 2:]
    else:
        fp_size = np.broadcast_to(image / 10, (m, 2))
    fp_size = np.clip(fp_size, MIN_SIZE, image)
    fp_left_top = 1 + rng.random((m, 2)) * (image - fp_size)  # 1-based pixels, box inside image
    fp_score = rng.beta(*FP_SCORE_BETA, size=m)

    detections = BoxTable.build(
        frame=np.concatenate([tp_frame, fp_frame]),
        box=np.concatenate([tp_box, np.concatenate([fp_left_top, fp_size], axis=1)]),
        conf=np.concatenate([tp_score, fp_score]),
    )
    return detections.select(np.argsort(detections.frame, kind="stable"))


def occluded(name: str, gt: BoxTable, threshold: float | None) -> np.ndarray:
    """Rows of ``gt`` (of sequence ``name``) whose known visibility is below ``threshold``; none
    when it is None, and an error when the ground truth has no visibility at all."""
    if threshold is None:
        return np.zeros(len(gt), bool)
    known = gt.visibility >= 0
    if len(gt) and not known.any():
        raise ConfigError(
            f"oracle occlusion_miss needs ground-truth visibility, and sequence {name} has none"
        )
    return known & (gt.visibility < threshold)
