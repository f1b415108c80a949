"""The cross-input consistency network (favyen/uns20 model.py): an ensemble of sub-models, each a
CNN over appearance crops, a long-term visual matcher, a recurrent spatial matcher (or, for the
occlusion scheme, one recurrent matcher on the combined features) and a learned "no match" logit.

A detection's features are its spatial feature (cx, cy, w, h normalised by the frame size) and its
CNN feature; "no match" is a zero detection appended to every frame (model.py:192-206).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional

from trackers.cis.config import CISConfig

SPATIAL = 4


def truncated_normal_(tensor: Tensor, fan_in: int) -> Tensor:
    """TensorFlow's ``truncated_normal_initializer(stddev=sqrt(2 / fan_in))``: resampled beyond
    two standard deviations (model.py:29, 84)."""
    std = math.sqrt(2.0 / fan_in)
    return nn.init.trunc_normal_(tensor, std=std, a=-2 * std, b=2 * std)


def dense(inputs: int, outputs: int, fan_in: int | None = None) -> nn.Linear:
    """A fully connected layer initialised as the code's ``_fc_layer`` (model.py:75-106)."""
    layer = nn.Linear(inputs, outputs)
    truncated_normal_(layer.weight, fan_in or inputs)
    nn.init.zeros_(layer.bias)
    return layer


class CropCNN(nn.Module):
    """3x3 stride-2 convolutions, TensorFlow ``SAME`` padding, ReLU but after the last, down to
    1x1: a crop's image feature (model.py:185-190)."""

    def __init__(self, layers: int, channels: int):
        super().__init__()
        sizes = [3] + [channels] * layers
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2) for a, b in zip(sizes, sizes[1:]))
        for conv in self.convs:
            truncated_normal_(conv.weight, 9 * conv.in_channels)
            nn.init.zeros_(conv.bias)

    def forward(self, crops: Tensor) -> Tensor:
        """Features (n, channels) of crops (n, S, S, 3) uint8."""
        x = crops.permute(0, 3, 1, 2).float() / 255.0
        for index, conv in enumerate(self.convs):
            x = conv(functional.pad(x, (0, 1, 0, 1)))  # SAME for an even side: 1 pixel after
            if index < len(self.convs) - 1:
                x = torch.relu(x)
        return x[:, :, 0, 0]


class Recurrent(nn.Module):
    """The code's recurrent matcher ("finesp", model.py:230-241): [state ‖ previous ‖ next
    features] -> ReLU layers -> a logit, and the next state a linear map of the last hidden
    layer (the paper says LSTM; the code has none)."""

    def __init__(self, hidden: int, features: int, layers: tuple[int, ...]):
        super().__init__()
        sizes = [hidden + 2 * features, *layers]
        self.layers = nn.ModuleList(dense(a, b) for a, b in zip(sizes, sizes[1:]))
        self.logit = dense(sizes[-1], 1)
        self.state = dense(sizes[-1], hidden)

    def forward(self, state: Tensor, previous: Tensor, candidates: Tensor) -> tuple[Tensor, Tensor]:
        """Logits (n, m) and next states (n, m, hidden) of tracks with ``state`` (n, hidden) whose
        last detection has features ``previous`` (n, f), against ``candidates`` (m, f)."""
        n, m = len(previous), len(candidates)
        x = torch.cat(
            [
                torch.cat([state, previous], dim=1)[:, None].expand(n, m, -1),
                candidates[None].expand(n, m, -1),
            ],
            dim=2,
        )
        for layer in self.layers:
            x = torch.relu(layer(x))
        return self.logit(x)[..., 0], self.state(x)


class Visual(nn.Module):
    """The long-term visual matcher ("longim", model.py:226-229): [frame-0 ‖ frame-n image
    features] -> FC ReLU -> a logit, with no recurrence. The code also feeds it a zero state
    (hidden inputs that change nothing); its initialisation keeps their fan-in."""

    def __init__(self, hidden: int, channels: int, layers: tuple[int, ...]):
        super().__init__()
        sizes = [2 * channels, *layers]
        fan_ins = [hidden + 2 * channels, *layers]
        self.layers = nn.ModuleList(
            dense(a, b, fan_in) for a, b, fan_in in zip(sizes, sizes[1:], fan_ins)
        )
        self.logit = dense(sizes[-1], 1)

    def forward(self, previous: Tensor, candidates: Tensor) -> Tensor:
        """Logits (n, m) of image features ``previous`` (n, c) against ``candidates`` (m, c)."""
        n, m = len(previous), len(candidates)
        x = torch.cat([previous[:, None].expand(n, m, -1), candidates[None].expand(n, m, -1)], 2)
        for layer in self.layers:
            x = torch.relu(layer(x))
        return self.logit(x)[..., 0]


class SubModel(nn.Module):
    """One member of the ensemble (model.py:178-253)."""

    def __init__(self, config: CISConfig):
        super().__init__()
        self.cnn = CropCNN(config.conv_layers, config.channels)
        self.no_match = nn.Parameter(torch.zeros(1))
        if config.hiding == "occlusion":
            self.combined = Recurrent(
                config.hidden, SPATIAL + config.channels, config.spatial_layers
            )
        else:
            self.visual = Visual(config.hidden, config.channels, config.visual_layers)
            self.spatial = Recurrent(config.hidden, SPATIAL, config.spatial_layers)

    def with_no_match(self, logits: Tensor) -> Tensor:
        """``logits`` (n, m + 1) with the last column the learned "no match" logit."""
        return torch.cat([logits[:, :-1], self.no_match.expand(len(logits), 1)], dim=1)


class CIS(nn.Module):
    """The ensemble of ``config.ensemble`` sub-models (scopes ensemble0..3 in the code)."""

    def __init__(self, config: CISConfig):
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(SubModel(config) for _ in range(config.ensemble))


def spatial_features(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(cx/W, cy/H, w/W, h/H) float32 of ltwh boxes (train.py:61-66, infer.py:102-112)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    size = np.array([width, height, width, height], np.float64)
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    return (np.concatenate([centre, boxes[:, 2:]], axis=1) / size).astype(np.float32)


def with_null(features: Tensor) -> Tensor:
    """``features`` (m, f) and the zero "no match" detection after them (m + 1, f)."""
    return torch.cat([features, features.new_zeros(1, features.shape[1])])
