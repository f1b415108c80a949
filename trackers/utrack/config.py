"""UTrack and OccE hyper-parameters (liuqk3/OUTrack src/lib/opts.py, trains/mot.py,
tracker/occ_tracker.py) per dataset: the network and its re-ID loss (``UTrackConfig``, what a
checkpoint holds), its training (``UTrackTraining``, recorded in a run's card) and the tracker's
settings (``Inference``).

Where the paper's text and the released code differ, the default is the code and the paper's
reading a named option: the embedding has 128 dimensions (opts.py:235; the paper says 256),
the intra-frame term sums both triangles of each frame's block (losses.py:599-601; eq. 3 sums
i < j: ``intra="paper"``), a lost track re-found by OccE is output at its recovered box only when
the occlusion centre agrees (the paper's Algorithm 1; the code outputs it at its Kalman box
whenever it was occluded within ``lost_frame_range``, ``occe_output="code"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.checkpoints import DatasetDefaults, FamilyDefaults, NetworkConfig
from harness.errors import ConfigError

MODELS = ("crops", "detector")
BACKBONES = ("small", "dla34")
BACKBONE_STRIDES = {"small": 16, "dla34": 32}
"""Each detector backbone's coarsest stride: input sides must be multiples of it."""
REID_LOSSES = ("utrack", "cycas", "supervised", "none")
PLACEHOLDERS = ("mean", "zero", "median", "none")
TERMS = ("intra", "inter", "cycle")
READINGS = ("code", "paper")
TRAIN_PARTS = ("all", "occlusion")


@dataclass(frozen=True)
class UTrackConfig(NetworkConfig):
    """The network and the re-ID loss it was trained with (defaults: the released code).

    ``model``: ``crops``, an embedding CNN on appearance crops (§3.1.1 allows any
    differentiable embedding), or ``detector``, the joint detector and embedder in FairMOT's
    form (``trackers.utrack.detector``) with OccE's heads when ``occlusion``; ``crop`` (crops
    only), ``channels``, ``head_channels`` (detector only): their widths; ``backbone`` (detector
    only): ``small`` (``channels`` wide, the CPU tier's) or ``dla34`` (the code's DLA-34 with
    plain convolutions, ``trackers.utrack.dla``; ``channels`` unused); ``input_size`` (detector
    only): (width, height) every frame is letterboxed to, in training and tracking (the code's
    1088 x 608), or None for frames as they come; ``embedding``: D;
    ``reid``: ``utrack`` (eqs 1-6), ``cycas`` (the CycAs baseline, losses.py:331-431),
    ``supervised`` (reads the identities: the upper reference) or ``none`` (no re-ID:
    FairMOT w/o); ``terms``: UTrack's loss terms; ``placeholder``: the column p (mean of the
    off-diagonal similarities, detached, by default); ``temperature``: a fixed T, or None for
    the adaptive log(C + 1) / ``epsilon`` with C columns (losses.py:503-515; 2 log(C + 1) in the
    paper); ``margin``: m of eq. 4 (<= 0: the code's adaptive margin); ``negatives``: the share
    of pairs drawn from two different videos or images (eq. 7-8, the paper's N^neg / (N^neg +
    N^pos): Table 8's 2/8 is 0.2; the code forces 0 for ``cycle_loss``, jde_json.py:741-742,
    though its CrowdHuman script asks for 0.2); ``pretrained``: the dataset of the model whose
    weights initialised this one (Table 10's rows marked *, ``UTrackTraining.pretrained_weights``),
    None when it started from its seed.
    """

    dataset: str = "sprites-mot"
    model: str = "crops"
    crop: int = 32
    channels: int = 32
    head_channels: int = 64
    backbone: str = "small"
    input_size: tuple[int, int] | None = None
    occlusion: bool = False
    embedding: int = 128
    reid: str = "utrack"
    terms: tuple[str, ...] = TERMS
    placeholder: str = "mean"
    temperature: float | None = None
    epsilon: float = 0.5
    margin: float = 0.5
    negatives: float = 0.0
    intra: str = "code"
    pretrained: str | None = None

    def __post_init__(self) -> None:
        for name, allowed in (
            ("model", MODELS),
            ("backbone", BACKBONES),
            ("reid", REID_LOSSES),
            ("placeholder", PLACEHOLDERS),
            ("intra", READINGS),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"utrack {name} must be one of {list(allowed)}, not {value!r}")
        unknown = sorted(set(self.terms) - set(TERMS))
        if unknown or not self.terms:
            raise ConfigError(f"utrack terms must be a non-empty subset of {list(TERMS)}")
        if self.temperature is not None and self.temperature <= 0:
            raise ConfigError(f"utrack temperature must be > 0, not {self.temperature}")
        if not 0.0 <= self.negatives < 1.0:
            raise ConfigError(f"utrack negatives must be in [0, 1), not {self.negatives}")
        if self.occlusion and self.model != "detector":
            raise ConfigError("utrack OccE heads need model 'detector'")
        if self.crop < 16 or self.crop % 16:
            raise ConfigError(f"utrack crop must be a multiple of 16, not {self.crop}")
        if self.model != "detector" and (self.backbone != "small" or self.input_size):
            raise ConfigError("utrack backbone and input_size belong to model 'detector'")
        stride = BACKBONE_STRIDES[self.backbone]
        sides = self.input_size or ()
        if self.input_size is not None and (
            len(sides) != 2 or any(side < stride or side % stride for side in sides)
        ):
            raise ConfigError(
                f"utrack input_size must be (width, height), multiples of {stride} for backbone"
                f" {self.backbone}, not {self.input_size}"
            )

    @property
    def variant(self) -> str:
        """The model's name in the paper's tables (the detector tier's prefixed)."""
        prefix = {"crops": "", "detector": "detector+OccE/" if self.occlusion else "detector/"}
        if self.reid != "utrack":
            names = {"cycas": "CycAs", "supervised": "supervised", "none": "no-reid"}
            parts = [prefix[self.model] + names[self.reid]]
        else:
            parts = [prefix[self.model] + "UTrack"]
            if set(self.terms) != set(TERMS):
                parts.append("+".join(t for t in TERMS if t in self.terms))
            if self.temperature is not None:
                parts.append(f"T={self.temperature:g}")
            if self.placeholder != "mean":
                parts.append(f"placeholder-{self.placeholder}")
            if self.negatives:
                parts.append(f"negatives-{self.negatives:g}")
            if self.intra == "paper":
                parts.append("intra-paper")
        if self.pretrained:
            parts.append(f"pretrained-{self.pretrained}")
        return "/".join(parts)

    def smoke(self) -> UTrackConfig:
        """A tiny model for CPU tests (the small backbone; ``input_size`` kept)."""
        return self.replace(crop=16, channels=4, head_channels=4, embedding=8, backbone="small")


