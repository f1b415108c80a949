"""Hyper-parameters of HART (Kosiorek et al. 2017, §3–5), its ablations and the RATM baseline.

A ``setup`` is one of the paper's architectures: ``kitti`` (§5.2: 56×56 colour glimpses, V1 = the
first three conv layers of a modified AlexNet, 14×14×384), ``kth`` (§5.1: 28×28 grey glimpses and
a small V1) and ``mnist``, the ``kth`` architecture for this project's synthetic set (cluttered
moving MNIST with a distractor digit). A ``variant`` is a row of Table 1:

- ``HART``: everything;
- ``App Att``: no loss on the appearance attention (eq. 12);
- ``Spatial Att``: no appearance attention (the ventral features are not masked) and no loss on
  the attention parameters (eq. 11);
- ``RATM`` (Kahou et al. 2017): spatial attention only, no box correction (the box is the
  attention predicted at the previous step), trained on the feature-space distance between the
  glimpse at the attention and the glimpse at the ground-truth box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.checkpoints import NetworkConfig
from harness.errors import ConfigError, did_you_mean

VARIANTS = ("HART", "App Att", "Spatial Att", "RATM")
BACKBONES = ("alexnet", "small")


@dataclass(frozen=True)
class HartConfig(NetworkConfig):
    """One network; defaults: HART with the ``mnist`` setup."""

    variant: str = "HART"
    channels: int = 1  # image channels (3 for KITTI)
    glimpse: tuple[int, int] = (28, 28)  # (h, w)
    backbone: str = "small"  # V1: "alexnet" (conv1-3, §5.2) or "small"
    small_filters: tuple[int, int] = (32, 64)  # the small V1's two conv layers
    features: int = 5  # ventral maps and dorsal DFN maps (§5.2)
    hidden: int = 100  # LSTM units and MLP widths
    mask_features: int = 10  # FC on the flattened location map fed to eq. 6's MLP
    zoneout: float = 0.05
    dropout: float = 0.25  # at the end of V1
    attention_scale: float = 0.0758  # c of eq. 7 at initialisation: tanh(c) ≈ sigmoid(-2.5)
    initial_bias: float = 0.25  # the initial attention's learnable bias is this · tanh(β)
    min_size: float = 1e-3  # the smallest attention side, in image units

    def __post_init__(self) -> None:
        for name, value, known in (
            ("variant", self.variant, VARIANTS),
            ("backbone", self.backbone, BACKBONES),
        ):
            if value not in known:
                raise ConfigError(
                    f"HartConfig: unknown {name} {value!r}" + did_you_mean(value, list(known))
                )

    @property
    def appearance(self) -> bool:
        """Whether the dorsal stream masks the features (HART, App Att)."""
        return self.variant in ("HART", "App Att")

    @property
    def feature_size(self) -> tuple[int, int]:
        """(h_v, w_v), V1's output size: the glimpse's over its two pools (alexnet) or one."""
        factor = 4 if self.backbone == "alexnet" else 2
        return self.glimpse[0] // factor, self.glimpse[1] // factor

    @property
    def v1_channels(self) -> int:
        return 384 if self.backbone == "alexnet" else self.small_filters[1]


SETUPS: dict[str, dict[str, Any]] = {
    "kitti": {"channels": 3, "glimpse": (56, 56), "backbone": "alexnet"},
    "kth": {"channels": 1, "glimpse": (28, 28), "backbone": "small"},
    "mnist": {"channels": 1, "glimpse": (28, 28), "backbone": "small"},
}
"""The architecture of each setup (§5.1 KTH, §5.2 KITTI; ``mnist``: the synthetic set)."""
SMOKE = {"small_filters": (4, 8), "hidden": 12, "mask_features": 4, "glimpse": (12, 12)}
"""The tiny network of smoke tests (any setup)."""


def network(setup: str, variant: str, smoke: bool = False) -> HartConfig:
    """The network of registry keys ``setup``, ``variant`` and ``smoke``."""
    if setup not in SETUPS:
        raise ConfigError(f"unknown HART setup {setup!r}" + did_you_mean(setup, list(SETUPS)))
    config = HartConfig(variant=variant, **SETUPS[setup])
    if smoke:
        config = config.replace(**SMOKE, backbone="small")
    return config


PAPER_VS_CODE = (
    "glimpse grid: row i samples the centre of cell i, y + (i + 1/2) h / n (code: corner to corner,"
    " stride h / (n - 1), plus a fixed half-pixel offset)",
    "sigma(stride): a 4th-order polynomial fitted here to antialiased bicubic resampling (§3; the"
    " code hard-codes its own fit)",
    "eq. 7 scales updates by tanh(c), c = 0.0758 at first (code: sigmoid(g), g = -2.5, the same"
    " value)",
    "kitti V1: conv1 stride 1 and a 3x3 stride-2 max-pool after conv1 and conv2 (56 -> 14), with"
    " torchvision's channels 64/192/384 (code: stride 4, no pooling, bvlc_alexnet 96/256/384)",
    "ventral stream: 1x1 conv + ELU (code: also dropout and batch norm)",
    "initial state: the first frame goes through the same step from zero LSTM states and a learnt"
    " appearance (code: affine layers on the first glimpse's features)",
    "appearance loss: unweighted binary cross-entropy (eq. 12; code: positive/negative balanced)",
    "spatial attention loss: eq. 11 as printed (code: terms weighted by clip(ratio, 1, 10))",
    "adaptive weights: the objective adds -log(lambda) per term, as the code (the paper's printed"
    " R(lambda) = -sum log(1/lambda) would drive every lambda to zero)",
    "curriculum: the code's rule (13 epochs and a training IoU of 0.7 falling to 0.65), the IoU"
    " of the batches trained on since the last check, dropout and zoneout on (code: a quarter"
    " epoch of batches scored in test mode at each logging point)",
    "RATM: V1 fixed at its initialisation (RATM's extractor was pre-trained and fixed), sigma from"
    " the stride as HART's, the box is the attention",
)
"""Where this implementation departs from the released code (it follows the paper there, or the
paper is silent); checkpoint cards carry the list."""
