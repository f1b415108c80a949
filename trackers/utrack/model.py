"""utrack's networks: ``CropEmbedder``, a CNN on appearance crops (§3.1.1: "any differentiable"
embedding of a box), and ``JointModel``, the joint detector and embedder in FairMOT's form with
the loss's learnt task weights (trains/mot.py:31-33 keeps them in the loss module, trained with
the network).

``CropEmbedder``: four 3x3 convolutions with ReLU, each followed by 2x2 max-pooling, global
average pooling and a linear map to ``embedding`` dimensions; features are L2-normalised by the
losses and the tracker, not here (the code normalises in the loss, losses.py:664-665).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from trackers.utrack.config import UTrackConfig
from trackers.utrack.detection_losses import UncertaintyWeights
from trackers.utrack.detector import DLAJointDetector, JointDetector, StrideFourDetector


class CropEmbedder(nn.Module):
    """Embeddings (n, D) of crops (n, S, S, 3) uint8."""

    def __init__(self, config: UTrackConfig):
        super().__init__()
        self.config = config
        c = config.channels
        widths = [3, c, c, 2 * c, 2 * c]
        layers: list[nn.Module] = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Conv2d(a, b, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(2 * c, config.embedding)

    def forward(self, crops: Tensor) -> Tensor:
        x = crops.permute(0, 3, 1, 2).float() / 255.0
        return self.head(self.features(x).mean(dim=(2, 3)))

    @torch.no_grad()
    def embed(self, crops: Tensor) -> Tensor:
        """Eval-mode embeddings of ``crops`` (no gradient)."""
        return self(crops)


class JointModel(nn.Module):
    """The joint detector of ``config`` (its ``backbone``: ``small``, ``JointDetector`` of
    ``channels``; ``dla34``, ``DLAJointDetector``) and the ``UncertaintyWeights`` of its loss."""

    def __init__(self, config: UTrackConfig):
        super().__init__()
        self.config = config
        self.detector: StrideFourDetector = (
            DLAJointDetector(config.head_channels, config.embedding, config.occlusion)
            if config.backbone == "dla34"
            else JointDetector(
                config.channels, config.head_channels, config.embedding, config.occlusion
            )
        )
        self.weights = UncertaintyWeights()

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        return self.detector(images)


def build_network(config: UTrackConfig) -> CropEmbedder | JointModel:
    """The network ``config.model`` names."""
    return CropEmbedder(config) if config.model == "crops" else JointModel(config)
