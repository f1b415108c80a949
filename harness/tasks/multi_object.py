"""Multi-object cells: every sequence tracked frame by frame (``timed_track``) with the detections
of the cell's variant, the output checked (``check_result``) and evaluated with the cell's
protocol (CLEAR, Identity, HOTA as TrackEval defines them: ``harness.metrics.mot``).

A test split, whose ground truth only the benchmark's server has, is tracked and not scored: its
result is the submission that server takes, as a zip (``submission_archive``). MOTChallenge: one
``<sequence>.txt`` per sequence at the zip's root, lines ``frame,id,left,top,width,height,conf,
-1,-1,-1``. KITTI (a KITTI protocol): ``data/<sequence>.txt`` in label_02 form, 0-based frames,
every track of the protocol's one class, 3D fields unknown (-1, -1000, -10) and the score last.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.data import BoxTable, Sequence
from harness.datasets.base import DatasetAdapter
from harness.detection_sources import source_detections
from harness.detectors import OracleNoise, oracle_detections
from harness.metrics import evaluate
from harness.metrics.kitti import tracks_to_kitti, write_kitti
from harness.metrics.protocols import KITTI_PROTOCOLS
from harness.motchallenge import write_mot
from harness.protocol import MultiObjectTracker, check_result
from harness.tasks import TaskResult
from harness.timing import timed_track

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
"""The date of every file in a submission zip (the earliest a zip holds): same tracks, same
bytes."""


@dataclass(frozen=True)
class SubmissionResult(TaskResult):
    """A test split's result: timings, no scores, and ``archive``, the zip for the benchmark's
    server."""

    archive: bytes = b""


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
        """Track every sequence with the detections of the cell's variant (``variant_detections``)
        and evaluate the tracks with the cell's protocol; on a test split (no sequence has ground
        truth) return a ``SubmissionResult`` instead."""
        labelled = [has_ground_truth(sequence) for sequence in sequences]
        if any(labelled) and not all(labelled):
            raise ValueError("the split mixes sequences with and without ground truth")
        if all(labelled) and cell.protocol in KITTI_PROTOCOLS:
            raise ValueError(
                "a labelled KITTI split is scored from KITTI-format results files (`trackbench"
                " evaluate --protocol kitti`); a run writes the submission of a test split"
            )
        predictions, num_frames, timings = {}, {}, {}
        before = 0  # frames of the cell's earlier sequences
        for sequence in sequences:
            on_frame = None if on_frames is None else (lambda n, b=before: on_frames(b + n))
            result, record = timed_track(
                tracker,
                sequence,
                variant_detections(cell, sequence),
                warmup_frames=cell.warmup_frames,
                device=cell.device,
                on_frame=on_frame,
            )
            check_result(result, sequence.num_frames)
            predictions[sequence.name] = result
            num_frames[sequence.name] = sequence.num_frames
            timings[sequence.name] = asdict(record)
            before += sequence.num_frames
        if not all(labelled):
            archive = submission_archive(predictions, cell.protocol)
            return SubmissionResult({}, {}, timings, archive=archive)
        gt = {sequence.name: sequence.gt for sequence in sequences}
        scores = evaluate(gt, predictions, protocol=cell.protocol, num_frames=num_frames)
        return TaskResult(scores["sequences"], scores["combined"], timings)


def variant_detections(cell: Any, sequence: Sequence) -> BoxTable | None:
    """The detections the cell's variant gives ``sequence``: the oracle's from the cell's seed
    (noise levels), its source's (``harness.detection_sources``), or None: the sequence's public
    detections as they are."""
    if cell.noise is not None:
        return oracle_detections(sequence, OracleNoise(**cell.noise), cell.seed)
    if cell.detection_source is not None:
        return source_detections(cell.detection_source, sequence)
    return None


def has_ground_truth(sequence: Sequence) -> bool:
    """Whether ``sequence`` has its ground truth here; a test split's is on the benchmark's
    server (its adapter's ``meta["has_gt"]`` is false)."""
    return bool(sequence.meta.get("has_gt", True))


def submission_archive(predictions: dict[str, BoxTable], protocol: str) -> bytes:
    """The zip of ``predictions`` (tracks by sequence name) the benchmark's server takes: KITTI
    label files under ``data/`` for a KITTI ``protocol`` (of its one class), else MOTChallenge
    results files at the root (see the module docstring)."""
    classes = KITTI_PROTOCOLS.get(protocol)
    if classes is not None and len(classes) != 1:
        raise ValueError(f"a KITTI submission needs a one-class protocol, not {protocol!r}")
    buffer = io.BytesIO()
    with (
        tempfile.TemporaryDirectory() as folder,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for name, tracks in sorted(predictions.items()):
            if classes is None:
                member = f"{name}.txt"
                write_mot(Path(folder, member), tracks, "result")
            else:
                member = f"data/{name}.txt"
                Path(folder, "data").mkdir(exist_ok=True)
                write_kitti(Path(folder, member), tracks_to_kitti(tracks, classes[0]))
            info = zipfile.ZipInfo(member, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, Path(folder, member).read_bytes())
    return buffer.getvalue()
