"""TBA hyper-parameters per dataset (the released code's ``modules/model_config.json`` and
``run.py`` defaults, zhen-he/tracking-by-animation) and the ablation flags of Table 1.

Symbols: I trackers, K layers, U x V object patch, M x N x R memory (the last CNN layer's pool
size and channels), tracker state 4R. Where the paper and the released code differ we follow the
code (its numbers are what Table 1 reports): tightness on scale² averaged over trackers, the
entropy and appearance-hinge loss terms, Gumbel noise only in ``stochastic`` mode (the code sampled
it at test time too; ``stochastic=True`` restores that).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from harness.checkpoints import NetworkConfig
from harness.errors import ConfigError, did_you_mean

Pair = tuple[int, int]


@dataclass(frozen=True)
class TBAConfig(NetworkConfig):
    """Every hyper-parameter of one TBA model (defaults: Sprites-MOT)."""

    dataset: str = "sprites-mot"
    frame_size: Pair = (128, 128)  # H, W
    channels: int = 3  # D
    synthetic: bool = True  # translations scaled by 1 - 2/3 patch/frame; no background
    mnist: bool = False  # shape forced to 1, layer appearance clamped to 1
    num_trackers: int = 4  # I
    layers: int = 3  # K
    patch: Pair = (21, 21)  # U, V
    zeta_s: float = 0.1
    zeta_r: tuple[float, float] = (1.0, 0.2)  # ratio = offset + gain * y_p[1]
    cnn_channels: tuple[int, ...] = (32, 64, 128, 256, 20)
    cnn_kernels: tuple[Pair, ...] = ((5, 5), (3, 3), (1, 1), (3, 3), (1, 1))
    cnn_pool_sizes: tuple[Pair, ...] = ((64, 64), (32, 32), (16, 16), (8, 8), (8, 8))
    head_hidden: tuple[int, ...] = (80, 377)
    # loss (modules/loss_calculator.py): tightness λ, entropy of y_e, appearance hinge (synthetic)
    tightness: float = 13.0
    entropy_weight: float = 1.0
    appearance_weight: float = 0.1
    appearance_min: float = 20.0
    # optimisation (run.py defaults)
    batch: int = 64  # N
    length: int = 20  # T, the BPTT length
    lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 1e-6
    clip_grad_norm: float = 5.0
    reset_prob: float = 0.01  # recurrent state reset probability per iteration
    # ablations (modules/exp_config.json)
    act: bool = True  # adaptive computation time (experiment ``tba``)
    reprioritize: bool = True  # sort trackers by previous confidence
    memory_write: bool = True  # erase/write the memory (eqs 15-17)
    attention: bool = True  # False: one memory slot of size M*N*R

    @property
    def memory_shape(self) -> tuple[int, int, int]:
        """(M, N, R): the last pool size and the last CNN channel count."""
        (m, n), r = self.cnn_pool_sizes[-1], self.cnn_channels[-1]
        return m, n, r

    @property
    def num_slots(self) -> int:
        """Memory slots S seen by the tracker array: M*N, or 1 without attention."""
        m, n, _ = self.memory_shape
        return m * n if self.attention else 1

    @property
    def slot_dim(self) -> int:
        """Size of one memory slot: R, or M*N*R without attention."""
        m, n, r = self.memory_shape
        return r if self.attention else m * n * r

    @property
    def state_dim(self) -> int:
        """Tracker state size 4R (kept at 4R without attention, as the released code)."""
        return 4 * self.memory_shape[2]

    @property
    def variant(self) -> str:
        """The Table 1 name of this flag combination (TBA, TBAc, TBAc-noOcc, ...)."""
        if self.act:
            return "TBA"
        missing = [
            name
            for name, off in (
                ("Occ", self.layers == 1),
                ("Att", not self.attention),
                ("Mem", not self.memory_write),
                ("Rep", not self.reprioritize),
            )
            if off
        ]
        return "TBAc" + "".join(f"-no{name}" for name in missing)

    def model_fields(self) -> dict[str, Any]:
        """The fields that determine the network and its outputs (all but loss/optimisation)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in TRAINING_FIELDS}

    def smoke(self) -> TBAConfig:
        """A tiny model for CPU tests: same architecture and frame size, 3 trackers, thin CNN
        (5 layers, same kernels and pool sizes), small heads, short chunks."""
        return self.replace(
            num_trackers=3,
            cnn_channels=(4, 8, 8, 8, 8),
            head_hidden=(32, 32),
            batch=4,
            length=5,
        )

    @classmethod
    def for_dataset(cls, name: str, **overrides: Any) -> TBAConfig:
        """The released code's configuration for ``name`` (``modules/model_config.json``), with
        overrides."""
        if name not in DATASET_CONFIGS:
            raise ConfigError(
                f"TBA has no configuration for dataset {name!r}"
                + did_you_mean(name, list(DATASET_CONFIGS))
            )
        return cls(dataset=name, **DATASET_CONFIGS[name]).replace(**overrides)


TRAINING_FIELDS = frozenset(
    {
        "tightness",
        "entropy_weight",
        "appearance_weight",
        "appearance_min",
        "batch",
        "length",
        "lr",
        "betas",
        "weight_decay",
        "clip_grad_norm",
        "reset_prob",
    }
)


def method_config(
    dataset: str,
    act: bool,
    reprioritize: bool,
    memory_write: bool,
    attention: bool,
    layers: int | None,
    smoke: bool,
) -> TBAConfig:
    """The TBAConfig of a registry config (``trackers.tba`` method keys): the dataset's released
    configuration with the ablation flags, ``layers`` None = the dataset's K, ``smoke`` = tiny."""
    config = TBAConfig.for_dataset(
        dataset, act=act, reprioritize=reprioritize, memory_write=memory_write, attention=attention
    )
    if layers is not None:
        config = config.replace(layers=layers)
    return config.smoke() if smoke else config


DATASET_CONFIGS: dict[str, dict[str, Any]] = {
    "sprites-mot": {},
    "mnist-mot": {
        "channels": 1,
        "mnist": True,
        "layers": 1,
        "patch": (28, 28),
        "zeta_s": 0.0,
        "zeta_r": (1.0, 0.0),
        "cnn_channels": (32, 64, 128, 256, 50),
        "head_hidden": (200, 397),
    },
    "dukemtmc": {
        "frame_size": (108, 192),
        "synthetic": False,
        "num_trackers": 12,
        "patch": (23, 9),
        "zeta_s": 0.55,
        "zeta_r": (1.25, 0.3),
        "cnn_channels": (32, 128, 256, 512, 200),
        "cnn_kernels": ((5, 5), (5, 3), (5, 3), (3, 1), (1, 1)),
        "cnn_pool_sizes": ((108, 192), (36, 64), (18, 32), (9, 16), (9, 16)),
        "head_hidden": (800, 818),
        "tightness": 0.1,
        "appearance_weight": 0.0,  # the appearance hinge is synthetic-only
        "batch": 24,
    },
}
