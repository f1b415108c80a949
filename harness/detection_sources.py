"""Detection sources: where a detection variant's boxes come from, and which of them it keeps.

An experiment's ``detections`` variant ``{source: SOURCE, min_score: S, min_side: P}`` (both
bounds optional) takes its boxes from

- ``public``: the dataset's public detections (MOTChallenge ``det/det.txt``);
- ``file:PATH``: a folder of MOTChallenge detection files, ``<sequence name>.txt`` per sequence
  (``frame,-1,left,top,width,height,score[,...]``, 1-based frames), read with
  ``harness.motchallenge.read_mot``; PATH is relative to the experiment file.

Every box is first clipped to the image, whose 1-based pixels span x in [1, width + 1] and y in
[1, height + 1] (the DESIGN's box convention); a box with nothing left inside it is dropped. Then
a box is kept when ``score >= min_score`` and ``width >= min_side`` and ``height >= min_side``
(inclusive bounds). The cross-input consistency code (favyen/uns20 ``scripts/mot2json.py`` and
``filter_small.py``) keeps SDP scores >= 0.6 and drops clipped integer boxes whose side is <= 4 px,
i.e. keeps sides >= 5: ``{source: public, min_score: 0.6, min_side: 5}`` is its filter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.boxes import ltwh_to_xyxy, xyxy_to_ltwh
from harness.data import BoxTable, Sequence
from harness.errors import ConfigError, FormatError
from harness.motchallenge import read_mot

PUBLIC = "public"
FILE_PREFIX = "file:"


class DetectionSource(BaseModel):
    """A detection variant read from a source (see the module docstring), not drawn by the
    oracle detector."""

    model_config = ConfigDict(extra="forbid", strict=True)

    source: str
    min_score: float | None = None
    min_side: float | None = Field(None, ge=0.0)

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        folder = value.removeprefix(FILE_PREFIX)
        if value != PUBLIC and (folder == value or not folder.strip()):
            raise ValueError(
                f"must be {PUBLIC!r} or '{FILE_PREFIX}PATH' (a folder of <sequence>.txt"
                " MOTChallenge detection files)"
            )
        return value

    def definition(self) -> dict[str, Any]:
        """What makes this source's cells: its values, a file source's folder normalised."""
        folder = source_folder(self.source)
        source = self.source if folder is None else os.path.normpath(folder)
        return {**self.model_dump(), "source": source}


def source_folder(source: str) -> Path | None:
    """The folder a ``file:PATH`` source reads (None for ``public``)."""
    return Path(source.removeprefix(FILE_PREFIX)) if source.startswith(FILE_PREFIX) else None


def check_folder(folder: Path) -> None:
    """A ConfigError when ``folder`` is not a folder; a FormatError naming the file and line of the
    first malformed row of its ``*.txt`` detection files."""
    if not folder.is_dir():
        raise ConfigError(f"detections folder not found: {folder}")
    for path in sorted(folder.glob("*.txt")):
        read_mot(path, "det")


def read_sequence_file(folder: Path, sequence: Sequence) -> BoxTable:
    """The detections of ``sequence`` in ``folder/<sequence name>.txt``; a missing file or a
    malformed row (a frame beyond the sequence included) is a FormatError naming the file."""
    path = folder / f"{sequence.name}.txt"
    if not path.is_file():
        raise FormatError(f"no detections file for sequence {sequence.name}", path)
    return read_mot(path, "det", seq_length=sequence.num_frames)


def check_sequences(source: dict[str, Any], sequences: list[Sequence]) -> None:
    """Raise the FormatError of the first of ``sequences`` whose detections file a ``file:PATH``
    ``source`` (``DetectionSource.model_dump()``) lacks or holds malformed; nothing for public."""
    folder = source_folder(source["source"])
    if folder is not None:
        for sequence in sequences:
            read_sequence_file(folder, sequence)


def source_detections(source: dict[str, Any], sequence: Sequence) -> BoxTable:
    """The detections ``source`` (``DetectionSource.model_dump()``) gives for ``sequence``:
    clipped to the image and filtered by its bounds."""
    folder = source_folder(source["source"])
    if folder is not None:
        table = read_sequence_file(folder, sequence)
    elif sequence.detections is None:
        raise ValueError(f"sequence {sequence.name!r} has no public detections")
    else:
        table = sequence.detections
    return filter_detections(
        table, sequence.width, sequence.height, source["min_score"], source["min_side"]
    )


def filter_detections(
    table: BoxTable,
    width: int,
    height: int,
    min_score: float | None = None,
    min_side: float | None = None,
) -> BoxTable:
    """``table`` with its boxes clipped to a ``width`` x ``height`` image (1-based pixels), the
    boxes left without area dropped, and only those with ``conf >= min_score`` and both sides
    ``>= min_side`` kept (None: no bound)."""
    corners = ltwh_to_xyxy(table.box)
    upper = [width + 1, height + 1, width + 1, height + 1]
    box = xyxy_to_ltwh(np.clip(corners, 1.0, np.array(upper, dtype=np.float64)))
    keep = (box[:, 2] > 0) & (box[:, 3] > 0)
    if min_score is not None:
        keep &= table.conf >= min_score
    if min_side is not None:
        keep &= (box[:, 2] >= min_side) & (box[:, 3] >= min_side)
    clipped = BoxTable(table.frame, table.id, box, table.conf, table.cls, table.visibility)
    return clipped.select(keep)
