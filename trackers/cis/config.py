"""Cross-input consistency hyper-parameters (favyen/uns20: model.py, train.py, infer.py) per
dataset, split into the network (what a checkpoint holds, ``CISConfig``) and its training
(``CISTraining``, recorded in a run's card, not part of the network).

Where the paper's text and the released code differ, the default is the code and the paper's
reading is a named option: the spatial matcher's recurrence is a linear map of the third matcher
layer (model.py:236-241), not the paper's LSTM; training is two phases (train.py:283-305), the
paper's single joint loss is ``training="joint"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.checkpoints import DatasetDefaults, FamilyDefaults, NetworkConfig
from harness.detectors import OracleNoise
from harness.errors import ConfigError

HIDINGS = ("visual-spatial", "occlusion")
TRAININGS = ("two-phase", "joint")
NORMALISATIONS = ("min", "row")
SCORES = ("visual-spatial", "spatial", "visual")
ASSIGNMENTS = ("greedy", "hungarian")
PHASES = ("visual", "spatial")


@dataclass(frozen=True)
class CISConfig(NetworkConfig):
    """The network of one model and how it was trained to be one (defaults: the released code).

    ``crop``: side of the square appearance crops (64: six stride-2 convolutions to 1x1);
    ``channels``: of every convolution and of the image feature; ``ensemble``: sub-models whose
    matrices are averaged (model.py:160-166); ``hidden``: the recurrent state (c_rnn);
    ``hiding``: the input-hiding scheme trained with (``occlusion`` uses one recurrent matcher on
    the combined features, model.py:242-253); ``training``: two phases or the paper's joint loss;
    ``normalisation``: eq. 1's min of row and column softmaxes, or ``row`` (the paper's degenerate
    alternative).
    """

    dataset: str = "mot17"
    crop: int = 64
    channels: int = 64
    ensemble: int = 4
    hidden: int = 64
    visual_layers: tuple[int, ...] = (256,)
    spatial_layers: tuple[int, ...] = (256, 128, 128)
    hiding: str = "visual-spatial"
    training: str = "two-phase"
    normalisation: str = "min"

    def __post_init__(self) -> None:
        for name, allowed in (
            ("hiding", HIDINGS),
            ("training", TRAININGS),
            ("normalisation", NORMALISATIONS),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"cis {name} must be one of {list(allowed)}, not {value!r}")
        if self.crop < 2 or self.crop & (self.crop - 1):
            raise ConfigError(f"cis crop must be a power of two >= 2, not {self.crop}")

    @property
    def conv_layers(self) -> int:
        """Stride-2 convolutions that take the crop to 1x1."""
        return self.crop.bit_length() - 1

    @property
    def variant(self) -> str:
        """The paper's name of the model (Visual-Spatial, Occlusion) and its training ablations."""
        name = "Occlusion" if self.hiding == "occlusion" else "Visual-Spatial"
        if self.training == "joint":
            name += "-joint"
        if self.normalisation == "row":
            name += "-row-softmax"
        return name

    def smoke(self) -> CISConfig:
        """A tiny model for CPU tests."""
        return self.replace(
            crop=8, channels=4, ensemble=2, hidden=4, visual_layers=(8,), spatial_layers=(8, 8, 8)
        )


