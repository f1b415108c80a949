"""Single-object cells: samples (a split's objects, each from its first box) followed with
``init`` + ``update`` (``timed_follow``), every box checked (``check_boxes``) and scored.

Per sample: IoU, AUC, Precision20 and CenterError over its frames after the first (the first box
is given, not tracked); combined: the mean over samples. IoU is of the boxes or of their pixel
masks, as the cell's protocol (the card's ``protocol.iou``) says. Curves, over all samples: IoU
over time t = 0..T-1 (Kosiorek et al. 2017, Fig. 5; t = 0 is the given box) and the success curve
(OTB/got10k) whose mean is the AUC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np

from harness.data import SingleObjectSample
from harness.datasets.base import DatasetAdapter
from harness.errors import FormatError
from harness.metrics.single import (
    SUCCESS_THRESHOLDS,
    center_errors,
    frame_ious,
    iou_over_time,
    mask_ious,
    sample_scores,
    success_curve,
)
from harness.protocol import SingleObjectTracker, check_boxes
from harness.store import COMBINED
from harness.timing import timed_follow

SCORES = ("IoU", "AUC", "Precision20", "CenterError")


def load(adapter: DatasetAdapter, split: str) -> list[SingleObjectSample]:
    """The split's samples; a sample whose first box is empty is an error naming its source."""
    samples = adapter.samples(split)
    if not samples:
        raise FormatError(f"split {split!r} of {adapter.card['name']!r} gives no samples")
    for sample in samples:
        if not (np.isfinite(sample.boxes[0]).all() and (sample.boxes[0, 2:] > 0).all()):
            path, line = sample.source or (None, None)
            raise FormatError(
                f"sample {sample.name}: the first box {sample.boxes[0].tolist()} is empty"
                " (a tracker cannot be initialised on it)",
                path,
                line,
            )
    return samples


def frames(samples: list[SingleObjectSample]) -> int:
    return sum(len(sample.frames) for sample in samples)


def run(
    cell: Any,
    tracker: SingleObjectTracker,
    samples: list[SingleObjectSample],
    on_frames: Callable[[int], None] | None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Follow every sample and score it; one timing record for the whole cell."""
    boxes, record = timed_follow(
        tracker, samples, warmup_frames=cell.warmup_frames, device=cell.device, on_frame=on_frames
    )
    per_sample, ious_over_time = {}, []
    for sample, predicted in zip(samples, boxes):
        predicted = np.asarray(predicted, dtype=np.float64)
        check_boxes(predicted, len(sample.frames))
        ious = _ious(cell.protocol, sample, predicted)
        ious_over_time.append(ious)
        later = slice(1, None)  # the first box is given
        per_sample[sample.name] = sample_scores(
            ious[later], center_errors(sample.boxes[later], predicted[later])
        )
    combined = {name: float(np.mean([s[name] for s in per_sample.values()])) for name in SCORES}
    success = np.mean([success_curve(ious[1:]) for ious in ious_over_time], axis=0)
    over_time = iou_over_time(ious_over_time)
    curves = {
        COMBINED: {
            "iou_over_time": {"x": list(range(len(over_time))), "y": over_time.tolist()},
            "success": {"x": SUCCESS_THRESHOLDS.tolist(), "y": success.tolist()},
        }
    }
    evaluation = {"sequences": per_sample, "combined": combined, "curves": curves}
    return evaluation, {COMBINED: asdict(record)}


def _ious(kind: str, sample: SingleObjectSample, predicted: np.ndarray) -> np.ndarray:
    if kind == "mask":
        return mask_ious(sample.boxes, predicted, sample.sequence.width, sample.sequence.height)
    return frame_ious(sample.boxes, predicted)
