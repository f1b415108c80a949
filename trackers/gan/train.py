"""Training of the Gan et al. (2015) neural trackers on the training kit (``harness.training``).

Appendix B: RMSProp with minibatches of 32 examples; §4: 20-frame training sequences, generated
on the fly (``GanMnist.stream``, MNIST train digits, the method's Single or Multi dataset). One
iteration = one batch. The loss is ``tracking_loss`` of the config (the code's variant: every
frame; the paper's: eqs 8 + 9). The paper gives no RMSProp settings (it cites Graves 2013), so
they are the released code's: RecTracker-ID lr 5e-4, ρ 0.9, ε 1e-6 (``recurrent_base.py``);
RecTracker-Att lr 1e-3, ρ 0.9, ε 1e-6 (``recurrent_att.py``); ConvTracker lr 1e-3 with Keras's
RMSprop defaults of the time (``conv_base.py``; ρ 0.9, ε 1e-6). Its update divides by
√(a + ε) with a starting at 0 (``harness.training.RootEpsRMSprop``, ``optimizer`` "root-eps");
``optimizer`` "torch" takes ``torch.optim.RMSprop``'s √a + ε instead. No gradient clipping (the
paper names none).

The code's budgets (``CODE_ITERATIONS``) are epochs of 2,000 minibatches of 32: 50 for
RecTracker-ID, 60 for RecTracker-Att, 37 for ConvTracker (which the code updates once per frame).

Validation (``validate_every``): mean IoU of the box masks (§6, ``mask_ious``) over the frames
after the first, on ``validation_frames`` frames' worth of sequences (of the card's ``length``) of
the dataset's ``val`` split (MNIST train digits, seed ``val_seed``; cached under
``<out>/validation``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from harness.data import SingleObjectSample
from harness.datasets import load_dataset
from harness.datasets.gan_mnist import GanMnistStream, TrainingBatch
from harness.errors import ConfigError
from harness.metrics.single import mask_ious, mean_iou
from harness.training import Recipe, RootEpsRMSprop, RunData, StepContext
from trackers.gan.config import GanConfig
from trackers.gan.models import build_model, ltwh_to_corners, tracking_loss
from trackers.gan.tracker import GanTracker, frames_to_tensor, method_config, model_card

OPTIMIZER = {  # model -> (lr, rho, eps) of RMSprop (see the module docstring)
    "ConvTracker": (1e-3, 0.9, 1e-6),
    "RecTracker-ID": (5e-4, 0.9, 1e-6),
    "RecTracker-Att-1": (1e-3, 0.9, 1e-6),
    "RecTracker-Att-3": (1e-3, 0.9, 1e-6),
}
CODE_ITERATIONS = {  # model -> minibatches of 32 the released code trains for (epochs × 2,000)
    "ConvTracker": 37 * 2000,
    "RecTracker-ID": 50 * 2000,
    "RecTracker-Att-1": 60 * 2000,
    "RecTracker-Att-3": 60 * 2000,
}
OPTIMIZERS = ("root-eps", "torch")
VALIDATION_CACHE = "validation"
"""Folder under the checkpoint folder that caches the validation sequences."""


def training_defaults(model: str) -> dict[str, Any]:
    """Batch 32 (Appendix B), 20-frame sequences (§4) and the code's RMSprop settings of
    ``model``."""
    lr, rho, eps = OPTIMIZER[model]
    return {"batch": 32, "length": 20, "lr": lr, "rho": rho, "eps": eps, "optimizer": "root-eps"}


class GanRecipe(Recipe):
    """A Gan et al. tracker's part of a training run (``harness.training.Recipe``)."""

    def __init__(
        self,
        config: GanConfig,
        dataset: str,
        variant: str,
        training: dict[str, Any],
        data: RunData,
    ):
        self.config, self.variant, self.dataset_params = config, variant, data.dataset_params
        self.training = training
        if training["optimizer"] not in OPTIMIZERS:
            raise ConfigError(
                f"optimizer must be one of {list(OPTIMIZERS)}, not {training['optimizer']!r}"
            )
        self.adapter = load_dataset(dataset, data.dataset_root, **self.dataset_params)
        head = model_card(config, dataset, variant)
        described = {
            "dataset": dataset,
            "params": self.dataset_params,
            "stream": "GanMnist.stream",
        }
        self.validation = None
        if data.validation_frames is not None:
            count = data.validation_frames // self.adapter.params["length"]
            if count < 1:
                raise ConfigError(
                    f"validation_frames ({data.validation_frames}) must be at least the "
                    f"sequence length ({self.adapter.params['length']})"
                )
            self.validation = (count, data.out / VALIDATION_CACHE)
            described["validation"] = {"split": "val", "sequences": count}
        self.card = {**head, "config": {**head["config"], **self.training}, "data": described}
        self.frames_per_iteration = self.training["batch"] * self.training["length"]
        self._samples: list[SingleObjectSample] | None = None

    @classmethod
    def hyperparameters(cls, config: dict[str, Any]) -> dict[str, Any]:
        return training_defaults(config["model"])

    @classmethod
    def from_method(
        cls, config: dict[str, Any], training: dict[str, Any], data: RunData
    ) -> GanRecipe:
        network = method_config(config["model"], config["variant"], config["smoke"])
        return cls(network, config["dataset"], config["variant"], training, data)

    def build_model(self) -> nn.Module:
        return build_model(self.config)

    def build_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        t = self.training
        if t["optimizer"] == "torch":
            return torch.optim.RMSprop(model.parameters(), lr=t["lr"], alpha=t["rho"], eps=t["eps"])
        return RootEpsRMSprop(model.parameters(), lr=t["lr"], rho=t["rho"], eps=t["eps"])

    def stream(self, seed: int) -> GanMnistStream:
        return self.adapter.stream(self.training["batch"], self.training["length"], seed)

    def loss(self, model: nn.Module, batch: TrainingBatch, step: StepContext) -> dict[str, Tensor]:
        """``tracking_loss`` of the predicted boxes, the first frame's ground truth given."""
        frames = frames_to_tensor(batch.frames, step.device)
        target = ltwh_to_corners(batch.boxes.astype(np.float32), self.config.frame_size)
        target = target.to(step.device)
        predicted = model(frames, target[:, 0])
        total = tracking_loss(predicted, target, self.config.loss, self.config.given_frames)
        return {"total": total}

    def validate(self, model: nn.Module) -> dict[str, float] | None:
        if self.validation is None:
            return None
        if self._samples is None:
            count, cache = self.validation
            params = {**self.dataset_params, "sequences": count}
            adapter = load_dataset(self.adapter.card["name"], cache, **params)
            self._samples = adapter.samples("val")
        tracker = GanTracker.from_model(model, self.card)
        return {"IoU": score(tracker, self._samples)["mean"]}


def score(tracker: GanTracker, samples: list[SingleObjectSample]) -> dict[str, Any]:
    """Gan et al.'s mean ± std IoU (``mean_iou``) of the box masks over each sample's frames after
    the first (the given one)."""
    results = tracker.track(samples)
    return mean_iou(
        [
            mask_ious(sample.boxes[1:], boxes[1:], sample.sequence.width, sample.sequence.height)
            for sample, boxes in zip(samples, results)
        ]
    )
