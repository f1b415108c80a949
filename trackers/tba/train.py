"""Unsupervised TBA training on a generated stream (optimisation as the released code's ``run.py``),
on the training kit (``harness.training``: resumable loop, checkpoints, curve, time slices,
hardware segments); this module is TBA's ``Recipe`` and its validation.

One iteration = one chunk of N streams x T frames from ``adapter.generator`` (the same process as
``adapter.stream``; we drive it directly so its state can be checkpointed). Adam (lr 5e-4, betas
(0.9, 0.99), weight decay 1e-6), gradient norm clipped to 5, the recurrent state (h, y_e) carried
across chunks and detached (truncated BPTT over T frames), reset with probability 0.01 per
iteration. Gumbel noise is drawn (``stochastic``) as the released code trains. Mixed precision
(bfloat16 autocast) only on CUDA.

The card (``<out>/last.json``) holds, beside the kit's curve and hardware segments (``curve`` adds
``frame_energy``, ΣX² per frame: the reconstruction loss of rendering nothing, a curve baseline):

- ``validation``: every ``validate_every`` iterations and at the last one, MOTA, IDF1, HOTA, MOTP
  and IDSW of the deterministic model on a held-out generated video (the released ``run.py``
  validated every 1000 iterations; also ``<out>/validation.json``);
- ``metrics`` after ``trackbench card --evaluate`` (``harness.lifecycle``): the evaluation
  video's metrics (dropped at the next save, since the weights change).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from harness.data import Sequence
from harness.datasets import load_dataset
from harness.datasets.synthetic import StreamState, TbaGenerator
from harness.errors import ConfigError
from harness.metrics import evaluate
from harness.training import (
    Recipe,
    RunData,
    StepContext,
    numpy_rng,
    numpy_rng_state,
)
from trackers.tba.config import TRAINING_FIELDS, TBAConfig
from trackers.tba.model import TBA, TBAState, compile_model, frames_to_tensor
from trackers.tba.tracker import TBATracker, model_card

STREAM_ARRAYS = ("counter", "steps", "attrs", "births")
VALIDATION_SEED_OFFSET = 1
"""The validation video is the eval video's generator with seed ``eval_seed + 1``: not the
evaluation video, and not the training stream (seeded by ``SeedSequence(seed)`` children)."""
VALIDATION_CACHE = "validation-video"
"""Folder under the checkpoint folder that caches the validation video."""
VALIDATION_METRICS = ("MOTA", "IDF1", "HOTA", "MOTP", "IDSW")


class TrainingChunk(NamedTuple):
    """One iteration's data: ``frames`` (N, T, H, W, D) uint8, and whether the recurrent state
    is reset before them."""

    frames: np.ndarray
    reset: bool


class TBAStream:
    """Chunks of ``batch`` generated streams, ``length`` frames each, and the state resets
    (``harness.training.Stream``): the data from ``SeedSequence(seed).spawn(2)[0]``, the resets
    from ``[1]``."""

    def __init__(self, generator: TbaGenerator, config: TBAConfig, seed: int):
        self.generator, self.length, self.reset_prob = generator, config.length, config.reset_prob
        data_seed, reset_seed = np.random.SeedSequence(seed).spawn(2)
        self.state = generator.new_state(config.batch)
        self.data_rng = np.random.default_rng(data_seed)
        self.reset_rng = np.random.default_rng(reset_seed)

    def next_batch(self) -> TrainingChunk:
        chunk = self.generator.advance(self.state, self.data_rng, self.length)
        return TrainingChunk(chunk.frames, self.reset_rng.random() < self.reset_prob)

    def state_dict(self) -> dict[str, Any]:
        return {
            **{name: torch.from_numpy(getattr(self.state, name)) for name in STREAM_ARRAYS},
            "frames_done": self.state.frames_done,
            "data_rng": numpy_rng_state(self.data_rng),
            "reset_rng": numpy_rng_state(self.reset_rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        arrays = {name: state[name].numpy() for name in STREAM_ARRAYS}
        self.state = StreamState(**arrays, frames_done=state["frames_done"])
        self.data_rng = numpy_rng(state["data_rng"])
        self.reset_rng = numpy_rng(state["reset_rng"])


class TBARecipe(Recipe):
    """TBA's part of a training run (``harness.training.Recipe``) on ``config.dataset`` (``data``:
    its folder and card parameters), validated on a video of ``data.validation_frames`` frames
    cached under ``data.out`` (None: no validation). The
    best-validated checkpoint is the one of highest validation MOTA (the released code keeps the
    one of lowest validation loss, which is not computed here)."""

    selection = ("MOTA", "max")
    cuda_amp = torch.bfloat16

    def __init__(self, config: TBAConfig, data: RunData):
        dataset_params = data.dataset_params
        self.config = config
        self.adapter = load_dataset(config.dataset, data.dataset_root, **dataset_params)
        generator = self.adapter.generator
        frame_shape = (generator.height, generator.width, generator.channels)
        if frame_shape != (*config.frame_size, config.channels):
            raise ConfigError(
                f"{config.dataset} frames are {frame_shape}; the model takes "
                f"{(*config.frame_size, config.channels)}"
            )
        described = {
            "dataset": config.dataset,
            "params": dataset_params,
            "stream": "generator.advance, default_rng(SeedSequence(seed).spawn(2)[0])",
        }
        self.validation = None
        if data.validation_frames is not None:
            self.validation = _Validation(
                self.adapter, dataset_params, data.out / VALIDATION_CACHE, data.validation_frames
            )
            described["validation"] = self.validation.description
        self.card = {**model_card(config), "data": described}
        self.frames_per_iteration = config.batch * config.length
        self.clip_grad_norm = config.clip_grad_norm

    @classmethod
    def hyperparameters(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The training fields of the method's configuration (``config.TRAINING_FIELDS``)."""
        tba = TBATracker.network_of(config)
        return {name: getattr(tba, name) for name in sorted(TRAINING_FIELDS)}

    @classmethod
    def from_method(
        cls, config: dict[str, Any], training: dict[str, Any], data: RunData
    ) -> TBARecipe:
        return cls(TBATracker.network_of(config).replace(**training), data)

    def build_model(self) -> TBA:
        return TBA(self.config)

    def build_optimizer(self, model: TBA) -> torch.optim.Adam:
        c = self.config
        return torch.optim.Adam(
            model.parameters(), lr=c.lr, betas=c.betas, weight_decay=c.weight_decay
        )

    def stream(self, seed: int) -> TBAStream:
        return TBAStream(self.adapter.generator, self.config, seed)

    def loss(self, model: TBA, batch: TrainingChunk, step: StepContext) -> dict[str, Tensor]:
        """The chunk's loss terms (``TBA.loss``) with the Gumbel noise drawn from ``step.noise``,
        the state carried in ``step.carry``, and ``frame_energy``."""
        frames = frames_to_tensor(batch.frames, step.device)  # (N, T, D, H, W)
        if batch.reset or not step.carry:
            state = model.initial_state(self.config.batch, step.device)
        else:
            state = TBAState(**step.carry)
        reconstruction, outputs, state = model(frames, state, stochastic=True, generator=step.noise)
        step.carry = state.detach()._asdict()
        energy = frames.square().sum() / (frames.shape[0] * frames.shape[1])
        return {**model.loss(reconstruction, frames, outputs), "frame_energy": energy}

    def validate(self, model: TBA) -> dict[str, float] | None:
        if self.validation is None:
            return None
        sequences, protocol = self.validation.sequences
        metrics = track_and_evaluate(model, sequences, protocol)
        return {key: metrics[key] for key in VALIDATION_METRICS}

    def compile(self, model: TBA, mode: str | None) -> TBA:
        return compile_model(model, mode)


