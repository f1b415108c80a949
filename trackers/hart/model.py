"""HART (Kosiorek et al. 2017, §3) in PyTorch: spatial attention → V1 → ventral and dorsal
streams → LSTM → attention, appearance and box updates (eqs 1–8); and RATM as its ablation.

Tensors are batch-first: frames (B, T, C, H, W), floats in [0, 1] or uint8; boxes and attention
(B, T, 4) as (y, x, h, w) in image units (``trackers.hart.attention``). ``forward`` runs a whole
sequence from the first frame's box; ``initial_state`` + ``step`` run it one frame at a time
and give the same boxes. Random draws (V1's dropout, zoneout) come from a given generator, so a
training run resumes bit for bit; without one (evaluation) each takes its expectation.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.checkpoints import load_tensors
from harness.errors import ConfigError
from trackers.hart.attention import contrast_normalise, glimpse
from trackers.hart.config import HartConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ALEXNET_LAYERS = {"conv1": "features.0", "conv2": "features.3", "conv3": "features.6"}
"""Our AlexNet V1's convolutions and the torchvision ``alexnet().state_dict()`` keys they take."""


def dropout(x: Tensor, p: float, noise: torch.Generator | None) -> Tensor:
    """Inverted dropout with masks from ``noise``; the identity without it."""
    if noise is None or p == 0:
        return x
    keep = torch.rand(x.shape, generator=noise, device=x.device) >= p
    return x * keep / (1 - p)


