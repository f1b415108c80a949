"""UTrack's re-ID training on the kit (``harness.training``): ``UTrackRecipe`` and the stream of
frame pairs it draws from ground-truth clips (``harness.clips``).

One iteration is a batch of ``batch`` frame pairs, each two frames of one video at most
``frame_range`` apart (jde_json.py:432-464, 756-760) embedded at their ground-truth boxes, or,
with probability ``negatives``, frames of two videos (eq. 7). The losses of a batch are summed
and divided by the objects counted (losses.py:687-690); Adam at 1e-4 with one x0.1 step
(opts.py). The released code keeps its last epoch's weights; the run records a validation loss on
held-out pairs for the curve and ``best`` as the kit does, and the cards say which was published.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import Tensor

from harness.clips import Clip, ClipStream
from harness.datasets import load_dataset
from harness.errors import ConfigError
from harness.training import Recipe, RunData, StepContext, numpy_rng, numpy_rng_state
from trackers.common.crops import appearance_crops
from trackers.utrack.config import UTrackConfig, UTrackTraining, training_config
from trackers.utrack.losses import cycas_loss, negative_loss, supervised_loss, utrack_loss
from trackers.utrack.model import CropEmbedder

VALIDATION_SEED = 2_022_000_003
"""Seed of the held-out pairs (the training stream's are SeedSequence children of the run's)."""


@dataclass(frozen=True)
class FramePair:
    """Crops (n, S, S, 3) of two frames' boxes, their identities (supervised reference only) and
    whether the frames come from two videos (a negative pair, eq. 7)."""

    first: np.ndarray
    second: np.ndarray
    negative: bool
    first_ids: np.ndarray | None = None
    second_ids: np.ndarray | None = None


def frame_pair(
    clip: Clip, index: int, other: Clip, other_index: int, crop: int, negative: bool
) -> FramePair | None:
    """The pair of ``clip``'s frame 0 and ``other``'s frame ``other_index``; None when a frame
    has no box. A positive pair must come from one video."""
    if not negative and other.source != clip.source:
        raise ConfigError(
            f"a positive frame pair needs one video, got {clip.source} and {other.source}"
        )
    boxes = clip.boxes[index], other.boxes[other_index]
    if not len(boxes[0]) or not len(boxes[1]):
        return None
    ids = (clip.ids[index], other.ids[other_index]) if clip.ids and other.ids else (None, None)
    return FramePair(
        first=appearance_crops(clip.images[index], boxes[0], crop),
        second=appearance_crops(other.images[other_index], boxes[1], crop),
        negative=negative,
        first_ids=ids[0],
        second_ids=ids[1],
    )


class PairStream:
    """Batches of frame pairs (``harness.training.Stream``): each batch draws one clip of
    ``frame_range + 1`` frames from each of ``batch`` videos and pairs its first frame with one
    drawn 1..frame_range frames later, or with a frame of the next video's clip (a negative)."""

    def __init__(
        self, clips: ClipStream, config: UTrackConfig, training: UTrackTraining, seed: int
    ):
        self.clips, self.config, self.training = clips, config, training
        self.rng = np.random.default_rng(seed)

    def next_batch(self) -> list[FramePair]:
        for _ in range(100):
            clips = self.clips.next_batch()
            pairs = [self._pair(clips, i) for i in range(len(clips))]
            kept = [p for p in pairs if p is not None]
            if kept:
                return kept
        raise ConfigError("no frame pair with boxes in both frames in 100 draws")

    def _pair(self, clips: list[Clip], index: int) -> FramePair | None:
        negative = len(clips) > 1 and self.rng.random() < self.config.negatives
        clip = clips[index]
        other = clips[(index + 1) % len(clips)] if negative else clip
        later = int(self.rng.integers(1 if other is clip else 0, len(other.boxes)))
        return frame_pair(clip, 0, other, later, self.config.crop, negative)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": numpy_rng_state(self.rng), "clips": self.clips.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng = numpy_rng(state["rng"])
        self.clips.load_state_dict(state["clips"])


