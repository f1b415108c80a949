"""Single-object cells: samples (a split's objects, each from its first box) followed with
``init`` + ``update`` (``timed_follow``), every box checked (``check_boxes``) and scored. An online
tracker with a batched path (its own ``track``) is also timed over all samples in one call
(``TimingRecord.batched_fps``).

Per sample: IoU, AUC, Precision20 and CenterError over its frames after the first (the first box
is given, not tracked); combined: the mean over samples. IoU is of the boxes or of their pixel
masks, as the cell's protocol (the card's ``protocol.iou``) says. Curves, over all samples: IoU
over time t = 0..T-1 (Kosiorek et al. 2017, Fig. 5; t = 0 is the given box) and the success curve
(OTB/got10k) whose mean is the AUC. TimeIoU, the mean of the IoU-over-time curve (HART's Table 1),
is a combined value only: it pools every sample's frames, t = 0 included, so no sample has one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from harness.data import SingleObjectSample
from harness.datasets.base import DatasetAdapter
from harness.errors import FormatError
from harness.metrics.catalogue import CATALOGUE, MEAN_COMBINE, SINGLE_OBJECT, combine_means
from harness.metrics.single import (
    SUCCESS_THRESHOLDS,
    center_errors,
    frame_ious,
    iou_over_time,
    mask_ious,
    sample_scores,
    time_iou,
)
from harness.protocol import SingleObjectTracker, check_boxes, has_batched_track
from harness.results.summary import COMBINED
from harness.tasks import TaskResult
from harness.timing import timed_batched_follow, timed_follow

SCORES = [m for m in CATALOGUE.values() if m.family == SINGLE_OBJECT and m.combine == MEAN_COMBINE]
"""The per-sample metrics (IoU, AUC, Precision20, CenterError), combined by the catalogue."""
AGREEMENT_PX = 0.05
"""How far (pixels, any coordinate) a batched ``track`` box may be from the online loop's."""


class SingleObjectTask:
    """The single-object task kind (``harness.tasks.TaskKind``)."""

    def load(self, adapter: DatasetAdapter, split: str) -> list[SingleObjectSample]:
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

    def frames(self, samples: list[SingleObjectSample]) -> int:
        return sum(len(sample.frames) for sample in samples)

    def run(
        self,
        cell: Any,
        tracker: SingleObjectTracker,
        samples: list[SingleObjectSample],
        on_frames: Callable[[int], None] | None,
    ) -> TaskResult:
        """Follow every sample and score all of them at once; one timing record for the cell.

        A tracker with a batched path is followed online over the first ``cell.online_samples``
        samples (all by default) and over all of them by ``track``; the two must give the same boxes
        (``AGREEMENT_PX``), and the scores are the batched boxes'."""
        batched = getattr(tracker, "online", True) and has_batched_track(tracker)
        online = samples
        if batched and cell.online_samples is not None:
            online = samples[: cell.online_samples]
        predicted, record = timed_follow(
            tracker,
            online,
            warmup_frames=cell.warmup_frames,
            device=cell.device,
            on_frame=on_frames,
        )
        if batched:
            predicted, fps = _batched_agreeing(tracker, samples, online, predicted, cell.device)
            record = replace(record, batched_fps=fps)
            if on_frames is not None:
                on_frames(self.frames(samples))
        lengths = np.array([len(sample.frames) for sample in samples])
        if len(predicted) != lengths.sum():
            raise ValueError(f"tracker returned {len(predicted)} boxes for {lengths.sum()} frames")
        step = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        owner = np.repeat(np.arange(len(samples)), lengths)
        gt = np.concatenate([sample.boxes for sample in samples]).astype(np.float64)
        check_boxes(predicted, [sample.name for sample in samples], owner, step)
        ious = _ious(cell.protocol, samples, owner, gt, predicted)
        later = step > 0  # the first box is given, not tracked
        scores = sample_scores(owner[later], ious[later], center_errors(gt, predicted)[later])
        names = [metric.name for metric in SCORES]
        table = np.column_stack([scores[name] for name in names])
        per_sample = {
            sample.name: dict(zip(names, row)) for sample, row in zip(samples, table.tolist())
        }
        per_frame = np.split(ious, np.cumsum(lengths)[:-1])
        combined = dict(zip(names, combine_means(table).tolist()))
        combined["TimeIoU"] = time_iou(per_frame)
        over_time = iou_over_time(per_frame)
        curves = {
            COMBINED: {
                "iou_over_time": {"x": list(range(len(over_time))), "y": over_time.tolist()},
                "success": {
                    "x": SUCCESS_THRESHOLDS.tolist(),
                    "y": scores["success"].mean(axis=0).tolist(),
                },
            }
        }
        return TaskResult(per_sample, combined, {COMBINED: asdict(record)}, curves)


def _batched_agreeing(
    tracker: SingleObjectTracker,
    samples: list[SingleObjectSample],
    online: list[SingleObjectSample],
    followed: np.ndarray,
    device: str,
) -> tuple[np.ndarray, float]:
    """The boxes and frames/s of ``track`` over ``samples``; ValueError naming the first sample
    whose batched boxes differ from its ``followed`` (online) ones by more than
    ``AGREEMENT_PX``."""
    boxes, fps = timed_batched_follow(tracker, samples, device)
    gaps = np.abs(boxes[: len(followed)] - followed).max(axis=1)
    if (gaps > AGREEMENT_PX).any():
        row = int(np.flatnonzero(gaps > AGREEMENT_PX)[0])
        owner = np.repeat(np.arange(len(online)), [len(s.frames) for s in online])[row]
        raise ValueError(
            f"sample {online[owner].name}: the batched track's box is {gaps[row]:.3g} px from the"
            f" online loop's (more than {AGREEMENT_PX}); a batched path must give the same boxes"
        )
    return boxes, fps


def _ious(
    kind: str,
    samples: list[SingleObjectSample],
    owner: np.ndarray,
    gt: np.ndarray,
    predicted: np.ndarray,
) -> np.ndarray:
    """Per-frame IoU of boxes, or of their pixel masks on each sample's image size."""
    if kind == "mask":
        sizes = np.array([(s.sequence.width, s.sequence.height) for s in samples])[owner]
        return mask_ious(gt, predicted, sizes[:, 0], sizes[:, 1])
    return frame_ious(gt, predicted)
