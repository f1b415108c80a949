"""The Gan et al. (2015) neural trackers as harness single-object trackers.

``init(image, box)`` starts the model's state from the given box and, as the released code does,
runs the first frame too (its predicted box is dropped: the harness reports the given one);
``update(image)`` runs one ``step``. The batched ``track`` runs ``forward`` over samples of equal
length at once and gives the ``init``/``update`` boxes. A predicted box's corners are put in
order before conversion (an untrained or poorly trained head may swap them), so every reported
box is at least one pixel wide and high.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from harness.checkpoints import (
    CheckpointedTracker,
)
from harness.data import SingleObjectSample
from harness.errors import ConfigError
from harness.protocol import SingleObjectTracker, sample_images
from trackers.gan.config import PAPER_VS_CODE, GanConfig
from trackers.gan.models import build_model, corners_to_ltwh, ltwh_to_corners

LABEL = "Gan et al. tracker checkpoint"
"""How errors name a checkpoint of these trackers."""
VARIANTS = ("paper", "code")
BATCH = 50
"""Samples per ``forward`` of the batched ``track``; it bounds the memory a batch of long samples
takes."""
SMOKE = {"conv_filters": 2, "hidden": 8, "zero_tail": False}
"""The tiny model of smoke tests; its box head starts random so that its boxes depend on the
seed and the weights."""


def method_config(model: str, variant: str = "code", smoke: bool = False) -> GanConfig:
    """The network of registry keys ``model``, ``variant`` (every choice of the released code,
    ``GanConfig.code_choices``, or the paper's text) and ``smoke``."""
    if variant not in VARIANTS:
        raise ConfigError(f"variant must be one of {list(VARIANTS)}, not {variant!r}")
    config = GanConfig(model=model)
    if variant == "code":
        config = config.code_choices()
    return config.replace(**SMOKE) if smoke else config


def model_card(config: GanConfig, dataset: str, variant: str) -> dict[str, Any]:
    """The head of every checkpoint card of these trackers: method, variant, configuration."""
    return {
        "method": config.model.lower(),
        "variant": f"{config.model}/{variant}",
        "config": {"dataset": dataset, "variant": variant, "model": config.to_card()},
        "paper_vs_code": list(PAPER_VS_CODE),
    }


def frames_to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(..., K, K, 1) uint8 frames as (..., 1, K, K) floats in [0, 1]."""
    frames = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return frames.movedim(-1, -3).float() / 255


def predicted_ltwh(corners: torch.Tensor, frame_size: int) -> np.ndarray:
    """1-based ltwh float64 boxes of predicted corners (..., 4), each corner pair in order."""
    y, x = corners[..., 0::2].sort(-1).values, corners[..., 1::2].sort(-1).values
    ordered = torch.stack([y[..., 0], x[..., 0], y[..., 1], x[..., 1]], -1)
    return corners_to_ltwh(ordered.double(), frame_size).cpu().numpy()


class GanTracker(CheckpointedTracker, SingleObjectTracker):
    """ConvTracker, RecTracker-ID or RecTracker-Att-N (``model``) with the registry's keys.

    ``dataset``: what it is (or was) trained on; ``variant``: "code" or "paper"
    (``method_config``); ``checkpoint`` None runs an untrained model initialised from ``seed``
    (smoke tests only), otherwise its weights, whose card must describe the same network;
    ``batch``: the most samples ``track`` runs in one ``forward``.
    """

    path_config = frozenset({"checkpoint"})
    checkpoint_label = LABEL

    def __init__(
        self,
        model: str = "RecTracker-ID",
        dataset: str = "mnist-single-same",
        variant: str = "code",
        smoke: bool = False,
        checkpoint: str | None = None,
        seed: int = 0,
        device: str = "cpu",
        batch: int = BATCH,
    ):
        config = method_config(model, variant, smoke)
        if batch < 1:
            raise ConfigError(f"batch must be at least 1, not {batch}")
        self.dataset, self.variant, self.seed, self.batch = dataset, variant, seed, batch
        self.device = torch.device(device)
        self.start_model(config, build_model, checkpoint, seed)
        self.state = None

    @classmethod
    def from_model(cls, model: nn.Module, card: dict[str, Any], batch: int = BATCH) -> GanTracker:
        tracker = cls.__new__(cls)
        tracker.dataset, tracker.variant = card["config"]["dataset"], card["config"]["variant"]
        tracker.seed, tracker.batch = 0, batch
        tracker.device = next(model.parameters()).device
        tracker.checkpoint, tracker.model, tracker.state = None, model, None
        return tracker

    @property
    def config(self) -> GanConfig:
        return self.model.config

    # -- checkpoints (harness.protocol.Learnable, harness.checkpoints.CheckpointedTracker) -----

    @classmethod
    def build_network(cls, config: GanConfig) -> nn.Module:
        return build_model(config)

    @classmethod
    def network_of(cls, config: dict[str, Any]) -> GanConfig:
        return method_config(config["model"], config["variant"], config["smoke"])

    @classmethod
    def network_on_card(cls, card: dict[str, Any]) -> GanConfig:
        return GanConfig.from_card(card["config"]["model"])

    def model_card(self) -> dict[str, Any]:
        return model_card(self.config, self.dataset, self.variant)

    def untrained_variant(self) -> tuple[str, str]:
        return f"{self.config.model}/{self.variant}", self.dataset

    # -- tracking ------------------------------------------------------------------------------

    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        first_box = ltwh_to_corners(np.asarray(box, np.float32)[None], self.config.frame_size)
        with torch.inference_mode():
            self.state = self.model.initial_state(first_box.to(self.device))
            _, self.state = self.model.step(self._frame(image), self.state)

    def update(self, image: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            corners, self.state = self.model.step(self._frame(image), self.state)
        return predicted_ltwh(corners[0], self.config.frame_size)

    def track(self, samples: list[SingleObjectSample]) -> list[np.ndarray]:
        """The ``init``/``update`` boxes of every sample, samples of one length run by ``forward``
        in batches of at most ``batch``."""
        results: list[np.ndarray | None] = [None] * len(samples)
        by_length: dict[int, list[int]] = {}
        for index, sample in enumerate(samples):
            by_length.setdefault(len(sample.frames), []).append(index)
        size = self.config.frame_size
        groups = [
            indices[start : start + self.batch]
            for indices in by_length.values()
            for start in range(0, len(indices), self.batch)
        ]
        for indices in groups:
            images = np.stack([np.stack(sample_images(samples[i])) for i in indices])
            given = np.stack([samples[i].boxes[0] for i in indices]).astype(np.float32)
            with torch.inference_mode():
                corners = self.model(
                    frames_to_tensor(images, self.device),
                    ltwh_to_corners(given, size).to(self.device),
                )
            boxes = predicted_ltwh(corners[:, 1:], size)
            for row, i in enumerate(indices):
                results[i] = np.vstack([samples[i].boxes[:1], boxes[row]]).astype(np.float64)
        return results

    def _frame(self, image: np.ndarray) -> torch.Tensor:
        """One (K, K, 1) or (K, K) uint8 image as a (1, 1, K, K) batch."""
        size = self.config.frame_size
        if image.shape[:2] != (size, size):
            raise ConfigError(f"{self.config.model} takes {size}x{size} frames, not {image.shape}")
        return frames_to_tensor(image.reshape(1, size, size, 1), self.device)