def model_card(config: UTrackConfig) -> dict[str, Any]:
    """The head of every card: the method (``utrack``, the crop tier; ``outrack``, the detector
    tier), the variant and the network configuration."""
    method = "utrack" if config.model == "crops" else "outrack"
    return {"method": method, "variant": config.variant, "config": config.to_card()}


@dataclass(frozen=True)
class UTrackTraining(NetworkConfig):
    """How a run trains (trains/mot.py, opts.py): Adam at ``lr`` (1e-4) divided by 10 at
    ``lr_step`` iterations; ``batch`` frame pairs (8); the second frame of a pair is another frame
    of the same video at most ``frame_range`` (10) frames away (jde_json.py:432-464), embedded at
    the ground-truth boxes, or, with ``frame_range`` 0 (still images: CrowdHuman), the same image
    (jde_json.py:748-754); ``validation_pairs``: held-out pairs for the validation loss.
    ``augment``: each frame of a pair through the code's augmentation (``trackers.utrack.augment``:
    HSV, the network's letterbox, a random affine and flip shared by the pair's frames, the
    second's disturbed by 5-19 %); without it a still-image pair would be one image twice.
    The detector tier also learns detection (and OccE, its occlusion centres from pairs of boxes
    overlapping by more than ``occlusion_tau`` of the smaller, eq. 9), the re-ID loss weighted by
    ``id_weight`` before the learnt task weights (opts.py ``--id_weight``: 1 on MOT17, 10 in the
    CrowdHuman script); ``train_part`` ``occlusion`` fine-tunes the OccE heads alone (opts.py
    ``--train_part``), e.g. at another tau from a trained model (Table 6).
    ``pretrained_weights``: a checkpoint whose network weights start the run (the code's
    ``--load_model``; the task weights start afresh, heads it lacks from the seed), trained on
    the dataset the network's ``pretrained`` names. ``split``: the training data (MOT17's first
    halves, ``train-half``, as OUTrack's mot17.half)."""

    split: str = "train"
    lr: float = 1e-4
    lr_step: int = 20_000
    batch: int = 8
    frame_range: int = 10
    validation_pairs: int = 64
    occlusion_tau: float = 0.7
    train_part: str = "all"
    augment: bool = False
    id_weight: float = 1.0
    pretrained_weights: str | None = None

    def __post_init__(self) -> None:
        if self.batch < 1 or self.frame_range < 0 or self.lr <= 0 or self.lr_step < 1:
            raise ConfigError(
                "utrack training needs batch, lr_step >= 1, frame_range >= 0 and lr > 0, got"
                f" {self.batch}, {self.lr_step}, {self.frame_range}, {self.lr}"
            )
        if self.frame_range == 0 and not self.augment:
            raise ConfigError(
                "utrack frame_range 0 pairs an image with itself: it needs augment true"
            )
        if self.train_part not in TRAIN_PARTS:
            raise ConfigError(
                f"utrack train_part must be one of {list(TRAIN_PARTS)}, not {self.train_part!r}"
            )
        if not 0.0 <= self.occlusion_tau < 1.0:
            raise ConfigError(f"utrack occlusion_tau must be in [0, 1), not {self.occlusion_tau}")

    def learning_rate(self, iteration: int) -> float:
        """The rate at 0-based ``iteration`` (one step of x0.1, opts.py ``lr_step``)."""
        return self.lr * (0.1 if iteration >= self.lr_step else 1.0)

    def smoke(self) -> UTrackTraining:
        return self.replace(batch=2, frame_range=min(self.frame_range, 3), validation_pairs=2)


