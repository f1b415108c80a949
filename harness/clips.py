"""Self-supervised training clips: consecutive frames with their detections and no identities.

A ``Clip`` has images, boxes and scores and no identities unless the stream is built with
``identities=True`` (a supervised reference): a track id cannot reach a method trained on
unlabelled clips, by construction. ``ClipStream`` draws them, seeded and resumable (a
``harness.training.Stream`` whose batch is ``videos`` clips of different videos, so a method can
draw negatives from another video), from an adapter's training data:

- the ``train`` split of a generated dataset (``generator``, e.g. Sprites-MOT): ``videos``
  endless videos of its training generator, each batch their next ``length`` frames;
- any other adapter: random windows of random sequences of ``split`` (different ones while there
  are enough).

Boxes are the oracle detector's on the clip's ground truth (``noise``), the ground truth itself
(``ground_truth=True``: rows with conf != 0, score 1) or, for real data with ``noise`` None, the
sequence's public detections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.data import BoxTable, Sequence
from harness.datasets.base import DatasetAdapter
from harness.detectors import OracleNoise, oracle_detections
from harness.errors import ConfigError
from harness.training import numpy_rng, numpy_rng_state

GENERATOR_STATE = ("counter", "steps", "attrs", "births")


@dataclass(frozen=True)
class Clip:
    """``images`` (T, H, W, C) uint8 of T consecutive frames; ``boxes[t]`` (n_t, 4) ltwh and
    ``scores[t]`` (n_t,) the detections of frame t; ``source`` names the video and first frame;
    ``ids[t]`` (n_t,) the identities of ground-truth boxes, only in a stream of ``identities``."""

    images: np.ndarray
    boxes: list[np.ndarray]
    scores: list[np.ndarray]
    source: str
    ids: list[np.ndarray] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames."""
        return self.images.shape[2], self.images.shape[1]


class ClipStream:
    """Clips of ``length`` frames from ``adapter``'s ``split`` (``harness.training.Stream``)."""

    def __init__(
        self,
        adapter: DatasetAdapter,
        split: str,
        length: int,
        noise: OracleNoise | None,
        seed: int,
        videos: int = 2,
        ground_truth: bool = False,
        identities: bool = False,
    ):
        if length < 1 or videos < 1:
            raise ConfigError(f"clips need length and videos >= 1, got {length}, {videos}")
        if identities and not ground_truth:
            raise ConfigError("clips carry identities only with ground-truth boxes")
        self.adapter, self.length, self.noise = adapter, length, noise
        self.ground_truth, self.identities = ground_truth, identities
        self.rng = np.random.default_rng(seed)
        self.generator = getattr(adapter, "generator", None) if split == "train" else None
        self.videos = videos
        if self.generator is not None:
            self.state = self.generator.new_state(videos)
        else:
            every = adapter.sequences(split)
            self.sequences = [s for s in every if s.num_frames >= length]
            if not self.sequences:
                longest = max(every, key=lambda s: s.num_frames, default=None)
                has = f" (the longest, {longest.name}, has {longest.num_frames})" if longest else ""
                raise ConfigError(
                    f"{adapter.card['name']} {split}: no sequence has the {length} frames a clip"
                    f" needs{has}"
                )
            imageless = [s.name for s in self.sequences if s.load_frame is None]
            if imageless:
                raise ConfigError(
                    f"{adapter.card['name']} {split}: sequence {imageless[0]} has no images, and"
                    " clips need them"
                )
            if ground_truth and any(len(s.gt) == 0 for s in self.sequences):
                raise ConfigError(f"{adapter.card['name']} {split} has no ground truth")
            if (
                noise is None
                and not ground_truth
                and any(s.detections is None for s in self.sequences)
            ):
                raise ConfigError(
                    f"{adapter.card['name']} {split} has no public detections; give oracle noise"
                )

    def next_batch(self) -> list[Clip]:
        """One clip of each of ``videos`` different videos."""
        if self.generator is not None:
            chunk = self.generator.advance(self.state, self.rng, self.length)
            return [self._generated(chunk, video) for video in range(self.videos)]
        count = len(self.sequences)
        picked = self.rng.choice(count, self.videos, replace=self.videos > count)
        clips = []
        for index in picked:
            sequence = self.sequences[index]
            first = int(self.rng.integers(1, sequence.num_frames - self.length + 2))
            clips.append(self._clip(sequence, first))
        return clips

    def _generated(self, chunk: Any, video: int) -> Clip:
        gt = chunk.gt(video)
        start = self.state.frames_done - self.length
        gt = BoxTable.build(
            frame=gt.frame - start,
            box=gt.box,
            id=gt.id,
            visibility=gt.visibility,
        )
        frames = chunk.frames[video]
        sequence = Sequence(
            name=f"{self.adapter.card['name']}-train-{video}",
            num_frames=self.length,
            width=frames.shape[2],
            height=frames.shape[1],
            fps=float(self.adapter.params.get("fps", 30)),
            gt=gt,
            load_frame=lambda n: frames[n - 1],
        )
        return self._clip(sequence, 1, first_name=start + 1)

    def _clip(self, sequence: Sequence, first: int, first_name: int | None = None) -> Clip:
        frames = range(first, first + self.length)
        if self.ground_truth:
            detections = sequence.gt.select(sequence.gt.conf != 0)
        elif self.noise is not None:
            seed = int(self.rng.integers(2**31))
            detections = oracle_detections(sequence, self.noise, seed)
        else:
            assert sequence.detections is not None
            detections = sequence.detections
        per_frame = detections.split_by_frame(sequence.num_frames)
        return Clip(
            images=np.stack([sequence.frame(n) for n in frames]),
            boxes=[per_frame[n - 1].box for n in frames],
            scores=[
                np.ones(len(per_frame[n - 1])) if self.ground_truth else per_frame[n - 1].conf
                for n in frames
            ],
            source=f"{sequence.name}@{first_name or first}",
            ids=[per_frame[n - 1].id for n in frames] if self.identities else None,
        )

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"rng": numpy_rng_state(self.rng)}
        if self.generator is not None:
            state |= {name: torch.from_numpy(getattr(self.state, name)) for name in GENERATOR_STATE}
            state["frames_done"] = self.state.frames_done
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng = numpy_rng(state["rng"])
        if self.generator is not None:
            for name in GENERATOR_STATE:
                setattr(self.state, name, state[name].numpy().copy())
            self.state.frames_done = int(state["frames_done"])
