"""utrack's trackers: ``UTrackTracker``, the crop tier in OUTrack's ``provide_track`` mode (the
embeddings read at given boxes, occ_tracker.py:748-783), and ``OUTrackTracker``, the detector
tier (its own detections, the embeddings at their centres and, with ``occe``, OccE's re-finding
from its occlusion centres, occ_tracker.py:688-1000). Both associate with
``trackers.utrack.association``; ``no-reid`` tracks by motion and IoU alone (FairMOT w/o).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from harness.checkpoints import CheckpointedTracker, read_card
from harness.data import FrameInput, TrackOutput
from harness.errors import ConfigError
from harness.protocol import MultiObjectTracker
from trackers.common.crops import appearance_crops
from trackers.utrack.association import Association, Occlusion
from trackers.utrack.augment import Letterbox, letterbox
from trackers.utrack.config import (
    Inference,
    UTrackConfig,
    inference_config,
    model_card,
    registry_network,
)
from trackers.utrack.decode import decode_detections, decode_occlusions, embeddings_at
from trackers.utrack.model import CropEmbedder, JointModel, build_network


class _Tracker(CheckpointedTracker, MultiObjectTracker):
    """The checkpoint side and settings shared by both tiers. Registry config keys: ``dataset``
    picks the network and tracker defaults (``trackers.utrack.config``); ``reid``, ``terms``,
    ``placeholder``, ``temperature``, ``negatives``, ``intra`` and ``occlusion`` (OccE heads)
    say which trained model (the checkpoint's card must agree), as does ``occlusion_tau`` (the
    tau its OccE heads were trained at, a training setting the card records); ``occe`` turns
    OccE's re-finding on; ``inference`` overrides tracker settings (``Inference``).
    ``checkpoint`` None runs an untrained model initialised from ``seed`` (smoke tests only)."""

    path_config = frozenset({"checkpoint"})
    checkpoint_label = "utrack checkpoint"
    model_kind: ClassVar[str]
    network_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        occe: bool = False,
        occlusion_tau: float | None = None,
        inference: dict[str, Any] | None = None,
        **config: Any,
    ):
        settings = {"occe": occe, "occlusion_tau": occlusion_tau, **config}
        self.check_trained(settings)
        wanted = self.network_of(settings)
        self.device = torch.device(config.get("device", "cpu"))
        if wanted.reid == "none" and wanted.model == "crops":
            self.model, self.checkpoint = None, None
        else:
            self.start_model(wanted, build_network, config.get("checkpoint"), config.get("seed", 0))
        self._settings(wanted, {"occe": occe, **(inference or {})})

    def _settings(self, network: UTrackConfig, overrides: dict[str, Any]) -> None:
        embeddings = network.reid != "none"
        self.inference: Inference = inference_config(
            network.dataset, network.model, **{"embeddings": embeddings, **overrides}
        )
        self.reset({})

    @classmethod
    def from_model(cls, model: Any, card: dict[str, Any], **settings: Any) -> _Tracker:
        tracker = cls.__new__(cls)
        tracker.device = next(model.parameters()).device
        tracker.model, tracker.checkpoint = model, None
        overrides = {"occe": settings.get("occe", False), **(settings.get("inference") or {})}
        tracker._settings(model.config, overrides)
        return tracker

    @classmethod
    def check_trained(cls, config: dict[str, Any]) -> None:
        """OccE needs a network with occlusion heads (the checkpoint's, else the config's); a
        checkpoint's OccE heads must have been trained at the ``occlusion_tau`` asked for."""
        path = config.get("checkpoint")
        card = read_card(path, cls.checkpoint_label) if path else None
        network = cls.network_on_card(card) if card else cls.network_of(config)
        if config.get("occe") and not network.occlusion:
            raise ConfigError(
                f"utrack OccE needs a network with occlusion heads; {path or 'the config'}"
                f" has none ({network.variant})"
            )
        tau = config.get("occlusion_tau")
        trained = (card or {}).get("training", {}).get("occlusion_tau")
        if tau is not None and trained is not None and trained != tau:
            raise ConfigError(
                f"checkpoint {path} has OccE heads trained at tau {trained}, not {tau}"
            )

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        cls.check_trained(config)
        network = cls.network_of(config)
        if network.reid == "none" and network.model == "crops":
            return
        super().check_config(config)

    @classmethod
    def build_network(cls, config: UTrackConfig) -> CropEmbedder | JointModel:
        return build_network(config)

    @classmethod
    def network_of(cls, config: dict[str, Any]) -> UTrackConfig:
        if config.get("model", cls.model_kind) != cls.model_kind:
            raise ConfigError(
                f"{cls.__name__} runs model {cls.model_kind!r}, not {config['model']!r}"
            )
        return registry_network({**cls.network_defaults, **config, "model": cls.model_kind})

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

    def reset(self, info: dict[str, Any]) -> None:
        size = (int(info.get("width", 0)), int(info.get("height", 0)))
        self.association = Association(self.inference, size, float(info.get("fps", 30.0)))


