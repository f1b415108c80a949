"""HART, its ablations and RATM as harness single-object trackers.

``init(image, box)`` starts the state from the given box and runs the first frame (eq. 5 from
the box's glimpse); ``update(image)`` runs one ``step``. The batched ``track`` runs ``forward``
over samples of one length and image size at once and gives the same boxes. Frames are taken at
their own resolution (attention lives in image units; the released code resized KITTI frames to
187×621 first, which training does here too). A predicted box's corners are put in order and
each side is at least one pixel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from harness.checkpoints import (
    CheckpointedTracker,
)
from harness.data import SingleObjectSample
from harness.errors import ConfigError
from harness.protocol import SingleObjectTracker, sample_images
from trackers.hart.attention import ltwh_to_unit, unit_to_ltwh
from trackers.hart.config import PAPER_VS_CODE, HartConfig, network
from trackers.hart.model import Hart, load_alexnet_weights

LABEL = "HART checkpoint"
BATCH = 50
"""Samples per ``forward`` of the batched ``track``."""


def model_card(config: HartConfig, setup: str, dataset: str) -> dict[str, Any]:
    """The head of every card of these trackers: method, variant, configuration and the
    ``PAPER_VS_CODE`` notes."""
    method = "ratm" if config.variant == "RATM" else "hart"
    return {
        "method": method,
        "variant": f"{config.variant}/{setup}",
        "config": {"setup": setup, "dataset": dataset, "model": config.to_card()},
        "paper_vs_code": list(PAPER_VS_CODE),
    }


def frames_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(..., H, W, C) uint8 images as (..., C, H, W) uint8 on ``device`` (the glimpse converts
    only the part it reads)."""
    return torch.from_numpy(np.require(images, requirements=["C", "W"])).to(device).movedim(-1, -3)


def predicted_ltwh(boxes: torch.Tensor, height: int, width: int) -> np.ndarray:
    """1-based ltwh float64 boxes of (…, 4) image-unit boxes, corners in order, sides ≥ 1 px."""
    ltwh = unit_to_ltwh(boxes.double(), height, width)
    left = torch.minimum(ltwh[..., 0], ltwh[..., 0] + ltwh[..., 2])
    top = torch.minimum(ltwh[..., 1], ltwh[..., 1] + ltwh[..., 3])
    sides = ltwh[..., 2:].abs().clamp_min(1)
    return torch.cat([left[..., None], top[..., None], sides], -1).cpu().numpy()


class HartTracker(CheckpointedTracker, SingleObjectTracker):
    """HART, App Att, Spatial Att or RATM (``variant``) of ``setup`` (mnist, kth, kitti).

    ``dataset``: what it is (or was) trained on; ``checkpoint`` None runs an untrained model
    initialised from ``seed`` (smoke tests only; ``backbone_weights`` then loads a torchvision
    AlexNet ``state_dict`` into its V1), otherwise its weights, whose card must describe the same
    network; ``batch``: the most samples ``track`` runs in one ``forward``.
    """

    path_config = frozenset({"checkpoint", "backbone_weights"})
    checkpoint_label = LABEL

    def __init__(
        self,
        setup: str = "mnist",
        variant: str = "HART",
        dataset: str = "mnist-multi-same",
        smoke: bool = False,
        checkpoint: str | None = None,
        backbone_weights: str | None = None,
        seed: int = 0,
        device: str = "cpu",
        batch: int = BATCH,
    ):
        config = network(setup, variant, smoke)
        if batch < 1:
            raise ConfigError(f"batch must be at least 1, not {batch}")
        self.setup, self.dataset, self.batch = setup, dataset, batch
        self.device = torch.device(device)

        def build(wanted: HartConfig) -> Hart:
            model = Hart(wanted)
            if backbone_weights is not None:
                load_alexnet_weights(model, backbone_weights)
            return model

        self.start_model(config, build, checkpoint, seed)
        self.state = None
        self.size: tuple[int, int] | None = None

    @classmethod
    def from_model(cls, model: Hart, card: dict[str, Any], batch: int = BATCH) -> HartTracker:
        tracker = cls.__new__(cls)
        tracker.setup, tracker.dataset = card["config"]["setup"], card["config"]["dataset"]
        tracker.batch, tracker.device = batch, next(model.parameters()).device
        tracker.checkpoint, tracker.model, tracker.state, tracker.size = None, model, None, None
        return tracker

    @property
    def config(self) -> HartConfig:
        return self.model.config

    # -- checkpoints (harness.protocol.Learnable, harness.checkpoints.CheckpointedTracker) -----

    @classmethod
    def build_network(cls, config: HartConfig) -> Hart:
        return Hart(config)

    @classmethod
    def network_of(cls, config: dict[str, Any]) -> HartConfig:
        return network(config["setup"], config["variant"], config["smoke"])

    @classmethod
    def network_on_card(cls, card: dict[str, Any]) -> HartConfig:
        return HartConfig.from_card(card["config"]["model"])

    def model_card(self) -> dict[str, Any]:
        return model_card(self.config, self.setup, self.dataset)

    def untrained_variant(self) -> tuple[str, str]:
        return f"{self.config.variant}/{self.setup}", self.dataset

    # -- tracking ------------------------------------------------------------------------------

    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        self.size = image.shape[:2]
        first = ltwh_to_unit(torch.as_tensor(np.asarray(box, np.float32))[None], *self.size)
        with torch.inference_mode():
            self.state = self.model.initial_state(first.to(self.device))
            _, self.state = self.model.step(self._frame(image), self.state)

    def update(self, image: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            step, self.state = self.model.step(self._frame(image), self.state)
        return predicted_ltwh(step.box[0], *self.size)

    def track(self, samples: list[SingleObjectSample]) -> list[np.ndarray]:
        """The ``init``/``update`` boxes of every sample; samples of one length and image size
        run by ``forward`` in batches of at most ``batch``."""
        results: list[np.ndarray | None] = [None] * len(samples)
        groups: dict[tuple, list[int]] = {}
        for index, sample in enumerate(samples):
            key = (len(sample.frames), sample.sequence.height, sample.sequence.width)
            groups.setdefault(key, []).append(index)
        for (_, height, width), indices in groups.items():
            for start in range(0, len(indices), self.batch):
                chunk = indices[start : start + self.batch]
                images = np.stack([np.stack(sample_images(samples[i])) for i in chunk])
                given = np.stack([samples[i].boxes[0] for i in chunk]).astype(np.float32)
                first = ltwh_to_unit(torch.from_numpy(given), height, width).to(self.device)
                with torch.inference_mode():
                    outputs = self.model(frames_tensor(images, self.device), first)
                boxes = predicted_ltwh(outputs.boxes[:, 1:], height, width)
                for row, i in enumerate(chunk):
                    results[i] = np.vstack([samples[i].boxes[:1], boxes[row]]).astype(np.float64)
        return results

    def _frame(self, image: np.ndarray) -> torch.Tensor:
        if image.ndim == 2:
            image = image[..., None]
        if image.shape[:2] != self.size:
            raise ConfigError(f"frame of shape {image.shape} after a first frame of {self.size}")
        return frames_tensor(image[None], self.device)
