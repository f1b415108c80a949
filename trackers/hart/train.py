"""Training HART, its ablations and RATM on the training kit (``harness.training``), §4–5.

RMSProp with momentum 0.9 (lr 3.33e-5 on KTH, §5.1, and the synthetic set; 3.33e-6 on KITTI,
§5.2) as the released code's TensorFlow ``RMSPropOptimizer`` computes it: decay 0.9, ε 1e-10 inside
the square root and the mean square starting at 1 (``RootEpsRMSprop``; ``optimizer`` "torch"
takes ``torch.optim.RMSprop`` instead). Batch 10 and L2 1e-4 (the code), the code's soft gradient
clipping (``soft_clip``) and its curriculum (``Curriculum``): training sequences of 5 frames at
first, one frame longer when the training IoU reaches a threshold (0.7, falling linearly to 0.65 at
30 frames) after at least 13 epochs at the current length. The paper (§5.2) names only the
13 epochs; ``curriculum`` "epochs" grows on that schedule alone.

Data: the synthetic MNIST sets are generated on the fly (``CurriculumMnistStream``); a dataset
with a ``train`` split of samples (KTH, KITTI's ``hart-train``) gives random windows of its
samples (``WindowStream``), frames resized to the setup's ``frame_size``.
One iteration = one batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.data import SingleObjectSample
from harness.datasets import load_dataset
from harness.errors import ConfigError
from harness.metrics.single import frame_ious
from harness.training import (
    Recipe,
    RootEpsRMSprop,
    RunData,
    StepContext,
    numpy_rng,
    numpy_rng_state,
)
from trackers.hart.attention import ltwh_to_unit
from trackers.hart.config import HartConfig, network
from trackers.hart.losses import hart_loss
from trackers.hart.model import Hart, load_alexnet_weights
from trackers.hart.tracker import HartTracker, model_card

SETUP_TRAINING = {  # the setups' hyper-parameters (see the module docstring)
    "kitti": {"lr": 3.33e-6, "frame_size": (187, 621), "split": "hart-train", "test": "hart-test"},
    "kth": {"lr": 3.33e-5, "frame_size": (120, 160), "split": "train", "test": "test"},
    "mnist": {"lr": 3.33e-5, "frame_size": (100, 100), "split": "train", "test": "test"},
}
OPTIMIZERS = ("tf", "torch")
CURRICULA = ("iou", "epochs")
TRAINING_DEFAULTS = {
    "batch": 10,
    "optimizer": "tf",
    "momentum": 0.9,
    "decay": 0.9,
    "eps": 1e-10,
    "l2": 1e-4,
    "clip_rms": 0.3,
    "curriculum": "iou",
    "start_length": 5,
    "max_length": 30,
    "epochs_per_length": 13,
    "epoch_frames": 2000,
    "start_threshold": 0.7,
    "threshold_drop": 0.05,
    "report_every": 500,
}


def training_defaults(setup: str) -> dict[str, Any]:
    """The defaults of ``setup`` (lr) and of every setup (``TRAINING_DEFAULTS``)."""
    return {"lr": SETUP_TRAINING[setup]["lr"], **TRAINING_DEFAULTS}


@dataclass
class Curriculum:
    """The training sequences' length, as the released code's ``TrainSchedule`` grows it.

    ``start`` frames at first, at most ``longest``. An epoch is ``epoch_frames`` frames
    (``epoch_frames // (batch·length)`` batches, at least 1). Every ``report_every`` iterations
    (the code: its logging interval, the larger of 500 and 3 epochs) the training IoU of the
    batches since the last report is compared with the threshold, ``start_threshold`` falling
    linearly by ``threshold_drop`` from ``start`` to ``longest`` frames; the length grows by one
    when it is reached and at least ``epochs`` epochs were trained at this length. ``rule``
    "epochs" (the paper's reading) grows after ``epochs`` epochs whatever the IoU.
    """

    start: int
    longest: int
    epochs: int
    epoch_frames: int
    batch: int
    rule: str = "iou"
    start_threshold: float = 0.7
    threshold_drop: float = 0.05
    report_every: int = 500
    length: int = 0
    at_length: int = 0  # iterations at the current length
    scores: list[float] = field(default_factory=list)  # training IoU since the last report

    def __post_init__(self) -> None:
        if self.rule not in CURRICULA:
            raise ConfigError(f"curriculum must be one of {list(CURRICULA)}, not {self.rule!r}")
        self.length = self.length or self.start

    def batches_per_epoch(self) -> int:
        return max(self.epoch_frames // (self.batch * self.length), 1)

    def threshold(self) -> float:
        ratio = (min(self.length, self.longest) - self.start) / max(self.longest - self.start, 1)
        return self.start_threshold - ratio * self.threshold_drop

    def next_length(self) -> int:
        """The length of the next batch (the iteration is counted at its length)."""
        self.at_length += 1
        return self.length

    def report(self, iou: float) -> None:
        """The training IoU of the batch just trained; may lengthen the next batches."""
        self.scores.append(iou)
        epochs_done = self.at_length >= self.epochs * self.batches_per_epoch()
        if self.rule == "epochs":
            grow = epochs_done
        elif len(self.scores) < self.report_every:
            return
        else:
            grow = epochs_done and float(np.mean(self.scores)) >= self.threshold()
        self.scores = []
        if grow and self.length < self.longest:
            self.length, self.at_length = self.length + 1, 0

    def state_dict(self) -> dict[str, Any]:
        return {"length": self.length, "at_length": self.at_length, "scores": list(self.scores)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.length, self.at_length = int(state["length"]), int(state["at_length"])
        self.scores = [float(score) for score in state["scores"]]


class Batch(NamedTuple):
    """Frames (N, T, C, H, W) in [0, 1] and boxes (N, T, 4) in image units."""

    frames: Tensor
    boxes: Tensor


class CurriculumStream:
    """A seeded stream of batches of the curriculum's length; its position (the generator and
    the curriculum's state) can be saved (``harness.training.Stream``)."""

    def __init__(self, curriculum: Curriculum, seed: int):
        self.curriculum = curriculum
        self.rng = np.random.default_rng(seed)

    def next_length(self) -> int:
        """The length of the next batch's sequences, counting the batch."""
        return self.curriculum.next_length()

    def state_dict(self) -> dict[str, Any]:
        return {"rng": numpy_rng_state(self.rng), "curriculum": self.curriculum.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng = numpy_rng(state["rng"])
        self.curriculum.load_state_dict(state["curriculum"])


class CurriculumMnistStream(CurriculumStream):
    """Fresh Gan-MNIST sequences (``GanMnistGenerator.scene``)."""

    def __init__(self, adapter: Any, curriculum: Curriculum, seed: int):
        super().__init__(curriculum, seed)
        self.generator = adapter.generator("train")

    def next_batch(self) -> Batch:
        length = self.next_length()
        scene = self.generator.scene(self.rng, self.curriculum.batch, length)
        return to_batch(scene.frames, scene.boxes)


class WindowStream(CurriculumStream):
    """Random windows of ``samples`` (shorter samples are taken whole and padded by their last
    frame, boxes NaN there), frames resized to ``frame_size``."""

    def __init__(
        self,
        samples: list[SingleObjectSample],
        curriculum: Curriculum,
        frame_size: tuple[int, int],
        seed: int,
    ):
        super().__init__(curriculum, seed)
        self.samples, self.frame_size = samples, frame_size

    def next_batch(self) -> Batch:
        length = self.next_length()
        frames, boxes = [], []
        for index in self.rng.integers(len(self.samples), size=self.curriculum.batch):
            sample = self.samples[index]
            start = int(self.rng.integers(max(len(sample.frames) - length, 0) + 1))
            chosen = np.arange(start, start + length).clip(max=len(sample.frames) - 1)
            images = [sample.sequence.frame(int(sample.frames[i])) for i in chosen]
            frames.append(torch.stack([resized(image, self.frame_size) for image in images]))
            box = sample.boxes[chosen].astype(np.float32)
            box[chosen != np.arange(start, start + length)] = np.nan
            height, width = images[0].shape[:2]
            boxes.append(ltwh_to_unit(torch.from_numpy(box), height, width))
        return Batch(torch.stack(frames), torch.stack(boxes))


def resized(image: np.ndarray, size: tuple[int, int]) -> Tensor:
    """An (H, W, C) uint8 image as a (C, h, w) float tensor in [0, 1] of ``size`` (bilinear)."""
    x = torch.from_numpy(np.array(image, np.float32)).permute(2, 0, 1) / 255
    if tuple(x.shape[1:]) == tuple(size):
        return x
    return F.interpolate(x[None], size=size, mode="bilinear", align_corners=False)[0]


def to_batch(frames: np.ndarray, boxes: np.ndarray) -> Batch:
    """A ``Batch`` of uint8 frames (N, T, H, W, C) and 1-based ltwh boxes (N, T, 4)."""
    height, width = frames.shape[2:4]
    images = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 1, 4, 2, 3).float() / 255
    return Batch(images, ltwh_to_unit(torch.from_numpy(boxes.astype(np.float32)), height, width))


def soft_clip(parameters: list[nn.Parameter], limit: float) -> None:
    """The released code's clipping: if the root mean square of all gradient elements exceeds
    ``limit``, every gradient is scaled by limit / RMS."""
    grads = [p.grad for p in parameters if p.grad is not None]
    count = sum(g.numel() for g in grads)
    rms = torch.sqrt(sum(g.pow(2).sum() for g in grads) / count)
    scale = torch.where(rms > limit, limit / rms, torch.ones_like(rms))
    for g in grads:
        g.mul_(scale)


class HartRecipe(Recipe):
    """A HART-family network's part of a training run (``harness.training.Recipe``); its
    curriculum hears the training IoU, so its stream runs in the training process."""

    worker_streams = False

    def __init__(
        self,
        config: HartConfig,
        setup: str,
        dataset: str,
        training: dict[str, Any],
        data: RunData,
        backbone_weights: str | Path | None = None,
    ):
        self.config, self.setup, self.backbone_weights = config, setup, backbone_weights
        self.training = t = training
        self.dataset_params, self.dataset_root = data.dataset_params, data.dataset_root
        self.adapter = load_dataset(dataset, data.dataset_root, **self.dataset_params)
        if t["optimizer"] not in OPTIMIZERS:
            raise ConfigError(
                f"optimizer must be one of {list(OPTIMIZERS)}, not {t['optimizer']!r}"
            )
        self.curriculum_settings = {
            "start": t["start_length"],
            "longest": t["max_length"],
            "epochs": t["epochs_per_length"],
            "epoch_frames": t["epoch_frames"],
            "batch": t["batch"],
            "rule": t["curriculum"],
            "start_threshold": t["start_threshold"],
            "threshold_drop": t["threshold_drop"],
            "report_every": t["report_every"],
        }
        Curriculum(**self.curriculum_settings)  # refuses an unknown rule before training
        self.curriculum: Curriculum | None = None
        self.validation_frames = data.validation_frames
        self._validation: list[SingleObjectSample] | None = None
        head = model_card(config, setup, dataset)
        described = {
            "dataset": dataset,
            "params": self.dataset_params,
            "stream": self._stream_name(),
            "evaluation_split": SETUP_TRAINING[setup]["test"],
        }
        if backbone_weights is not None:
            described["backbone_weights"] = str(backbone_weights)
        self.card = {**head, "config": {**head["config"], **self.training}, "data": described}
        # the speed segments count the first length's frames: the curriculum lengthens them
        self.frames_per_iteration = t["batch"] * t["start_length"]

    @classmethod
    def hyperparameters(cls, config: dict[str, Any]) -> dict[str, Any]:
        return training_defaults(config["setup"])

    @classmethod
    def from_method(
        cls, config: dict[str, Any], training: dict[str, Any], data: RunData
    ) -> HartRecipe:
        net = network(config["setup"], config["variant"], config["smoke"])
        return cls(
            net, config["setup"], config["dataset"], training, data, config["backbone_weights"]
        )

    def _stream_name(self) -> str:
        return "generated" if hasattr(self.adapter, "generator") else "windows of the train split"

    def build_model(self) -> nn.Module:
        model = Hart(self.config)
        if self.backbone_weights is not None:
            load_alexnet_weights(model, self.backbone_weights)
        return model

    def build_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        t = self.training
        if t["optimizer"] == "torch":
            return torch.optim.RMSprop(
                model.parameters(),
                lr=t["lr"],
                alpha=t["decay"],
                eps=t["eps"],
                momentum=t["momentum"],
            )
        return RootEpsRMSprop(
            model.parameters(),
            lr=t["lr"],
            rho=t["decay"],
            eps=t["eps"],
            momentum=t["momentum"],
            initial_square=1.0,
        )

    def clip(self, model: nn.Module) -> None:
        soft_clip(list(model.parameters()), self.training["clip_rms"])

    def stream(self, seed: int) -> CurriculumMnistStream | WindowStream:
        self.curriculum = Curriculum(**self.curriculum_settings)
        if hasattr(self.adapter, "generator"):
            return CurriculumMnistStream(self.adapter, self.curriculum, seed)
        samples = self.adapter.samples(SETUP_TRAINING[self.setup]["split"])
        return WindowStream(
            samples, self.curriculum, SETUP_TRAINING[self.setup]["frame_size"], seed
        )

    def loss(self, model: nn.Module, batch: Batch, step: StepContext) -> dict[str, Tensor]:
        frames, boxes = batch.frames.to(step.device), batch.boxes.to(step.device)
        outputs = model(frames, boxes[:, 0], step.noise)
        terms = hart_loss(model, frames, outputs, boxes, self.training["l2"])
        if self.curriculum is not None:
            self.curriculum.report(float(terms["IoU"]))
        return {**terms, "length": torch.tensor(float(frames.shape[1]))}

    def validate(self, model: nn.Module) -> dict[str, float] | None:
        """Mean IoU (frames after the first) on ``validation_frames`` frames' worth of the
        dataset's ``val`` samples."""
        if self.validation_frames is None or "val" not in self.adapter.card["splits"]:
            return None
        if self._validation is None:
            params = dict(self.dataset_params)
            if "sequences" in self.adapter.params:  # a generated set: make only what is used
                length = self.adapter.params["length"]
                params["sequences"] = max(self.validation_frames // length, 1)
            adapter = load_dataset(self.adapter.card["name"], self.dataset_root, **params)
            samples = adapter.samples("val")
            ends = np.cumsum([len(s.frames) for s in samples])
            self._validation = samples[: int(np.searchsorted(ends, self.validation_frames)) + 1]
        tracker = HartTracker.from_model(model, self.card)
        return {"IoU": mean_iou(tracker, self._validation)}


def mean_iou(tracker: HartTracker, samples: list[SingleObjectSample]) -> float:
    """The mean over samples of the box IoU over each sample's frames after the first."""
    results = tracker.track(samples)
    return float(
        np.mean([np.nanmean(frame_ious(s.boxes[1:], b[1:])) for s, b in zip(samples, results)])
    )