@dataclass(frozen=True)
class CISTraining(NetworkConfig):
    """How a run trains (train.py): ``phase`` ``visual`` (the long-term image matcher alone, the
    loss of its matrix with itself) then ``spatial`` (the recurrent spatial matcher against the
    frozen visual one), started from the best ``visual`` checkpoint (train.py:294-301); a joint
    or occlusion model trains in one run whatever the phase.

    Examples are ``seq_len`` frames ``skip`` apart (a skip drawn from ``skips``), the visual
    matcher's gap ``match_lengths`` (drawn), at least ``min_detections`` in every frame (frames
    with fewer are redrawn, train.py:197); Adam at ``lr`` divided by 10 every ``lr_decay_every``
    iterations of the phase, ``lr_steps`` rates in all (1e-3, 1e-4, 1e-5 for 200 epochs of 2048
    each, train.py:290-292). ``mask_*``: the spatial mask's flood fill
    (scripts/preprocess-matches.go:26-29). ``noise``: the oracle detector's levels on generated
    training data. ``validation_clips``: held-out clips for the validation loss (the code keeps the
    checkpoint of the lowest; at most 1024 examples, train.py:195).
    """

    phase: str = "visual"
    seq_len: int = 17
    match_lengths: tuple[int, ...] = (4, 16)
    skips: tuple[int, ...] = (2, 4)
    min_detections: int = 6
    negatives: bool = True
    lr: float = 1e-3
    lr_decay_every: int = 409_600
    lr_steps: int = 3
    mask_padding: float = 10.0
    mask_iou: float = 0.1
    mask_max_age: int = 10
    noise: tuple[float, float, float] = (0.0, 0.0, 0.0)
    validation_clips: int = 64

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ConfigError(f"cis phase must be one of {list(PHASES)}, not {self.phase!r}")
        if max(self.match_lengths) >= self.seq_len:
            raise ConfigError(
                f"cis match_lengths {list(self.match_lengths)} must be below seq_len {self.seq_len}"
            )

    @property
    def oracle(self) -> OracleNoise:
        miss_rate, jitter, fp_rate = self.noise
        return OracleNoise(miss_rate=miss_rate, jitter=jitter, fp_rate=fp_rate)

    @property
    def window(self) -> int:
        """Raw frames one example spans at the largest skip."""
        return (self.seq_len - 1) * max(self.skips) + 1

    def learning_rate(self, phase_iteration: int) -> float:
        """The rate at 0-based iteration ``phase_iteration`` of the phase."""
        step = min(phase_iteration // self.lr_decay_every, self.lr_steps - 1)
        return self.lr * 0.1**step

    def smoke(self) -> CISTraining:
        return self.replace(seq_len=5, match_lengths=(2, 4), skips=(1,), min_detections=1)


@dataclass(frozen=True)
class Inference:
    """How a model tracks (infer.py): every ``skip``-th frame; visual scores averaged over the
    track's crops ``history`` steps back (infer.py:204); a track ends after ``max_age`` unmatched
    steps (infer.py:20); offline, tracks with fewer than ``min_length`` detections are dropped and
    gaps interpolated (scripts/filter_short.py, interpolate.py); ``scores`` picks the branches;
    ``assignment`` is the code's greedy one or the paper's Hungarian matching (§3.1)."""

    skip: int = 2
    history: tuple[int, ...] = (1, 2, 4, 8, 16)
    max_age: int = 10
    min_length: int = 4
    scores: str = "visual-spatial"
    assignment: str = "greedy"
    online: bool = False

    def __post_init__(self) -> None:
        if self.scores not in SCORES:
            raise ConfigError(f"cis scores must be one of {list(SCORES)}, not {self.scores!r}")
        if self.assignment not in ASSIGNMENTS:
            raise ConfigError(
                f"cis assignment must be one of {list(ASSIGNMENTS)}, not {self.assignment!r}"
            )
        if self.skip < 1 or self.max_age < 0 or self.min_length < 1 or not self.history:
            raise ConfigError(
                "cis needs skip >= 1, max_age >= 0, min_length >= 1 and a history, got"
                f" {self.skip}, {self.max_age}, {self.min_length}, {list(self.history)}"
            )


DEFAULTS = FamilyDefaults(
    "cis",
    {
        "mot17": DatasetDefaults({}, {}, {}),
        "kitti-tracking": DatasetDefaults({}, {"skips": (1, 2)}, {"skip": 1}),
        # CPU scale: 128x128 frames with ~21 px sprites moving 5.3 px a frame (about 20 frames in
        # view): 32x32 crops, 32 channels, one sub-model, gaps of 4 and 8 frames (the paper's n is
        # half the time an object stays in view), every frame tracked.
        "sprites-mot": DatasetDefaults(
            {"crop": 32, "channels": 32, "ensemble": 1},
            {
                "seq_len": 9,
                "match_lengths": (4, 8),
                "skips": (1,),
                "min_detections": 2,
                "lr_decay_every": 20_000,
                "noise": (0.05, 0.03, 0.1),
            },
            {"skip": 1, "history": (1, 2, 4, 8)},
        ),
    },
)


def network_config(dataset: str, smoke: bool = False, **overrides: Any) -> CISConfig:
    return DEFAULTS.network(CISConfig, dataset, smoke, **overrides)


def training_config(dataset: str, smoke: bool = False, **overrides: Any) -> CISTraining:
    return DEFAULTS.training(CISTraining, dataset, smoke, **overrides)


def inference_config(dataset: str, **overrides: Any) -> Inference:
    return DEFAULTS.inference(Inference, dataset, **overrides)
