"""Invertible sequence transforms: resizing and frame-rate subsampling.

A transform's ``apply(sequence)`` gives a new Sequence whose frames (lazy), ground truth, public
detections, size, frame count and fps agree with each other, so the metric protocol runs on it
unchanged. ``invert(table, source)`` maps a result table on the transformed sequence back to the
pixels and frame numbers of ``source`` (e.g. for a submission file). ``apply`` records itself and
its source in the new sequence's ``meta`` (keys ``transform``, ``source``), so ``restore`` undoes a
whole chain.

TBA's DukeMTMC pipeline (He et al. 2019, §4.2; the released code's scripts/gen_duke_processed.py
and scripts/get_metric_txt.py, zhen-he/tracking-by-animation) is ``Subsample(6, offset,
interpolate=True)`` then ``Resize(108, 192)``: boxes are divided by the scale back to 1080x1920
and every skipped 60 fps frame between two samples is filled by linear interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from harness.data import BoxTable, Sequence
from harness.errors import FormatError


def _transformed(source: Sequence, transform, **changes) -> Sequence:
    meta = {**source.meta, "transform": transform, "source": source}
    return replace(source, meta=meta, **changes)


@dataclass(frozen=True)
class Resize:
    """Resize frames to ``height`` x ``width`` (cv2.resize, bilinear by default, as TBA).

    Boxes scale as ltwh times (sx, sy, sx, sy), sx = width / source width, with no half-pixel
    shift: TBA divides left, top, width and height by the same factor (gen_duke_bb.py) and
    multiplies them back (get_metric_txt.py). Grey HxWx1 frames stay HxWx1.
    """

    height: int
    width: int
    interpolation: int = cv2.INTER_LINEAR

    def factors(self, source: Sequence) -> np.ndarray:
        """(sx, sy, sx, sy): what ``apply`` multiplies ltwh boxes by."""
        sx, sy = self.width / source.width, self.height / source.height
        return np.array([sx, sy, sx, sy])

    def apply(self, sequence: Sequence) -> Sequence:
        factors = self.factors(sequence)

        def scaled(table: BoxTable | None) -> BoxTable | None:
            return None if table is None else replace(table, box=table.box * factors)

        load = sequence.load_frame
        return _transformed(
            sequence,
            self,
            width=self.width,
            height=self.height,
            gt=scaled(sequence.gt),
            detections=scaled(sequence.detections),
            load_frame=None if load is None else lambda number: self.resize_image(load(number)),
        )

    def resize_image(self, image: np.ndarray) -> np.ndarray:
        resized = cv2.resize(image, (self.width, self.height), interpolation=self.interpolation)
        return resized.reshape(self.height, self.width, image.shape[2])

    def invert(self, table: BoxTable, source: Sequence) -> BoxTable:
        """Boxes in ``source`` pixels: divided by the factors ``apply`` multiplied by."""
        return replace(table, box=table.box / self.factors(source))


@dataclass(frozen=True)
class Subsample:
    """Keep source frames ``offset+1, offset+1+step, ...``, renumbered 1, 2, ...; fps / step.

    ``invert`` maps sample k back to source frame ``offset + 1 + (k-1)*step``. With
    ``interpolate`` it also fills the ``step-1`` skipped frames before a sample by linear
    interpolation from the track's box in the previous sample (TBA's scripts/get_metric_txt.py):
    a track present in samples k-1 and k writes ``step`` rows, for source frames
    ``f_k - i``, ``i = step-1 .. 0``, with box ``b_k - i*(b_k - b_{k-1})/step``; a track's first
    sample (absent from the previous sample) writes 1 row. Filled rows copy the sample's other
    columns (conf, class, visibility).
    """

    step: int
    offset: int = 0
    interpolate: bool = False

    def __post_init__(self) -> None:
        if self.step < 1 or self.offset < 0:
            raise ValueError(f"need step >= 1 and offset >= 0, got {self.step}, {self.offset}")

    def frame_map(self, num_frames: int) -> np.ndarray:
        """Source frame number of each sample (index k-1 for sample k)."""
        return np.arange(self.offset + 1, num_frames + 1, self.step)

    def _select(self, table: BoxTable | None) -> BoxTable | None:
        if table is None:
            return None
        shifted = table.frame - 1 - self.offset
        kept = table.select((shifted >= 0) & (shifted % self.step == 0))
        return replace(kept, frame=(kept.frame - 1 - self.offset) // self.step + 1)

    def apply(self, sequence: Sequence) -> Sequence:
        frame_map = self.frame_map(sequence.num_frames)
        load = sequence.load_frame
        transformed = _transformed(
            sequence,
            self,
            num_frames=len(frame_map),
            fps=sequence.fps / self.step,
            gt=self._select(sequence.gt),
            detections=self._select(sequence.detections),
            load_frame=None if load is None else lambda number: load(int(frame_map[number - 1])),
        )
        transformed.meta["frame_map"] = frame_map
        return transformed

    def invert(self, table: BoxTable, source: Sequence) -> BoxTable:
        frame_map = self.frame_map(source.num_frames)
        outside = (table.frame < 1) | (table.frame > len(frame_map))
        if outside.any():
            raise FormatError(
                f"result frame {int(table.frame[outside][0])} outside the "
                f"{len(frame_map)} samples of {source.name!r}"
            )
        if not self.interpolate:
            return replace(table, frame=frame_map[table.frame - 1])
        table = table.select(np.lexsort((table.frame, table.id)))
        continues = np.zeros(len(table), dtype=bool)
        continues[1:] = (table.id[1:] == table.id[:-1]) & (table.frame[1:] == table.frame[:-1] + 1)
        previous_box = np.vstack([table.box[:1], table.box[:-1]])
        delta = np.where(continues[:, None], (table.box - previous_box) / self.step, 0.0)
        counts = np.where(continues, self.step, 1)
        rows = np.repeat(np.arange(len(table)), counts)
        # i = step-1 .. 0 through a continuing sample's rows; 0 for a first sample
        back = (np.cumsum(counts) - 1)[rows] - np.arange(len(rows))
        filled = table.select(rows)
        box = filled.box - back[:, None] * delta[rows]
        return replace(filled, frame=frame_map[filled.frame - 1] - back, box=box).sorted()


def restore(table: BoxTable, sequence: Sequence) -> BoxTable:
    """Map ``table`` on a transformed ``sequence`` back through every recorded transform."""
    while "transform" in sequence.meta:
        source = sequence.meta["source"]
        table = sequence.meta["transform"].invert(table, source)
        sequence = source
    return table