@dataclass(frozen=True)
class Inference:
    """How the JDE-style tracker of occ_tracker.py associates (opts.py defaults): detections with
    a score above ``conf_threshold`` (0.4); first association 0.98 x cosine distance to the
    track's momentum embedding (``momentum`` 0.9) + 0.02 x Mahalanobis distance, gated at the
    chi-square 95 % quantile, accepted below ``reid_threshold`` (0.4; 0.5 in the scripts); then
    1 - IoU below ``iou_threshold`` (0.5); unconfirmed tracks below ``unconfirmed_threshold``
    (0.7); a lost track lives ``track_buffer`` frames (30 at 30 fps). Output boxes of area at most
    ``min_box_area`` or wider than ``max_aspect`` x their height are dropped (occ_tracker.py:
    177-182; pedestrian rules, off on synthetic data). ``embeddings: false`` associates without
    re-ID (FairMOT w/o: IoU only).

    The detector tier keeps its ``top_k`` heatmap peaks (opts.K); with ``occe`` it re-finds lost
    tracks from its occlusion centres scoring at least ``occlusion_threshold`` (0.1): the
    agreement must exceed ``tau_o`` (0.7) within ``lost_frame_range`` frames (1; Algorithm 1's
    tau_w), the track output as ``occe_output`` says (``paper``: Algorithm 1; ``code``: at its
    Kalman box, see ``trackers.utrack.association.Occlusion``)."""

    conf_threshold: float = 0.4
    reid_threshold: float = 0.4
    iou_threshold: float = 0.5
    unconfirmed_threshold: float = 0.7
    motion_weight: float = 0.98
    momentum: float = 0.9
    track_buffer: int = 30
    min_box_area: float = 100.0
    max_aspect: float | None = 1.6
    embeddings: bool = True
    top_k: int = 500
    occe: bool = False
    occlusion_threshold: float = 0.1
    tau_o: float = 0.7
    lost_frame_range: int = 1
    occe_output: str = "paper"

    def __post_init__(self) -> None:
        if self.occe_output not in READINGS:
            raise ConfigError(
                f"utrack occe_output must be one of {list(READINGS)}, not {self.occe_output!r}"
            )
        if self.track_buffer < 0 or not 0.0 <= self.momentum <= 1.0:
            raise ConfigError(
                "utrack needs track_buffer >= 0 and momentum in [0, 1], got"
                f" {self.track_buffer}, {self.momentum}"
            )


