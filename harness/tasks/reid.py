"""Re-identification cells (Liu et al. 2022, Tables 7 and 8): the method embeds the ground-truth
boxes of every frame, and R1 and mAP score its embeddings over the whole split as OUTrack's
``src/tools/eval_reid.py`` does (``harness.metrics.reid``: visibility >= 0.7, the first half of
each identity's rows the queries, one gallery pooling the sequences, cosine distance).

The rows are the ground-truth rows the dataset's own protocol scores (``rows_to_keep`` of the
card's preprocessing: consider flag not 0, and under mot16/17/20 pedestrians only); the
experiment's protocol, which says how tracks are matched, plays no part. OUTrack keeps the
pedestrian rows of gt.txt whatever their flag (src/lib/datasets/dataset/jde_json.py:41-43). A row
without visibility (the dataset has none: -1) counts as visible, and the result's notes say so.
Each frame that has rows to embed is one ``embed(image, boxes)`` call: boxes (n, 4) ltwh pixels,
features (n, D) back, timed as a tracker's steps are (``timed_embed``: warm-up calls excluded,
one timing record per sequence). One gallery pools the sequences, so there is no per-sequence R1
or mAP: the result has the combined block only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any, Protocol

import numpy as np

from harness.data import BoxTable, Sequence
from harness.datasets.base import DatasetAdapter
from harness.errors import ConfigError
from harness.metrics.protocols import rows_to_keep
from harness.metrics.reid import ReidSplit, check_features, rank1_map, reid_split
from harness.tasks import TaskResult
from harness.tasks.multi_object import has_ground_truth
from harness.timing import timed_embed

MIN_VISIBILITY = 0.7  # eval_reid.py:215
QUERY_RATIO = 0.5  # eval_reid.py:216
DISTANCE = "cosine"  # eval_reid.py:217
NO_PAIRS = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
"""No (gt, prediction) overlaps: ``rows_to_keep`` of the ground truth alone."""


class BoxEmbedder(Protocol):
    """A tracker that embeds boxes: ``image`` uint8 HxWxC RGB, ``boxes`` (n, 4) ltwh pixels of
    that frame; returns (n, D) float features, one row per box."""

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray: ...


class ReidTask:
    """The reid task kind (``harness.tasks.TaskKind``)."""

    def load(self, adapter: DatasetAdapter, split: str) -> list[Sequence]:
        """The split's sequences, each with the ground-truth rows its dataset's protocol scores
        only; a ConfigError when one has no ground truth (a test split)."""
        sequences = []
        for sequence in adapter.sequences(split):
            if not has_ground_truth(sequence):
                raise ConfigError(
                    f"split {split!r} of {adapter.card['name']!r}: sequence {sequence.name} has"
                    " no ground truth, and the reid task embeds ground-truth boxes"
                )
            keep, _ = rows_to_keep(
                adapter.protocol,
                sequence.gt,
                BoxTable.empty(),
                NO_PAIRS,
                sequence.num_frames,
                sequence.name,
            )
            sequences.append(replace(sequence, gt=sequence.gt.select(keep)))
        return sequences

    def frames(self, sequences: list[Sequence]) -> int:
        return sum(sequence.num_frames for sequence in sequences)

    def run(
        self,
        cell: Any,
        tracker: BoxEmbedder,
        sequences: list[Sequence],
        on_frames: Callable[[int], None] | None,
    ) -> TaskResult:
        """Embed the rows of the query and gallery sets, frame by frame, and score them."""
        rows = BoxTable.concat([sequence.gt for sequence in sequences])
        owner = np.repeat(np.arange(len(sequences)), [len(sequence.gt) for sequence in sequences])
        split = reid_split(rows.id, rows.frame, rows.visibility, owner, MIN_VISIBILITY, QUERY_RATIO)
        features, timings = embed_rows(cell, tracker, sequences, rows, owner, split, on_frames)
        scores = rank1_map(
            features[split.query],
            split.identity[split.query],
            features[split.gallery],
            split.identity[split.gallery],
            DISTANCE,
        )
        notes = []
        unknown = int((rows.visibility < 0).sum())
        if unknown:
            notes.append(
                f"{unknown} of {len(rows)} ground-truth rows have no visibility: they count as"
                " visible"
            )
        return TaskResult({}, scores, timings, notes=tuple(notes))


def embed_rows(
    cell: Any,
    tracker: BoxEmbedder,
    sequences: list[Sequence],
    rows: BoxTable,
    owner: np.ndarray,
    split: ReidSplit,
    on_frames: Callable[[int], None] | None,
) -> tuple[np.ndarray, dict[str, dict[str, Any]]]:
    """Features (len(rows), D) of the query and gallery rows (the others stay 0), one ``embed``
    call per frame of a sequence (``owner``: each row's) that has such rows, and the timing
    record of each sequence embedded. A ValueError names the sequence and frame of a call that
    returns other than one finite row per box, or a dimension unlike the first call's."""
    wanted = np.concatenate([split.query, split.gallery])
    wanted = wanted[np.lexsort((rows.frame[wanted], owner[wanted]))]
    features: np.ndarray | None = None
    timings = {}
    before = 0  # frames of the earlier sequences
    for index, sequence in enumerate(sequences):
        mine = wanted[owner[wanted] == index]
        if len(mine):
            frames, starts = np.unique(rows.frame[mine], return_index=True)
            chunks = np.split(mine, starts[1:])
            on_frame = None if on_frames is None else (lambda n, b=before: on_frames(b + n))
            embedded, record = timed_embed(
                tracker,
                sequence,
                frames.tolist(),
                [rows.box[chunk] for chunk in chunks],
                warmup_frames=cell.warmup_frames,
                device=cell.device,
                on_frame=on_frame,
            )
            timings[sequence.name] = asdict(record)
            for frame, chunk, returned in zip(frames.tolist(), chunks, embedded):
                where = f"sequence {sequence.name} frame {frame}"
                checked = check_features(returned, f"{where}: embed's")
                if features is None:
                    features = np.zeros((len(rows), checked.shape[1]))
                if checked.shape != (len(chunk), features.shape[1]):
                    raise ValueError(
                        f"{where}: embed returned features of shape {checked.shape} for"
                        f" {len(chunk)} boxes (expected ({len(chunk)}, {features.shape[1]}))"
                    )
                features[chunk] = checked
        before += sequence.num_frames
        if on_frames is not None:
            on_frames(before)
    if features is None:
        raise ValueError("no ground-truth row to embed: the split has no visible object")
    return features, timings