def track_and_evaluate(
    model: TBA,
    sequences: list[Sequence],
    protocol: str,
    stochastic: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Combined metrics (``harness.metrics.evaluate``) of ``model`` run on ``sequences`` by
    ``TBATracker.track`` (the TBA output protocol): deterministic, or with the test-time Gumbel
    noise of the released code seeded by ``seed`` (a generator of its own: the global RNG is not
    touched). The model is back in its previous train/eval mode afterwards."""
    tracker = TBATracker.from_model(model, {}, stochastic=stochastic, seed=seed)
    was_training = model.training
    model.eval()
    try:
        results = tracker.track(sequences)
    finally:
        model.train(was_training)
    return evaluate(
        {sequence.name: sequence.gt for sequence in sequences},
        {sequence.name: result for sequence, result in zip(sequences, results)},
        protocol=protocol,
        num_frames={sequence.name: sequence.num_frames for sequence in sequences},
    )["combined"]


class _Validation:
    """The held-out validation video of a run: the dataset's eval generator with seed
    ``eval_seed + VALIDATION_SEED_OFFSET`` and ``frames`` frames, cached in ``cache``, generated
    at its first use."""

    def __init__(self, adapter, dataset_params: dict[str, Any], cache: Path, frames: int):
        if frames < 1:
            raise ConfigError(f"validation_frames must be >= 1, not {frames}")
        self.dataset, self.dataset_params, self.cache = adapter.card["name"], dataset_params, cache
        seed = adapter.params["eval_seed"] + VALIDATION_SEED_OFFSET
        self.description = {"eval_seed": seed, "frames": frames}

    @cached_property
    def sequences(self) -> tuple[list[Sequence], str]:
        """The video's sequences and protocol."""
        seed, frames = self.description["eval_seed"], self.description["frames"]
        params = {**self.dataset_params, "eval_seed": seed, "eval_frames": frames}
        video = load_dataset(self.dataset, self.cache, **params)
        return video.sequences("eval"), video.protocol
