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

import dataclasses
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError, did_you_mean

VARIANTS = ("HART", "App Att", "Spatial Att", "RATM")
BACKBONES = ("alexnet", "small")


@dataclass(frozen=True)
class HartConfig:
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
        """(h_v, w_v), V1's output size: a quarter of the glimpse's."""
        return (
            (self.glimpse[0] // 4, self.glimpse[1] // 4)
            if self.backbone == "alexnet"
            else (
                self.glimpse[0] // 2,
                self.glimpse[1] // 2,
            )
        )

    @property
    def v1_channels(self) -> int:
        return 384 if self.backbone == "alexnet" else self.small_filters[1]

    def replace(self, **changes: Any) -> HartConfig:
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"HartConfig has no fields {sorted(unknown)}")
        return dataclasses.replace(self, **changes)


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
