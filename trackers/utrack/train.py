"""utrack's training on the kit (``harness.training``): ``UTrackRecipe`` and the streams of
frame pairs it draws from ground-truth clips (``harness.clips``).

One iteration is a batch of ``batch`` frame pairs, each two frames of one video at most
``frame_range`` apart (jde_json.py:432-464, 756-760), a still image and itself (``frame_range`` 0:
CrowdHuman, jde_json.py:748-754), or, with probability ``negatives``, frames of two videos or images
(eq. 7); with ``augment`` each frame is augmented as the code does, both frames of a positive pair
by one affine (``trackers.utrack.augment``), and a network with an ``input_size`` sees its frames
letterboxed to it. The crop tier embeds the pairs' ground-truth boxes and minimises the re-ID loss;
the detector tier also learns detection and OccE on the first frame of each pair and reads the
embeddings at both frames' ground-truth centres, the two losses combined by the learnt task weights
(trains/mot.py:56-121). Re-ID losses of a batch are summed and divided by the objects counted
(losses.py:687-690); Adam at 1e-4 with one x0.1 step (opts.py). The released code keeps its last
epoch's weights; the run records a validation loss on held-out pairs for the curve and ``best`` as
the kit does, and the cards say which was published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import Tensor

from harness.checkpoints import checkpoint_weights, load_tensors, read_card
from harness.clips import Clip, ClipStream
from harness.datasets import load_dataset
from harness.errors import ConfigError
from harness.provenance import file_sha256
from harness.training import Recipe, RunData, StepContext, numpy_rng, numpy_rng_state
from trackers.common.crops import appearance_crops
from trackers.utrack.augment import augment_view, letterbox
from trackers.utrack.config import (
    UTrackConfig,
    UTrackTraining,
    model_card,
    registry_network,
    training_config,
)
from trackers.utrack.detection_losses import detection_loss, gather
from trackers.utrack.losses import cycas_loss, negative_loss, supervised_loss, utrack_loss
from trackers.utrack.model import CropEmbedder, JointModel, build_network
from trackers.utrack.targets import detection_targets

OCCLUSION_HEADS = ("occlusion", "occlusion_offset")

VALIDATION_SEED = 2_022_000_003
"""Seed of the held-out pairs (the training stream's are SeedSequence children of the run's)."""


@dataclass(frozen=True)
class FramePair:
    """Two frames (H, W, 3) uint8 and their ground-truth boxes (n, 4) ltwh, their identities
    (the supervised reference only) and whether they come from two videos (a negative, eq. 7)."""

    first: np.ndarray
    first_boxes: np.ndarray
    second: np.ndarray
    second_boxes: np.ndarray
    negative: bool
    first_ids: np.ndarray | None = None
    second_ids: np.ndarray | None = None


def frame_pair(
    clip: Clip, index: int, other: Clip, other_index: int, negative: bool
) -> FramePair | None:
    """The pair of ``clip``'s frame ``index`` and ``other``'s frame ``other_index``; None when a
    frame has no box. A positive pair must come from one video."""
    if not negative and other.source != clip.source:
        raise ConfigError(
            f"a positive frame pair needs one video, got {clip.source} and {other.source}"
        )
    boxes = clip.boxes[index], other.boxes[other_index]
    if not len(boxes[0]) or not len(boxes[1]):
        return None
    ids = (clip.ids[index], other.ids[other_index]) if clip.ids and other.ids else (None, None)
    return FramePair(
        clip.images[index], boxes[0], other.images[other_index], boxes[1], negative, *ids
    )


class PairStream:
    """Batches of frame pairs (``harness.training.Stream``): each batch draws one clip of
    ``frame_range + 1`` frames from each of ``batch`` videos and pairs its first frame with one
    drawn 1..frame_range frames later (a one-frame clip, a still image: with itself), or with a
    frame of the next video's clip (a negative); then each pair as ``prepared`` makes it."""

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
        later = int(self.rng.integers(int(other is clip and len(clip.boxes) > 1), len(other.boxes)))
        pair = frame_pair(clip, 0, other, later, negative)
        return None if pair is None else self.prepared(pair)

    def prepared(self, pair: FramePair) -> FramePair | None:
        """``pair`` as the network trains on it: with ``augment``, each frame augmented
        (``augment_view``: the second frame of a positive pair by the first's affine, disturbed)
        and the boxes an augmentation drops left out with their identities (None when a frame
        keeps none); else letterboxed to the network's ``input_size`` when it has one."""
        size = self.config.input_size
        if not self.training.augment:
            if size is None:
                return pair
            (first, to_first), (second, to_second) = (
                letterbox(image, *size) for image in (pair.first, pair.second)
            )
            return replace(
                pair,
                first=first,
                first_boxes=to_first.forward(pair.first_boxes),
                second=second,
                second_boxes=to_second.forward(pair.second_boxes),
            )
        first, first_boxes, first_kept, affine = augment_view(
            pair.first, pair.first_boxes, size, self.rng
        )
        base = None if pair.negative else affine
        second, second_boxes, second_kept, _ = augment_view(
            pair.second, pair.second_boxes, size, self.rng, base
        )
        if not first_kept.any() or not second_kept.any():
            return None
        ids = (
            (None, None)
            if pair.first_ids is None or pair.second_ids is None
            else (pair.first_ids[first_kept], pair.second_ids[second_kept])
        )
        return FramePair(
            first,
            first_boxes[first_kept],
            second,
            second_boxes[second_kept],
            pair.negative,
            *ids,
        )

    def state_dict(self) -> dict[str, Any]:
        return {"rng": numpy_rng_state(self.rng), "clips": self.clips.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng = numpy_rng(state["rng"])
        self.clips.load_state_dict(state["clips"])


ARCHITECTURE = ("model", "crop", "channels", "head_channels", "backbone", "embedding")
"""The network fields the weights' shapes follow: a pre-trained checkpoint must agree on them."""


class UTrackRecipe(Recipe):
    """UTrack's part of a training run (``harness.training.Recipe``): the embedding of ``config``
    trained with its re-ID loss on ``config.dataset``'s training videos."""

    def __init__(self, config: UTrackConfig, training: UTrackTraining, data: RunData):
        if config.reid == "none" and config.model == "crops":
            raise ConfigError("utrack:no-reid has no re-ID model to train; it tracks without one")
        self.config, self.training = config, training
        self.adapter = load_dataset(config.dataset, data.dataset_root, **data.dataset_params)
        self.selection = ("loss" if config.model == "detector" else "reid_loss", "min")
        self.pretrained = self._pretrained()
        self.card = {
            **model_card(config),
            **({"pretrained": self.pretrained} if self.pretrained else {}),
            "training": training.to_card(),
            "data": {
                "dataset": config.dataset,
                "params": data.dataset_params,
                "stream": f"harness.clips.ClipStream of the {training.split} split, ground-truth"
                " boxes; pairs from default_rng(seed)",
                "validation": {"pairs": training.validation_pairs, "seed": VALIDATION_SEED},
            },
        }
        self.frames_per_iteration = 2 * training.batch
        self._validate = data.validation_frames is not None
        self.optimizer: torch.optim.Optimizer | None = None

    def _pretrained(self) -> dict[str, Any] | None:
        """The checkpoint ``pretrained_weights`` names, checked against the network: trained on
        the dataset its ``pretrained`` says, of the same architecture (``ARCHITECTURE``)."""
        path, dataset = self.training.pretrained_weights, self.config.pretrained
        if path is None and dataset is None:
            return None
        if path is None:
            raise ConfigError(
                f"this network starts from a model trained on {dataset}: give its checkpoint as"
                " --hparam pretrained_weights=CHECKPOINT"
            )
        if dataset is None:
            raise ConfigError(
                "--hparam pretrained_weights needs a network pre-trained on a dataset (config"
                " pretrained, e.g. outrack:OccE-pretrained)"
            )
        card = read_card(path, "utrack checkpoint")
        held = UTrackConfig.from_card(card["config"])
        differ = [f for f in ARCHITECTURE if getattr(held, f) != getattr(self.config, f)]
        if held.dataset != dataset or differ:
            raise ConfigError(
                f"checkpoint {path} ({held.variant} on {held.dataset}) cannot start a network"
                f" pre-trained on {dataset}" + (f" (fields differing: {differ})" if differ else "")
            )
        weights = checkpoint_weights(path, "utrack checkpoint")
        return {
            "checkpoint": str(path),
            "sha256": file_sha256(weights),
            "variant": held.variant,
            "dataset": held.dataset,
        }

    @classmethod
    def hyperparameters(cls, config: dict[str, Any]) -> dict[str, Any]:
        """``UTrackTraining``'s fields with the dataset's defaults for the method's tier; an
        ablation's ``occlusion_tau`` (Table 6) is its training tau."""
        tau = {"occlusion_tau": config["occlusion_tau"]} if config.get("occlusion_tau") else {}
        return training_config(
            config["dataset"], config.get("smoke", False), config.get("model", "crops"), **tau
        ).to_card()

    @classmethod
    def from_method(
        cls, config: dict[str, Any], training: dict[str, Any], data: RunData
    ) -> UTrackRecipe:
        network = registry_network(config)
        return cls(network, training_config(network.dataset, model=network.model, **training), data)

    def build_model(self) -> CropEmbedder | JointModel:
        """The network from the run's seed, its weights from ``pretrained_weights`` when given
        (the detector's alone: the task weights start afresh, as the code's ``load_model``
        leaves its loss module; heads the checkpoint lacks keep their initialisation)."""
        model = build_network(self.config)
        if self.pretrained is None:
            return model
        weights = load_tensors(checkpoint_weights(self.pretrained["checkpoint"]))
        if isinstance(model, CropEmbedder):
            model.load_state_dict(weights)
            return model
        prefix = "detector."
        detector = {k.removeprefix(prefix): v for k, v in weights.items() if k.startswith(prefix)}
        missing, unexpected = model.detector.load_state_dict(detector, strict=False)
        absent = [k for k in missing if not k.startswith("heads.occlusion")]
        if absent or unexpected:
            raise ConfigError(
                f"checkpoint {self.pretrained['checkpoint']} does not fit the network: missing"
                f" {absent[:3]}, unexpected {unexpected[:3]}"
            )
        return model

    def build_optimizer(self, model: CropEmbedder | JointModel) -> torch.optim.Adam:
        """Adam over the network, or over the OccE heads alone with ``train_part occlusion``
        (the rest frozen)."""
        if self.training.train_part == "occlusion":
            for name, parameter in model.named_parameters():
                parameter.requires_grad_(any(f"heads.{h}." in name for h in OCCLUSION_HEADS))
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(trainable, lr=self.training.lr)
        return self.optimizer

    def stream(self, seed: int) -> PairStream:
        clip_seed, pair_seed = np.random.SeedSequence(seed).spawn(2)
        return self._pairs(int(clip_seed.generate_state(1)[0]), int(pair_seed.generate_state(1)[0]))

    def _pairs(self, clip_seed: int, pair_seed: int) -> PairStream:
        t = self.training
        clips = ClipStream(
            self.adapter,
            t.split,
            t.frame_range + 1,
            None,
            clip_seed,
            videos=t.batch,
            ground_truth=True,
            identities=self.config.reid == "supervised",
        )
        return PairStream(clips, self.config, t, pair_seed)

    def loss(
        self, model: CropEmbedder | JointModel, batch: list[FramePair], step: StepContext
    ) -> dict[str, Tensor]:
        """The batch's loss and its terms; the rate of this iteration set first."""
        done = int(step.carry.get("iteration", torch.zeros(())).item())
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = self.training.learning_rate(done)
        step.carry["iteration"] = torch.tensor(done + 1)
        return self.batch_loss(model, batch, step.device)

    def batch_loss(
        self, model: CropEmbedder | JointModel, pairs: list[FramePair], device: torch.device
    ) -> dict[str, Tensor]:
        if isinstance(model, JointModel):
            return self._detector_loss(model, pairs, device)
        crop = self.config.crop
        crops = [appearance_crops(p.first, p.first_boxes, crop) for p in pairs] + [
            appearance_crops(p.second, p.second_boxes, crop) for p in pairs
        ]
        features = model(torch.from_numpy(np.concatenate(crops)).to(device))
        reid = self._reid_loss(features.split([len(c) for c in crops]), pairs)
        return {"total": reid, "reid": reid}

    def _detector_loss(
        self, model: JointModel, pairs: list[FramePair], device: torch.device
    ) -> dict[str, Tensor]:
        """Detection (and OccE) on each pair's first frame, re-ID on the embeddings at both
        frames' ground-truth centres, weighted by the learnt task weights; OccE's terms alone
        with ``train_part occlusion``."""
        images = np.stack([p.first for p in pairs] + [p.second for p in pairs])
        height, width = images.shape[1:3]
        boxes = [p.first_boxes for p in pairs] + [p.second_boxes for p in pairs]
        targets = [
            detection_targets(b, None, height, width, occlusion_tau=self.training.occlusion_tau)
            for b in boxes
        ]
        stacked = {
            key: torch.from_numpy(np.stack([t[key] for t in targets[: len(pairs)]])).to(device)
            for key in targets[0]
        }
        outputs = model(torch.from_numpy(images).to(device))
        first = {key: value[: len(pairs)] for key, value in outputs.items()}
        detection, terms = detection_loss(first, stacked)
        if self.training.train_part == "occlusion":
            occlusion = 0.5 * terms["occlusion"] + 0.5 * terms["occlusion_offset"]
            return {"total": occlusion, "objective": occlusion, **terms}
        if self.config.reid == "none":
            return {"total": detection, "objective": detection, "detection": detection, **terms}
        index = torch.from_numpy(np.stack([t["ind"] for t in targets])).to(device)
        masks = [torch.from_numpy(t["reg_mask"]).bool() for t in targets]
        features = gather(outputs["id"], index)
        reid = self._reid_loss([f[m] for f, m in zip(features, masks)], pairs)
        total = model.weights(detection, self.training.id_weight * reid)
        objective = detection + reid
        return {
            "total": total,
            "objective": objective,
            "detection": detection,
            "reid": reid,
            **terms,
        }

    def _reid_loss(self, features: Sequence[Tensor], pairs: list[FramePair]) -> Tensor:
        """Sum of the pairs' re-ID losses over the objects counted; ``features``: the
        embeddings of every pair's first frame, then of every pair's second frame."""
        total, objects = features[0].new_zeros(()), 0
        for index, pair in enumerate(pairs):
            first, second = features[index], features[len(pairs) + index]
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

    def validate(self, model: CropEmbedder | JointModel) -> dict[str, float] | None:
        """The losses on the held-out pairs: re-ID (the crop tier's selection), detection, and
        the detector tier's objective (their unweighted sum; the OccE terms when only the OccE
        heads train)."""
        if not self._validate:
            return None
        device = next(model.parameters()).device
        terms = [self.batch_loss(model, batch, device) for batch in self.validation_batches]
        names = {"reid": "reid_loss", "detection": "detection_loss", "objective": "loss"}
        return {
            label: float(np.mean([float(t[name]) for t in terms]))
            for name, label in names.items()
            if name in terms[0]
        }

    @cached_property
    def validation_batches(self) -> list[list[FramePair]]:
        stream = self._pairs(VALIDATION_SEED, VALIDATION_SEED + 1)
        count = max(1, self.training.validation_pairs // self.training.batch)
        return [stream.next_batch() for _ in range(count)]