class UTrackRecipe(Recipe):
    """UTrack's part of a training run (``harness.training.Recipe``): the embedding of ``config``
    trained with its re-ID loss on ``config.dataset``'s training videos."""

    def __init__(self, config: UTrackConfig, training: UTrackTraining, data: RunData):
        if config.reid == "none":
            raise ConfigError("utrack:no-reid has no re-ID model to train; it tracks without one")
        self.config, self.training = config, training
        self.adapter = load_dataset(config.dataset, data.dataset_root, **data.dataset_params)
        self.selection = ("reid_loss", "min")
        self.card = {
            "method": "utrack",
            "variant": config.variant,
            "config": config.to_card(),
            "training": training.to_card(),
            "data": {
                "dataset": config.dataset,
                "params": data.dataset_params,
                "stream": "harness.clips.ClipStream of the train split, ground-truth boxes;"
                " pairs from default_rng(seed)",
                "validation": {"pairs": training.validation_pairs, "seed": VALIDATION_SEED},
            },
        }
        self.frames_per_iteration = 2 * training.batch
        self._validate = data.validation_frames is not None
        self.optimizer: torch.optim.Optimizer | None = None

    @classmethod
    def hyperparameters(cls, config: dict[str, Any]) -> dict[str, Any]:
        return training_config(config["dataset"], config.get("smoke", False)).to_card()

    @classmethod
    def from_method(
        cls, config: dict[str, Any], training: dict[str, Any], data: RunData
    ) -> UTrackRecipe:
        from trackers.utrack.tracker import UTrackTracker

        network = UTrackTracker.network_of(config)
        return cls(network, training_config(network.dataset, **training), data)

    def build_model(self) -> CropEmbedder:
        return CropEmbedder(self.config)

    def build_optimizer(self, model: CropEmbedder) -> torch.optim.Adam:
        self.optimizer = torch.optim.Adam(model.parameters(), lr=self.training.lr)
        return self.optimizer

    def stream(self, seed: int) -> PairStream:
        clip_seed, pair_seed = np.random.SeedSequence(seed).spawn(2)
        return self._pairs(int(clip_seed.generate_state(1)[0]), int(pair_seed.generate_state(1)[0]))

    def _pairs(self, clip_seed: int, pair_seed: int) -> PairStream:
        t = self.training
        clips = ClipStream(
            self.adapter,
            "train",
            t.frame_range + 1,
            None,
            clip_seed,
            videos=t.batch,
            ground_truth=True,
            identities=self.config.reid == "supervised",
        )
        return PairStream(clips, self.config, t, pair_seed)

    def loss(self, model: CropEmbedder, batch: list[FramePair], step: StepContext) -> dict:
        """The batch's loss; the rate of this iteration set first."""
        done = int(step.carry.get("iteration", torch.zeros(())).item())
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = self.training.learning_rate(done)
        step.carry["iteration"] = torch.tensor(done + 1)
        return {"total": self.batch_loss(model, batch, step.device)}

    def batch_loss(
        self, model: CropEmbedder, pairs: list[FramePair], device: torch.device
    ) -> Tensor:
        """Sum of the pairs' losses over the objects counted."""
        crops = np.concatenate([c for p in pairs for c in (p.first, p.second)])
        features = model(torch.from_numpy(crops).to(device))
        total, objects, start = features.new_zeros(()), 0, 0
        for pair in pairs:
            n, m = len(pair.first), len(pair.second)
            first, second = features[start : start + n], features[start + n : start + n + m]
            start += n + m
            loss, count = self._pair_loss(first, second, pair)
            total, objects = total + loss, objects + count
        return total / max(objects, 1)

    def _pair_loss(self, first: Tensor, second: Tensor, pair: FramePair) -> tuple[Tensor, int]:
        c = self.config
        if c.reid == "cycas":
            return cycas_loss(first, second, c.margin, c.epsilon)
        if c.reid == "supervised":
            assert pair.first_ids is not None and pair.second_ids is not None
            ids = torch.from_numpy(pair.first_ids), torch.from_numpy(pair.second_ids)
            return supervised_loss(first, second, *ids, c)
        if pair.negative:
            return negative_loss(first, second, c)
        return utrack_loss(first, second, c)

    def validate(self, model: CropEmbedder) -> dict[str, float] | None:
        """The loss on the held-out pairs."""
        if not self._validate:
            return None
        device = next(model.parameters()).device
        losses = [float(self.batch_loss(model, batch, device)) for batch in self.validation_batches]
        return {"reid_loss": float(np.mean(losses))}

    @cached_property
    def validation_batches(self) -> list[list[FramePair]]:
        stream = self._pairs(VALIDATION_SEED, VALIDATION_SEED + 1)
        count = max(1, self.training.validation_pairs // self.training.batch)
        return [stream.next_batch() for _ in range(count)]