class UTrackTracker(_Tracker):
    """The crop tier: the boxes given each frame (public or oracle detections), embedded by the
    crop CNN; no OccE (a crop embedder has no occlusion heads)."""

    inputs = frozenset({"image", "detections"})
    model_kind = "crops"

    def step(self, frame: FrameInput) -> TrackOutput:
        assert frame.detections is not None and frame.image is not None
        boxes = np.asarray(frame.detections.boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(frame.detections.scores, np.float64)
        features = self.embed(frame.image, boxes) if self.model is not None else None
        return TrackOutput(*self.association.step(boxes, scores, features))

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Embeddings (n, D) of ``boxes`` (n, 4) ltwh in ``image``: the re-ID evaluation's hook."""
        if self.model is None:
            raise ConfigError("utrack:no-reid has no embedding")
        crops = appearance_crops(image, boxes, self.model.config.crop)
        with torch.inference_mode():
            return self.model.embed(torch.from_numpy(crops).to(self.device)).cpu().numpy()


class OUTrackTracker(_Tracker):
    """The detector tier: the heatmap's ``top_k`` peaks as detections, embeddings at their
    centres, OccE's occlusion centres when ``occe`` is on. A network with an ``input_size`` sees
    each frame letterboxed to it (LoadImages, jde_json.py:60-67), and its boxes and occlusion
    centres are mapped back to the frame (the code's affine post-processing does the same about
    the image centre, utils/post_process.py; it differs from the letterbox's rounded padding by
    under half an input pixel)."""

    inputs = frozenset({"image"})
    model_kind = "detector"
    network_defaults = {"occlusion": True}

    def step(self, frame: FrameInput) -> TrackOutput:
        assert frame.image is not None
        s = self.inference
        image, box = self.network_input(frame.image)
        with torch.inference_mode():
            outputs = self.model(torch.from_numpy(image[None]).to(self.device))
            boxes, scores, indices = decode_detections(outputs, s.top_k)[0]
            features = embeddings_at(outputs["id"][0], indices) if s.embeddings else None
            occlusion = None
            if s.occe:
                centres, _ = decode_occlusions(outputs, 4 * s.top_k, s.occlusion_threshold)[0]
                if box is not None:
                    centres = box.back_points(centres)
                occlusion = Occlusion(centres, s.tau_o, s.lost_frame_range, s.occe_output)
        if box is not None:
            boxes = box.back(boxes)
        return TrackOutput(*self.association.step(boxes, scores, features, occlusion))

    def network_input(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox | None]:
        """``image`` as the network takes it and where the frame lies in it (None: as it is)."""
        size = self.model.config.input_size
        return (image, None) if size is None else letterbox(image, *size)

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Embeddings (n, D) read at the centres of ``boxes`` (n, 4) ltwh, clipped to the map, as
        the provide-track mode reads them (occ_tracker.py:748-760; boxes moved into the
        letterboxed frame as LoadImages moves detections, lines 74-79)."""
        image, box = self.network_input(image)
        if box is not None:
            boxes = box.forward(boxes)
        with torch.inference_mode():
            id_map = self.model(torch.from_numpy(image[None]).to(self.device))["id"][0]
        height, width = id_map.shape[1:]
        centres = (boxes[:, :2] + boxes[:, 2:] / 2) / 4
        x = np.clip(centres[:, 0], 0, width - 1).astype(np.int64)
        y = np.clip(centres[:, 1], 0, height - 1).astype(np.int64)
        return embeddings_at(id_map, y * width + x)