class V1(nn.Module):
    """The shared first stage (§3). ``alexnet`` (§5.2): AlexNet's conv1-3 with conv1's stride 4
    replaced by 1, each followed by ReLU, a 3×3 stride-2 max-pool after conv1 and conv2 (56×56 →
    14×14×384; torchvision's channel counts 64, 192, 384 so that its weights fit); ``small``: conv
    5×5 → ReLU → max-pool 2 → conv 3×3 → ReLU (28×28 → 14×14). Dropout at the end."""

    def __init__(self, config: HartConfig):
        super().__init__()
        self.config = config
        c = config.channels
        if config.backbone == "alexnet":
            self.conv1 = nn.Conv2d(c, 64, 11, padding=5)
            self.conv2 = nn.Conv2d(64, 192, 5, padding=2)
            self.conv3 = nn.Conv2d(192, 384, 3, padding=1)
            self.pool = nn.MaxPool2d(3, 2, padding=1)
            mean, std = IMAGENET_MEAN[:c], IMAGENET_STD[:c]
        else:
            first, second = config.small_filters
            self.conv1 = nn.Conv2d(c, first, 5, padding=2)
            self.conv2 = nn.Conv2d(first, second, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            mean, std = (0.5,) * c, (0.5,) * c
        self.register_buffer("mean", torch.tensor(mean).view(1, c, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, c, 1, 1), persistent=False)

    def forward(self, glimpses: Tensor, noise: torch.Generator | None = None) -> Tensor:
        x = (glimpses - self.mean) / self.std
        x = self.pool(F.relu(self.conv1(x)))
        if self.config.backbone == "alexnet":
            x = self.pool(F.relu(self.conv2(x)))
            x = F.relu(self.conv3(x))
        else:
            x = F.relu(self.conv2(x))
        return dropout(x, self.config.dropout, noise)


class Appearance(nn.Module):
    """Appearance attention (§3, eqs 3–4): the ventral stream (1×1 conv, ``features`` maps, ELU)
    and the dorsal stream, two dynamic-filter layers (1×1 then 3×3, ``features`` maps each, ELU)
    whose filters an MLP computes from the appearance α (eq. 3), then a 1×1 conv to the location
    map's logit. ``forward`` returns the ventral maps masked by the location map, the logit and
    the dynamic parameters (for their L2 term)."""

    def __init__(self, config: HartConfig):
        super().__init__()
        c, k, hidden = config.v1_channels, config.features, config.hidden
        self.ventral = nn.Conv2d(c, k, 1)
        self.shapes = ((k, c, 1, 1), (k, k, 3, 3))
        sizes = [k * c + k, k * k * 9 + k]  # each layer's filters and biases
        self.filters = nn.Sequential(
            nn.Linear(hidden, hidden), nn.ELU(), nn.Linear(hidden, sum(sizes))
        )
        self.sizes = sizes
        self.readout = nn.Conv2d(k, 1, 1)

    def forward(self, features: Tensor, alpha: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        ventral = F.elu(self.ventral(features))
        psi = self.filters(alpha)  # eq. 3, (B, parameters)
        x = features
        for (shape, size), chunk in zip(zip(self.shapes, self.sizes), psi.split(self.sizes, -1)):
            weight, bias = chunk.split([size - shape[0], shape[0]], -1)
            x = F.elu(dynamic_conv(x, weight.reshape(-1, *shape), bias))
        logit = self.readout(x)[:, 0]
        return ventral * torch.sigmoid(logit)[:, None], logit, psi


def dynamic_conv(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Per-sample convolution (a DFN layer): x (B, C, h, w), weight (B, K, C, k, k), bias (B, K);
    'same' padding."""
    batch, channels = x.shape[:2]
    out = F.conv2d(
        x.reshape(1, batch * channels, *x.shape[2:]),
        weight.reshape(-1, *weight.shape[2:]),
        bias.reshape(-1),
        padding=weight.shape[-1] // 2,
        groups=batch,
    )
    return out.reshape(batch, -1, *out.shape[2:])


class ZoneoutLSTM(nn.Module):
    """LSTM cell (eq. 5) with orthogonally initialised weights and zoneout (Krueger et al. 2017)
    on both states: each unit keeps its previous value with probability ``zoneout``."""

    def __init__(self, inputs: int, hidden: int, zoneout: float):
        super().__init__()
        self.cell = nn.LSTMCell(inputs, hidden)
        self.zoneout = zoneout
        for weight in (self.cell.weight_ih, self.cell.weight_hh):
            for gate in weight.data.chunk(4, 0):
                nn.init.orthogonal_(gate)
        nn.init.zeros_(self.cell.bias_ih)
        nn.init.zeros_(self.cell.bias_hh)

    def forward(
        self, x: Tensor, state: tuple[Tensor, Tensor], noise: torch.Generator | None
    ) -> tuple[Tensor, Tensor]:
        h, c = self.cell(x, state)
        if noise is None:
            p = self.zoneout
            return p * state[0] + (1 - p) * h, p * state[1] + (1 - p) * c
        keep_h = torch.rand(h.shape, generator=noise, device=h.device) < self.zoneout
        keep_c = torch.rand(c.shape, generator=noise, device=c.device) < self.zoneout
        return torch.where(keep_h, state[0], h), torch.where(keep_c, state[1], c)


class State(NamedTuple):
    """Between frames: the attention a_t (B, 4) for the coming frame, the appearance α_t, the
    LSTM's hidden and cell states."""

    attention: Tensor
    appearance: Tensor
    hidden: Tensor
    cell: Tensor


class Step(NamedTuple):
    """One frame's outputs: the box b̂_t (eq. 8), the attention a_t it used, the location map's
    logit s_t (B, h_v, w_v; None without appearance attention) and the dynamic parameters (None
    likewise)."""

    box: Tensor
    attention: Tensor
    mask_logit: Tensor | None
    dynamic: Tensor | None


class Outputs(NamedTuple):
    """A sequence's ``Step`` fields stacked over time (B, T, ...); ``boxes[:, 0]`` is the given
    box."""

    boxes: Tensor
    attention: Tensor
    mask_logits: Tensor | None
    dynamic: Tensor | None


class Hart(nn.Module):
    """The tracker network of ``config`` (HART, App Att, Spatial Att or RATM)."""

    def __init__(self, config: HartConfig):
        super().__init__()
        self.config = config
        k, hidden = config.features, config.hidden
        cells = config.feature_size[0] * config.feature_size[1]
        self.v1 = V1(config)
        if config.variant == "RATM":  # its feature extractor is fixed (losses.ratm_loss)
            self.v1.requires_grad_(False)
        if config.appearance:
            self.appearance = Appearance(config)
            self.mask_fc = nn.Linear(cells, config.mask_features)
        else:
            self.ventral = nn.Conv2d(config.v1_channels, k, 1)
        self.input_fc = nn.Linear(k * cells + 4, hidden)  # eq. 4's MLP, with a_t
        self.lstm = ZoneoutLSTM(hidden, hidden, config.zoneout)
        mask_width = config.mask_features if config.appearance else 0
        self.head = nn.Linear(hidden + mask_width, hidden)  # eq. 6's MLP
        self.to_appearance = nn.Linear(hidden, hidden)
        self.to_attention = nn.Linear(hidden, 4)
        self.to_box = nn.Linear(hidden, 4)
        for layer in (self.to_attention, self.to_box):
            nn.init.uniform_(layer.weight, -1e-3, 1e-3)
            nn.init.zeros_(layer.bias)
        self.attention_scale = nn.Parameter(torch.full((4,), config.attention_scale))  # c
        self.initial_bias = nn.Parameter(torch.zeros(4))  # β
        self.initial_appearance = nn.Parameter(torch.zeros(hidden))  # α_1
        self.loss_weights = nn.Parameter(torch.ones(3))  # v of λ = v² (tracking, spatial, app.)

    def initial_state(self, box: Tensor) -> State:
        """The state before the first frame: attention = the given box (B, 4) plus the learnable
        bias (§6), the learnt initial appearance, zero LSTM states."""
        batch = box.shape[0]
        attention = box + self.config.initial_bias * torch.tanh(self.initial_bias)
        zeros = box.new_zeros(batch, self.config.hidden)
        appearance = self.initial_appearance.expand(batch, -1)
        return State(self._valid(attention), appearance, zeros, zeros)

    def step(
        self, image: Tensor, state: State, noise: torch.Generator | None = None
    ) -> tuple[Step, State]:
        """One frame (B, C, H, W; floats in [0, 1] or uint8): glimpse at a_t (cropped when no
        gradient is taken), eqs 3–8, the state for the next frame."""
        attention = state.attention
        crop = not torch.is_grad_enabled()
        g = contrast_normalise(glimpse(image, attention, self.config.glimpse, crop))
        features = self.v1(g, noise)
        mask_logit = dynamic = None
        if self.config.appearance:
            masked, mask_logit, dynamic = self.appearance(features, state.appearance)
        else:
            masked = F.elu(self.ventral(features))
        v = F.elu(self.input_fc(torch.cat([masked.flatten(1), attention], -1)))
        hidden, cell = self.lstm(v, (state.hidden, state.cell), noise)
        z = [hidden]
        if mask_logit is not None:
            z.append(F.elu(self.mask_fc(torch.sigmoid(mask_logit).flatten(1))))
        z = F.elu(self.head(torch.cat(z, -1)))
        box = attention
        if self.config.variant != "RATM":
            box = attention + torch.tanh(self.to_box(z))  # eq. 8
        update = torch.tanh(self.attention_scale) * torch.tanh(self.to_attention(z))  # eq. 7
        following = State(self._valid(attention + update), self.to_appearance(z), hidden, cell)
        return Step(box, attention, mask_logit, dynamic), following

    def forward(self, frames: Tensor, box: Tensor, noise: torch.Generator | None = None) -> Outputs:
        """Every frame of ``frames`` (B, T, C, H, W) from the first one's ``box`` (B, 4)."""
        state = self.initial_state(box)
        steps = []
        for t in range(frames.shape[1]):
            step, state = self.step(frames[:, t], state, noise)
            steps.append(step)
        boxes = torch.stack([box] + [s.box for s in steps[1:]], 1)

        def stacked(field: str) -> Tensor | None:
            values = [getattr(s, field) for s in steps]
            return None if values[0] is None else torch.stack(values, 1)

        return Outputs(
            boxes,
            stacked("attention"),
            stacked("mask_logit"),
            stacked("dynamic"),
        )

    def _valid(self, attention: Tensor) -> Tensor:
        """Attention with its sides at least ``min_size``."""
        return torch.cat([attention[:, :2], attention[:, 2:].clamp_min(self.config.min_size)], -1)


def load_alexnet_weights(model: Hart, path: str | Path) -> None:
    """Copy conv1-3 of a torchvision AlexNet ``state_dict`` file (weights-only) into ``model``'s
    V1; a missing key or another shape is a ConfigError naming the file."""
    if model.config.backbone != "alexnet":
        raise ConfigError(f"{path}: backbone_weights need the alexnet V1 (the kitti setup)")
    state = load_tensors(path)
    if not isinstance(state, dict):
        raise ConfigError(f"{path}: not a state_dict (a mapping of names to tensors)")
    for ours, theirs in ALEXNET_LAYERS.items():
        conv = getattr(model.v1, ours)
        for part in ("weight", "bias"):
            key, target = f"{theirs}.{part}", getattr(conv, part)
            if key not in state:
                raise ConfigError(f"{path}: no {key!r} (a torchvision AlexNet state_dict has it)")
            value = state[key]
            if tuple(value.shape) != tuple(target.shape):
                raise ConfigError(
                    f"{path}: {key} has shape {tuple(value.shape)}, {ours} needs "
                    f"{tuple(target.shape)}"
                )
            with torch.no_grad():
                target.copy_(value)
