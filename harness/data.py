"""The data model: box tables, sequences and the per-frame input a tracker sees.

Conventions (DESIGN.md): frames are 1-based; a box is (left, top, width, height) in pixels of the
image as the dataset stores it; track ids are positive ints; images are uint8 HxWxC RGB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class BoxTable:
    """A column table of boxes over the frames of one sequence.

    One row per box. ``id`` is -1 for detections without identity. ``conf`` is the detection score,
    the tracker confidence, or the ground-truth "consider" flag (0 = ignore), as in MOTChallenge.
    ``cls`` is the class id (-1 unknown) and ``visibility`` the visible fraction (-1 unknown).
    """

    frame: np.ndarray
    id: np.ndarray
    box: np.ndarray
    conf: np.ndarray
    cls: np.ndarray
    visibility: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.frame)
        cast = {
            "frame": np.int64,
            "id": np.int64,
            "box": np.float64,
            "conf": np.float64,
            "cls": np.int64,
            "visibility": np.float64,
        }
        for name, dtype in cast.items():
            value = np.ascontiguousarray(getattr(self, name), dtype=dtype)
            object.__setattr__(self, name, value)
        if self.box.shape != (n, 4):
            raise ValueError(f"box must have shape ({n}, 4), got {self.box.shape}")
        for name in ("id", "conf", "cls", "visibility"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},)")

    @classmethod
    def build(
        cls,
        frame,
        box,
        id=None,
        conf=None,
        cls_=None,
        visibility=None,
    ) -> BoxTable:
        """Make a table, filling missing columns with their "unknown" value."""
        frame = np.asarray(frame, dtype=np.int64).reshape(-1)
        n = len(frame)
        box = np.asarray(box, dtype=np.float64).reshape(n, 4)

        def column(values, fill):
            return np.full(n, fill) if values is None else np.asarray(values).reshape(n)

        return cls(
            frame=frame,
            id=column(id, -1),
            box=box,
            conf=column(conf, 1.0),
            cls=column(cls_, -1),
            visibility=column(visibility, -1.0),
        )

    @classmethod
    def empty(cls) -> BoxTable:
        return cls.build(np.zeros(0), np.zeros((0, 4)))

    def __len__(self) -> int:
        return len(self.frame)

    def select(self, mask) -> BoxTable:
        """Rows where ``mask`` (boolean array or index array) holds."""
        return BoxTable(
            frame=self.frame[mask],
            id=self.id[mask],
            box=self.box[mask],
            conf=self.conf[mask],
            cls=self.cls[mask],
            visibility=self.visibility[mask],
        )

    def sorted(self) -> BoxTable:
        """Rows ordered by (frame, id)."""
        return self.select(np.lexsort((self.id, self.frame)))

    @staticmethod
    def concat(tables: list[BoxTable]) -> BoxTable:
        if not tables:
            return BoxTable.empty()
        return BoxTable(
            **{
                name: np.concatenate([getattr(t, name) for t in tables])
                for name in ("frame", "id", "box", "conf", "cls", "visibility")
            }
        )

    def split_by_frame(self, num_frames: int) -> list[BoxTable]:
        """One table per frame 1..num_frames (rows outside that range are dropped)."""
        order = np.argsort(self.frame, kind="stable")
        frames = self.frame[order]
        bounds = np.searchsorted(frames, np.arange(1, num_frames + 2))
        return [self.select(order[bounds[f] : bounds[f + 1]]) for f in range(num_frames)]

    def equals(self, other: BoxTable) -> bool:
        """Exact equality of every column."""
        return all(
            np.array_equal(getattr(self, name), getattr(other, name))
            for name in ("frame", "id", "box", "conf", "cls", "visibility")
        )


FrameLoader = Callable[[int], np.ndarray]
"""Loads the image of a 1-based frame number as uint8 HxWxC RGB."""


@dataclass
class Sequence:
    """One video: metadata, lazily loaded frames, ground truth and optional public detections."""

    name: str
    num_frames: int
    width: int
    height: int
    fps: float
    gt: BoxTable
    load_frame: FrameLoader | None = None
    detections: BoxTable | None = None
    meta: dict = field(default_factory=dict)

    def frame(self, number: int) -> np.ndarray:
        """The image of 1-based frame ``number``."""
        if self.load_frame is None:
            raise ValueError(f"sequence {self.name!r} has no images")
        if not 1 <= number <= self.num_frames:
            raise IndexError(f"frame {number} outside 1..{self.num_frames} of {self.name!r}")
        return self.load_frame(number)


@dataclass(frozen=True)
class SingleObjectSample:
    """One object to follow (single-object protocols: HART's KITTI windows, KTH, Gan et al.).

    ``frames`` (T,) are 1-based frame numbers of ``sequence``, consecutive; ``boxes`` (T, 4) are
    the object's ground-truth ltwh boxes in them. A tracker is initialised with ``boxes[0]`` on
    ``frames[0]`` and scored on the rest.
    """

    sequence: Sequence
    object_id: int
    frames: np.ndarray
    boxes: np.ndarray
    source: tuple[str, int | None] | None = None
    """The annotation file and line the sample comes from, where known (error messages)."""

    @property
    def name(self) -> str:
        """Unique within a split: sequence, object and first frame, e.g. ``seq-1/7@12``."""
        return f"{self.sequence.name}/{self.object_id}@{int(self.frames[0])}"


@dataclass(frozen=True)
class Detections:
    """The detections of one frame: boxes (n, 4) ltwh and scores (n,)."""

    boxes: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class FrameInput:
    """What a multi-object tracker receives for one frame; only the inputs it declares are set."""

    number: int
    image: np.ndarray | None = None
    detections: Detections | None = None


@dataclass(frozen=True)
class TrackOutput:
    """Tracks reported for one frame: positive ids (n,), boxes (n, 4) ltwh, confidences (n,)."""

    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> TrackOutput:
        return cls(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))


def frame_inputs(
    sequence: Sequence, inputs: frozenset[str], detections: BoxTable | None = None
) -> Iterator[FrameInput]:
    """The per-frame inputs of ``sequence`` restricted to ``inputs`` ("image", "detections").

    ``detections`` overrides the sequence's public detections (e.g. an oracle detector's output).
    """
    dets = detections if detections is not None else sequence.detections
    if "detections" in inputs and dets is None:
        raise ValueError(f"sequence {sequence.name!r} has no detections for a detection tracker")
    per_frame = (
        dets.split_by_frame(sequence.num_frames)
        if "detections" in inputs and dets is not None
        else None
    )
    for number in range(1, sequence.num_frames + 1):
        yield FrameInput(
            number=number,
            image=sequence.frame(number) if "image" in inputs else None,
            detections=(
                Detections(per_frame[number - 1].box, per_frame[number - 1].conf)
                if per_frame is not None
                else None
            ),
        )


def outputs_to_table(outputs: list[TrackOutput]) -> BoxTable:
    """Stack per-frame outputs (frame i+1 for outputs[i]) into one result table."""
    frames = [np.full(len(o.ids), i + 1) for i, o in enumerate(outputs)]
    if not outputs:
        return BoxTable.empty()
    return BoxTable.build(
        frame=np.concatenate(frames),
        box=np.concatenate([np.asarray(o.boxes, float).reshape(-1, 4) for o in outputs]),
        id=np.concatenate([o.ids for o in outputs]),
        conf=np.concatenate([o.scores for o in outputs]),
    )