def epochs(count: int, images: int, batch: int) -> int:
    """The iterations of ``count`` epochs over ``images`` frames in batches of ``batch``, the
    last partial batch of each dropped (train.py's DataLoader, drop_last)."""
    return count * (images // batch)


MOT17_HALF_FRAMES = 2657
"""Frames of OUTrack's MOT17 training list, src/data/mot17.half (the SDP first halves)."""
CROWDHUMAN_TRAIN_IMAGES = 15_000
"""Images of its CrowdHuman training list, src/data/crowdhuman.train."""
DETECTOR_ITERATIONS = {
    "mot17": epochs(30, MOT17_HALF_FRAMES, 8),
    "crowdhuman": epochs(60, CROWDHUMAN_TRAIN_IMAGES, 24),
}
"""The code's training length of the detector tier per dataset (opts.py ``--num_epochs`` 30;
experiments/crowdhuman.sh 60), at the batch of its defaults below."""

# CPU scale: 128x128 frames with ~21 px sprites: 32x32 crops, 32 channels, a network trained from
# scratch (the code starts from COCO weights) at 1e-3 for 3,000 iterations, the x0.1 step at 2,000
# (the code's 20 of 30 epochs). Sprites move a quarter of their side a frame (pedestrians in
# MOT17 a few per cent), so the IoU stage accepts IoU >= 0.3 (SORT's) where the code's 0.5 would
# lose every track the embeddings do not hold; boxes are squares of any area, so the pedestrian
# output filters are off. Both tiers.
SPRITES = DatasetDefaults(
    {},
    {"lr": 1e-3, "lr_step": 2_000},
    {"iou_threshold": 0.7, "min_box_area": 0.0, "max_aspect": None},
)
PEDESTRIAN_CROPS = {"crop": 64, "channels": 64}

DEFAULTS = FamilyDefaults(
    "utrack",
    {
        "mot17": DatasetDefaults(PEDESTRIAN_CROPS, {"split": "train-half"}, {}),
        # CrowdHuman's stills: an image and its re-augmented copy (the crop tier's pre-training of
        # Tables 7-9), MOT17's crops and rates.
        "crowdhuman": DatasetDefaults(PEDESTRIAN_CROPS, {"frame_range": 0, "augment": True}, {}),
        "sprites-mot": SPRITES,
    },
)
"""The crop tier's defaults per dataset."""

DLA34_INPUT = {
    "model": "detector",
    "backbone": "dla34",
    "head_channels": 256,
    "input_size": (1088, 608),
}
"""The code's detector: DLA-34, heads of 256 channels (opts.py head_conv), frames letterboxed to
1088 x 608 (jde_json.py JointDataset.default_resolution)."""

DETECTOR_DEFAULTS = FamilyDefaults(
    "outrack",
    {
        # experiments/mot17_half.sh: Adam 1e-4, batch 8, 30 epochs of mot17.half, x0.1 after 20.
        "mot17": DatasetDefaults(
            DLA34_INPUT,
            {
                "split": "train-half",
                "augment": True,
                "lr_step": epochs(20, MOT17_HALF_FRAMES, 8),
            },
            {},
        ),
        # experiments/crowdhuman.sh, UTrack's runs: Adam 3e-4, batch 24, id_weight 10, 60 epochs,
        # x0.1 after 50; each image paired with its re-augmented copy.
        "crowdhuman": DatasetDefaults(
            DLA34_INPUT,
            {
                "frame_range": 0,
                "augment": True,
                "lr": 3e-4,
                "batch": 24,
                "id_weight": 10.0,
                "lr_step": epochs(50, CROWDHUMAN_TRAIN_IMAGES, 24),
            },
            {},
        ),
        "sprites-mot": SPRITES,
    },
)
"""The detector tier's defaults per dataset."""


def defaults(model: str) -> FamilyDefaults:
    """The defaults of the tier that runs ``model``."""
    return DETECTOR_DEFAULTS if model == "detector" else DEFAULTS


def network_config(dataset: str, smoke: bool = False, **overrides: Any) -> UTrackConfig:
    model = overrides.get("model", "crops")
    return defaults(model).network(UTrackConfig, dataset, smoke, **overrides)


NETWORK_KEYS = (
    "model", "reid", "terms", "placeholder", "temperature", "negatives", "intra", "occlusion",
    "pretrained",
)  # fmt: skip
"""Registry config keys that say which trained network a setting needs."""


def registry_network(config: dict[str, Any]) -> UTrackConfig:
    """The network a registry config describes."""
    keys = {key: config[key] for key in NETWORK_KEYS if key in config}
    return network_config(config.get("dataset", "sprites-mot"), config.get("smoke", False), **keys)


def training_config(
    dataset: str, smoke: bool = False, model: str = "crops", **overrides: Any
) -> UTrackTraining:
    return defaults(model).training(UTrackTraining, dataset, smoke, **overrides)


def inference_config(dataset: str, model: str = "crops", **overrides: Any) -> Inference:
    return defaults(model).inference(Inference, dataset, **overrides)
