"""The tracker contract (small, like got10k's ``init``/``update``).

Multi-object trackers declare the inputs they need (``"image"``, ``"detections"``); the runner
hands them nothing else. Learnable trackers (``Learnable``) add training and a checkpoint
(``harness.checkpoints``: state_dict + JSON card, loaded with ``torch.load(weights_only=True)``)
and say which weights they run (``provenance``): the runner stores it with each result and the
board names the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from harness.data import (
    BoxTable,
    FrameInput,
    Sequence,
    SingleObjectSample,
    TrackOutput,
    frame_inputs,
    outputs_to_table,
)

INPUT_KINDS = frozenset({"image", "detections"})


class MultiObjectTracker:
    """Base class of multi-object trackers: ``reset`` once per sequence, then ``step`` per frame."""

    kind: ClassVar[str] = "multi-object"
    inputs: ClassVar[frozenset[str]] = frozenset()
    online: ClassVar[bool] = True
    """False for trackers whose output exists only for a whole sequence (an offline method, a
    ground-truth replay): they implement ``track`` alone; ``reset``/``step`` stay unimplemented."""
    path_config: ClassVar[frozenset[str]] = frozenset()
    """Config keys that hold file paths; an experiment resolves them against its own folder."""

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        """Raise if a tracker of ``config`` cannot be built (e.g. its checkpoint is missing);
        cheap, called for every cell before any cell runs."""

    def reset(self, info: dict[str, Any]) -> None:
        """Start a new sequence; ``info`` has name, width, height, fps and num_frames."""
        raise NotImplementedError

    def step(self, frame: FrameInput) -> TrackOutput:
        """Consume one frame and return the tracks visible in it."""
        raise NotImplementedError

    def track(
        self, sequences: list[Sequence], detections: list[BoxTable | None] | None = None
    ) -> list[BoxTable]:
        """Track whole sequences; batched trackers override this and must return the same tracks.

        ``detections[i]`` replaces the public detections of ``sequences[i]`` when given.
        """
        detections = detections or [None] * len(sequences)
        results = []
        for sequence, dets in zip(sequences, detections):
            self.reset(sequence_info(sequence))
            outputs = [self.step(frame) for frame in frame_inputs(sequence, self.inputs, dets)]
            results.append(outputs_to_table(outputs))
        return results

    def provenance(self) -> dict[str, Any] | None:
        """JSON-able facts about the loaded model (checkpoint path, sha256 of its weights,
        training iterations, seed, device trained on ...), stored with every result of this
        tracker; None for a tracker without learned weights."""
        return None


class SingleObjectTracker:
    """Base class of single-object trackers: ``init`` on a sample's first frame with its
    ground-truth box, then ``update`` on each later frame (got10k's contract)."""

    kind: ClassVar[str] = "single-object"
    inputs: ClassVar[frozenset[str]] = frozenset({"image"})
    online: ClassVar[bool] = True
    """False for trackers whose output exists only for whole samples (the ground-truth test
    double): they implement ``track`` alone."""
    path_config: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        """As ``MultiObjectTracker.check_config``."""

    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        raise NotImplementedError

    def update(self, image: np.ndarray) -> np.ndarray:
        """Return the box (left, top, width, height) in ``image``."""
        raise NotImplementedError

    def track(self, samples: list[SingleObjectSample]) -> list[np.ndarray]:
        """Boxes (T, 4) per sample, the first being the given box; batched trackers override
        this and must return the boxes of the ``init``/``update`` loop."""
        results = []
        for sample in samples:
            images = sample_images(sample)
            self.init(images[0], sample.boxes[0])
            later = [self.update(image) for image in images[1:]]
            results.append(np.vstack([sample.boxes[:1], *later]).astype(np.float64))
        return results

    def provenance(self) -> dict[str, Any] | None:
        """As ``MultiObjectTracker.provenance``."""
        return None


@runtime_checkable
class Learnable(Protocol):
    """A tracker with trainable parameters and a checkpoint, built on the kit for learnable
    methods, so that no family writes checkpoint, resume or evaluation code of its own:

    - ``harness.checkpoints``: ``<path>.pt`` (state_dict, loaded weights-only) + ``<path>.json``
      (the card), atomic writes, the weights' sha256, ``Checkpoint.provenance``, and
      ``CheckpointedTracker``, the tracker side (seeded or checkpoint start, config check, save,
      load, provenance, ``from_checkpoint``) from a few family hooks;
    - ``harness.training``: the resumable loop. The family subclasses ``Recipe`` (its
      hyper-parameters, build model and optimizer, its seeded ``Stream``, the loss of one batch,
      optionally a validation) and registers it as the method's ``recipe``; ``train`` does the
      rest: curve, validation points, best-validated checkpoint, bit-identical resume, time
      slices, hardware segments, torch.compile and autocast;
    - ``harness.lifecycle``: ``trackbench train`` (the registered recipe trained) and
      ``trackbench card --evaluate`` (a checkpoint scored by its dataset's task kind, the metrics
      written into its card).
    """

    @classmethod
    def from_checkpoint(cls, path: Path, device: str = "cpu", **settings: Any) -> Any: ...

    def save(self, path: Path) -> None: ...

    def load(self, path: Path) -> None: ...

    def provenance(self) -> dict[str, Any]: ...


def sequence_info(sequence: Sequence) -> dict[str, Any]:
    """The ``info`` dict handed to ``MultiObjectTracker.reset``."""
    return {
        "name": sequence.name,
        "width": sequence.width,
        "height": sequence.height,
        "fps": sequence.fps,
        "num_frames": sequence.num_frames,
    }


def has_batched_track(tracker: SingleObjectTracker) -> bool:
    """Whether ``tracker``'s class has a batched ``track`` of its own."""
    return type(tracker).track is not SingleObjectTracker.track


def sample_images(sample: SingleObjectSample) -> list[np.ndarray]:
    """The images of a sample's frames, in order."""
    return [sample.sequence.frame(int(n)) for n in sample.frames]


def check_boxes(boxes: np.ndarray, names: list[str], owner: np.ndarray, step: np.ndarray) -> None:
    """Raise ValueError if a single-object tracker's boxes (N, 4), of samples ``names[owner]`` at
    steps ``step``, break the contract (NaN or infinite, width or height <= 0)."""
    for bad, problem in (
        (~np.isfinite(boxes).all(axis=1), "a NaN or infinite box"),
        ((boxes[:, 2:] <= 0).any(axis=1), "a box with width or height <= 0"),
    ):
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"sample {names[owner[row]]} step {step[row]}: tracker returned {problem}"
            )


def check_result(result: BoxTable, num_frames: int) -> None:
    """Raise ValueError if a tracker's result breaks the contract (frames, ids, NaN, sizes)."""
    if len(result) == 0:
        return
    if result.frame.min() < 1 or result.frame.max() > num_frames:
        raise ValueError(f"result has frames outside 1..{num_frames}")
    if not np.isfinite(result.box).all():
        bad = result.frame[~np.isfinite(result.box).all(axis=1)][0]
        raise ValueError(f"frame {bad}: tracker returned a NaN or infinite box")
    if result.id.min() < 1:
        raise ValueError("track ids must be positive ints")
    if (result.box[:, 2:] <= 0).any():
        bad = result.frame[(result.box[:, 2:] <= 0).any(axis=1)][0]
        raise ValueError(f"frame {bad}: tracker returned a box with width or height <= 0")
    pairs = result.frame * (int(result.id.max()) + 1) + result.id
    if len(np.unique(pairs)) != len(pairs):
        raise ValueError("a track id appears twice in one frame")
