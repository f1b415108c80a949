"""UTrack as a harness multi-object tracker: the crop embedder of a checkpoint reads each given
box's embedding (OUTrack's ``provide_track`` mode: external boxes, embeddings at them,
occ_tracker.py:748-783) and ``trackers.utrack.association`` associates. ``no-reid`` tracks by
motion and IoU alone (FairMOT w/o, Table 1). OccE needs a detector with occlusion heads: a crop
embedder has none, so an OccE setting is refused before any cell runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from harness.checkpoints import CheckpointedTracker, read_card
from harness.data import FrameInput, TrackOutput
from harness.errors import ConfigError
from harness.protocol import MultiObjectTracker
from trackers.common.crops import appearance_crops
from trackers.utrack.association import Association
from trackers.utrack.config import Inference, UTrackConfig, inference_config, network_config
from trackers.utrack.model import CropEmbedder

LABEL = "utrack checkpoint"
NETWORK_KEYS = ("reid", "terms", "placeholder", "temperature", "negatives", "intra")
"""Registry config keys that say which trained model a setting needs."""


def model_card(config: UTrackConfig) -> dict[str, Any]:
    """The head of every utrack card: method, variant and the network configuration."""
    return {"method": "utrack", "variant": config.variant, "config": config.to_card()}


class UTrackTracker(CheckpointedTracker, MultiObjectTracker):
    """UTrack (Liu et al. 2022) with the registry's config keys: ``dataset`` picks the network
    and tracker defaults (``trackers.utrack.config``); ``reid``, ``terms``, ``placeholder``,
    ``temperature``, ``negatives`` and ``intra`` say which trained model (the checkpoint's card
    must agree); ``occe`` asks for occlusion re-finding (a detector with OccE heads);
    ``inference`` overrides tracker settings (``Inference``). ``checkpoint`` None runs an
    untrained model initialised from ``seed`` (smoke tests only)."""

    inputs = frozenset({"image", "detections"})
    path_config = frozenset({"checkpoint"})
    checkpoint_label = LABEL

    def __init__(
        self,
        dataset: str = "sprites-mot",
        reid: str = "utrack",
        terms: tuple[str, ...] | list[str] = ("intra", "inter", "cycle"),
        placeholder: str = "mean",
        temperature: float | None = None,
        negatives: float = 0.0,
        intra: str = "code",
        occe: bool = False,
        inference: dict[str, Any] | None = None,
        smoke: bool = False,
        checkpoint: str | None = None,
        seed: int = 0,
        device: str = "cpu",
    ):
        self.check_occe({"occe": occe, "checkpoint": checkpoint})
        wanted = network_config(
            dataset,
            smoke,
            reid=reid,
            terms=tuple(terms),
            placeholder=placeholder,
            temperature=temperature,
            negatives=negatives,
            intra=intra,
        )
        self.device = torch.device(device)
        if wanted.reid == "none":
            self.model, self.checkpoint = None, None
        else:
            self.start_model(wanted, CropEmbedder, checkpoint, seed)
        self._settings(dataset, inference or {}, wanted.reid != "none")

    def _settings(self, dataset: str, overrides: dict[str, Any], embeddings: bool) -> None:
        self.inference: Inference = inference_config(
            dataset, **{"embeddings": embeddings, **overrides}
        )
        self.reset({})

    @classmethod
    def from_model(
        cls, model: CropEmbedder, card: dict[str, Any], **settings: Any
    ) -> UTrackTracker:
        tracker = cls.__new__(cls)
        tracker.device = next(model.parameters()).device
        tracker.model, tracker.checkpoint = model, None
        tracker._settings(card["config"]["dataset"], settings.get("inference") or {}, True)
        return tracker

    @classmethod
    def check_occe(cls, config: dict[str, Any]) -> None:
        if config.get("occe"):
            raise ConfigError(
                "utrack OccE needs a detector with occlusion heads; the crop embedder"
                f" ({config.get('checkpoint') or 'untrained'}) has none"
            )

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        cls.check_occe(config)
        if cls.network_of(config).reid == "none":
            return
        super().check_config(config)
        if config.get("checkpoint") is not None:
            read_card(config["checkpoint"], LABEL)

    # -- checkpoints (harness.checkpoints.CheckpointedTracker) ---------------------------------

    @classmethod
    def build_network(cls, config: UTrackConfig) -> CropEmbedder:
        return CropEmbedder(config)

    @classmethod
    def network_of(cls, config: dict[str, Any]) -> UTrackConfig:
        keys = {key: config[key] for key in NETWORK_KEYS if key in config}
        if "terms" in keys:
            keys["terms"] = tuple(keys["terms"])
        return network_config(
            config.get("dataset", "sprites-mot"), config.get("smoke", False), **keys
        )

    @classmethod
    def network_on_card(cls, card: dict[str, Any]) -> UTrackConfig:
        return UTrackConfig.from_card(card["config"])

    def model_card(self) -> dict[str, Any]:
        assert self.model is not None
        return model_card(self.model.config)

    def untrained_variant(self) -> tuple[str, str]:
        assert self.model is not None
        return self.model.config.variant, self.model.config.dataset

    def provenance(self) -> dict[str, Any] | None:
        return None if self.model is None else super().provenance()

    # -- tracking ------------------------------------------------------------------------------

    def reset(self, info: dict[str, Any]) -> None:
        size = (int(info.get("width", 0)), int(info.get("height", 0)))
        self.association = Association(self.inference, size, float(info.get("fps", 30.0)))

    def step(self, frame: FrameInput) -> TrackOutput:
        assert frame.detections is not None and frame.image is not None
        boxes = np.asarray(frame.detections.boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(frame.detections.scores, np.float64)
        features = self.embed(frame.image, boxes) if self.model is not None else None
        ids, out, confidences = self.association.step(boxes, scores, features)
        return TrackOutput(ids, out, confidences)

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Embeddings (n, D) of ``boxes`` (n, 4) ltwh in ``image``: the re-ID evaluation's hook."""
        if self.model is None:
            raise ConfigError("utrack:no-reid has no embedding")
        crops = appearance_crops(image, boxes, self.model.config.crop)
        with torch.inference_mode():
            return self.model.embed(torch.from_numpy(crops).to(self.device)).cpu().numpy()
