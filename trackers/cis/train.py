"""Cross-input consistency training on the kit (``harness.training``): ``CISRecipe`` and the
stream of examples it draws from self-supervised clips (``harness.clips``: detections and images,
no identities).

One iteration = one example (the code's batch of 1, train.py:208), its loss averaged over the
ensemble (model.py:160-169). Two-phase training (the code) is two runs: ``phase=visual``, then
``phase=spatial`` started from the first run's best checkpoint (``--init-from <run>/best``,
a fresh Adam as train.py:294-301); the joint and occlusion models train in one run. Adam's rate
is divided by 10 every ``lr_decay_every`` iterations of the run (train.py:290-292; the count is
carried with the training state). The checkpoint kept is the one of lowest validation loss on
held-out clips (train.py:278-280).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import Tensor

from harness.clips import Clip, ClipStream
from harness.datasets import load_dataset
from harness.errors import ConfigError
from harness.training import Recipe, RunData, StepContext, numpy_rng, numpy_rng_state
from trackers.cis.config import CISConfig, CISTraining, training_config
from trackers.cis.losses import LOSSES, Example, Features
from trackers.cis.matching import spatial_mask
from trackers.cis.model import CIS, spatial_features
from trackers.cis.tracker import CISTracker, model_card, usable_detections
from trackers.common.crops import appearance_crops

VALIDATION_SEED = 2_021_000_017
"""Seed of the held-out clips (the training stream's are SeedSequence children of the run's)."""
MAX_DRAWS = 1000
"""Clips drawn for one example at most before the recipe gives up (too few detections)."""


class ExampleStream:
    """Training examples from clips (``harness.training.Stream``): a skip and a gap L drawn per
    example (train.py:172, 211), frames ``skip`` apart, crops and spatial features, the spatial
    masks for every gap, crops of another video's frame as artificial candidates, and for the
    occlusion scheme each input's emptied frames and hand-off."""

    def __init__(self, clips: ClipStream, network: CISConfig, training: CISTraining, seed: int):
        self.clips, self.network, self.training = clips, network, training
        self.rng = np.random.default_rng(seed)

    def next_batch(self) -> Example:
        for _ in range(MAX_DRAWS):
            example = self._example(self.clips.next_batch())
            if example is not None:
                return example
        raise ConfigError(
            f"no clip in {MAX_DRAWS} had {self.training.min_detections} detections in every"
            " frame; lower min_detections"
        )

    def _example(self, clips: list[Clip]) -> Example | None:
        t = self.training
        skip = int(self.rng.choice(t.skips))
        length = int(self.rng.choice(t.match_lengths))
        clip, other = clips[0], clips[-1]
        width, height = clip.size
        raw = [usable_detections(b, width, height)[0] for b in clip.boxes]
        used = raw[: (t.seq_len - 1) * skip + 1 : skip]
        if min(len(b) for b in used) < t.min_detections:
            return None
        crop = self.network.crop
        crops = [appearance_crops(clip.images[i * skip], b, crop) for i, b in enumerate(used)]
        lengths = {*t.match_lengths, t.seq_len - 1}
        masks = {
            gap: spatial_mask(
                raw[: gap * skip + 1], gap * skip, t.mask_padding, t.mask_iou, t.mask_max_age
            )
            for gap in lengths
        }
        negatives = np.zeros((0, crop, crop, 3), np.uint8)
        if t.negatives:
            frame = int(self.rng.integers(len(other.boxes)))
            boxes, _ = usable_detections(other.boxes[frame], *other.size)
            negatives = appearance_crops(other.images[frame], boxes, crop)
        occlusions: tuple[tuple[int, int, int], ...] = ()
        if self.network.hiding == "occlusion":
            occlusions = tuple(self._hiding(length) for _ in range(2))
        return Example(
            crops=crops,
            spatial=[spatial_features(b, width, height) for b in used],
            masks={gap: masks[gap] for gap in lengths},
            negatives=negatives,
            match_length=length,
            occlusions=occlusions,
        )

    def _hiding(self, length: int) -> tuple[int, int, int]:
        """(first, end, hand-off): a hand-off frame h, 1 < h < L, and a run of intermediate
        frames [first, end) emptied on one side of it (§4.2; our reading)."""
        handoff = int(self.rng.integers(2, length)) if length > 2 else 1
        sides = [(1, handoff)] + ([(handoff + 1, length)] if handoff + 1 < length else [])
        low, high = sides[int(self.rng.integers(len(sides)))]
        first = int(self.rng.integers(low, high))
        end = int(self.rng.integers(first + 1, high + 1))
        return first, end, handoff

    def state_dict(self) -> dict[str, Any]:
        return {"rng": numpy_rng_state(self.rng), "clips": self.clips.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng = numpy_rng(state["rng"])
        self.clips.load_state_dict(state["clips"])


class CISRecipe(Recipe):
    """Cross-input consistency's part of a training run (``harness.training.Recipe``): the
    network ``config`` trained by ``training`` on ``config.dataset``'s training clips."""

    def __init__(self, config: CISConfig, training: CISTraining, data: RunData):
        self.config, self.training = config, training
        self.adapter = load_dataset(config.dataset, data.dataset_root, **data.dataset_params)
        self.kind = training.phase if config.training == "two-phase" else config.training
        if config.hiding == "occlusion":
            self.kind = "occlusion"
        self.selection = (f"{self.kind}_loss", "min")
        self.card = {
            **model_card(config),
            "training": training.to_card(),
            "data": {
                "dataset": config.dataset,
                "params": data.dataset_params,
                "stream": "harness.clips.ClipStream of the train split, oracle noise"
                f" {list(training.noise)}; examples from default_rng(seed)",
                "validation": {"clips": training.validation_clips, "seed": VALIDATION_SEED},
            },
        }
        self.frames_per_iteration = training.seq_len
        self._validate = data.validation_frames is not None
        self.optimizer: torch.optim.Optimizer | None = None

    @classmethod
    def hyperparameters(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The fields of ``CISTraining`` with the dataset's defaults."""
        return training_config(config["dataset"], config.get("smoke", False)).to_card()

    @classmethod
    def from_method(
        cls, config: dict[str, Any], training: dict[str, Any], data: RunData
    ) -> CISRecipe:
        network = CISTracker.network_of(config)
        return cls(network, training_config(network.dataset, **training), data)

    def build_model(self) -> CIS:
        return CIS(self.config)

    def build_optimizer(self, model: CIS) -> torch.optim.Adam:
        self.optimizer = torch.optim.Adam(model.parameters(), lr=self.training.lr)
        return self.optimizer

    def stream(self, seed: int) -> ExampleStream:
        clip_seed, example_seed = np.random.SeedSequence(seed).spawn(2)
        return self._examples(
            int(clip_seed.generate_state(1)[0]), int(example_seed.generate_state(1)[0])
        )

    def _examples(self, clip_seed: int, example_seed: int) -> ExampleStream:
        t = self.training
        clips = ClipStream(self.adapter, "train", t.window, t.oracle, clip_seed)
        return ExampleStream(clips, self.config, t, example_seed)

    def loss(self, model: CIS, batch: Example, step: StepContext) -> dict[str, Tensor]:
        """The example's loss averaged over the ensemble; the rate of this iteration set first."""
        done = int(step.carry.get("phase_iteration", torch.zeros(())).item())
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = self.training.learning_rate(done)
        step.carry["phase_iteration"] = torch.tensor(done + 1)
        return {"total": self.example_loss(model, batch, step.device)}

    def example_loss(self, model: CIS, example: Example, device: torch.device) -> Tensor:
        loss = LOSSES[self.kind]
        terms = [
            loss(member, Features.of(member, example, device), example, self.config)
            for member in model.members
        ]
        return torch.stack(terms).mean()

    def validate(self, model: CIS) -> dict[str, float] | None:
        """The mean loss on the held-out clips at the longest gap (train.py:252-273)."""
        if not self._validate:
            return None
        device = next(model.parameters()).device
        losses = [float(self.example_loss(model, e, device)) for e in self.validation_examples]
        return {f"{self.kind}_loss": float(np.mean(losses))}

    @cached_property
    def validation_examples(self) -> list[Example]:
        stream = self._examples(VALIDATION_SEED, VALIDATION_SEED + 1)
        longest = max(self.training.match_lengths)
        examples = [stream.next_batch() for _ in range(self.training.validation_clips)]
        return [Example(**{**e.__dict__, "match_length": longest}) for e in examples]
