"""Multi-object cells: every sequence tracked frame by frame (``timed_track``), the output checked
(``check_result``) and evaluated with the cell's protocol (TrackEval's CLEAR, Identity, HOTA)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from harness.data import Sequence
from harness.datasets.base import DatasetAdapter
from harness.detectors import OracleNoise, oracle_detections
from harness.metrics import evaluate
from harness.protocol import MultiObjectTracker, check_result
from harness.tasks import TaskResult
from harness.timing import timed_track


class MultiObjectTask:
    """The multi-object task kind (``harness.tasks.TaskKind``)."""

    def load(self, adapter: DatasetAdapter, split: str) -> list[Sequence]:
        return adapter.sequences(split)

    def frames(self, sequences: list[Sequence]) -> int:
        return sum(sequence.num_frames for sequence in sequences)

    def run(
        self,
        cell: Any,
        tracker: MultiObjectTracker,
        sequences: list[Sequence],
        on_frames: Callable[[int], None] | None,
    ) -> TaskResult:
        """Track every sequence (oracle detections from the cell's seed when its variant has noise
        levels) and evaluate the tracks with the cell's protocol."""
        gt, predictions, num_frames, timings = {}, {}, {}, {}
        before = 0  # frames of the cell's earlier sequences
        for sequence in sequences:
            if not sequence.meta.get("has_gt", True):
                raise ValueError(
                    f"sequence {sequence.name} has no ground truth (a test split): only the"
                    " benchmark's server can score it"
                )
            detections = None
            if cell.noise is not None:
                detections = oracle_detections(sequence, OracleNoise(**cell.noise), cell.seed)
            on_frame = None if on_frames is None else (lambda n, b=before: on_frames(b + n))
            result, record = timed_track(
                tracker,
                sequence,
                detections,
                warmup_frames=cell.warmup_frames,
                device=cell.device,
                on_frame=on_frame,
            )
            check_result(result, sequence.num_frames)
            gt[sequence.name] = sequence.gt
            predictions[sequence.name] = result
            num_frames[sequence.name] = sequence.num_frames
            timings[sequence.name] = asdict(record)
            before += sequence.num_frames
        scores = evaluate(gt, predictions, protocol=cell.protocol, num_frames=num_frames)
        return TaskResult(scores["sequences"], scores["combined"], timings)
