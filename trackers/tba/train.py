"""Unsupervised TBA training on a generated stream (optimisation as the released code's ``run.py``).

One iteration = one chunk of N streams x T frames from ``adapter.generator`` (the same process as
``adapter.stream``; we drive it directly so its state can be checkpointed). Adam (lr 5e-4, betas
(0.9, 0.99), weight decay 1e-6), gradient norm clipped to 5, the recurrent state (h, y_e) carried
across chunks and detached (truncated BPTT over T frames), reset with probability 0.01 per
iteration. Gumbel noise is drawn (``stochastic``) as the released code trains. Mixed precision
(bfloat16 autocast) only on CUDA.

Checkpoints go to ``<out>/last`` every ``checkpoint_every`` iterations: ``last.pt`` + ``last.json``
(the model card, ``trackers.tba.model.save_checkpoint``) and ``last.train.pt`` (optimizer,
recurrent state, data-stream and RNG states). ``resume=True`` continues from them and gives the
same weights, bit for bit on CPU, as an uninterrupted run. The card holds:

- ``curve``: mean loss terms per ``log_every`` iterations (also ``<out>/curve.json``);
- ``validation``: every ``validate_every`` iterations and at the last one, MOTA, IDF1, HOTA, MOTP
  and IDSW of the deterministic model on a held-out generated video (the released ``run.py``
  validated every 1000 iterations; also ``<out>/validation.json``);
- ``hardware``: one segment per ``fit`` call (a run, then each resume) with its iterations, device,
  device name, torch threads and version, compile mode and training speed, so a run trained
  partly on a CPU and partly on a GPU says so;
- ``metrics`` after ``evaluate_checkpoint``: the evaluation video's metrics (dropped at the next
  save, since the weights change).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.data import Sequence
from harness.datasets import load_dataset
from harness.datasets.synthetic import StreamState
from harness.errors import ConfigError
from harness.metrics import evaluate
from harness.timing import cpu_name
from trackers.tba.config import TBAConfig
from trackers.tba.model import (
    TBA,
    TBAState,
    atomic_write,
    compile_model,
    frames_to_tensor,
    load_checkpoint,
    read_card,
    save_checkpoint,
    write_card,
)
from trackers.tba.tracker import TBATracker

CHECKPOINT_NAME = "last"
STREAM_ARRAYS = ("counter", "steps", "attrs", "births")
VALIDATION_SEED_OFFSET = 1
"""The validation video is the eval video's generator with seed ``eval_seed + 1``: not the
evaluation video, and not the training stream (seeded by ``SeedSequence(seed)`` children)."""
VALIDATION_CACHE = "validation-video"
"""Folder under the checkpoint folder that caches the validation video."""
VALIDATION_METRICS = ("MOTA", "IDF1", "HOTA", "MOTP", "IDSW")


@dataclass
class TrainResult:
    model: TBA
    iterations: int
    curve: list[dict[str, float]]
    validation: list[dict[str, float]]
    iterations_per_s: float
    frames_per_s: float
    checkpoint: Path


def fit(
    config: TBAConfig,
    out: str | Path,
    iterations: int,
    seed: int = 0,
    device: str = "cpu",
    checkpoint_every: int = 100,
    log_every: int = 10,
    resume: bool = False,
    dataset_root: str | Path | None = None,
    dataset_params: dict[str, Any] | None = None,
    validate_every: int | None = 1000,
    validation_frames: int = 500,
    compile: str | None = None,
    max_seconds: float | None = None,
) -> TrainResult:
    """Train ``config`` for ``iterations`` iterations in total (counting resumed ones).

    ``seed`` fixes the initial weights, the data stream, the resets and the Gumbel noise.
    ``checkpoint_every`` must be a multiple of ``log_every`` so a resume restarts on a curve point.
    ``validate_every`` None turns validation off; validating changes nothing in the training
    (no RNG is drawn, the weights are the same bit for bit). The validation video
    (``validation_frames`` frames) is cached under ``out/validation-video``. ``compile`` runs the
    model under ``torch.compile`` with that mode (``trackers.tba.model.compile_model``; None =
    eager). ``max_seconds`` stops the run early, checkpointed, at the first curve point after
    that much wall-clock time (a resume continues it): training in fixed time slices.
    """
    if iterations < 1 or log_every < 1 or checkpoint_every % log_every:
        raise ConfigError(
            f"need iterations >= 1 and checkpoint_every ({checkpoint_every}) a multiple of "
            f"log_every ({log_every})"
        )
    if validate_every is not None and (validate_every < 1 or validation_frames < 1):
        raise ConfigError(
            f"validate_every ({validate_every}) and validation_frames ({validation_frames}) "
            "must be >= 1"
        )
    out = Path(out)
    device = torch.device(device)
    dataset_params = dataset_params or {}
    adapter = load_dataset(config.dataset, dataset_root, **dataset_params)
    generator = adapter.generator
    frame_shape = (generator.height, generator.width, generator.channels)
    if frame_shape != (*config.frame_size, config.channels):
        raise ConfigError(
            f"{config.dataset} frames are {frame_shape}; the model takes "
            f"{(*config.frame_size, config.channels)}"
        )
    validation = None
    if validate_every is not None:
        validation = _Validation.build(adapter, out, dataset_params, validation_frames)

    run = _Run.resume(out, config, device) if resume else None
    if run is None:
        run = _Run.start(config, generator, seed, device, dataset_params)
    model, optimizer = compile_model(run.model, compile), run.optimizer
    amp = device.type == "cuda"
    window: list[dict[str, float]] = []
    segment, current = _Segment(run.iteration, device, compile), None
    deadline = None if max_seconds is None else time.perf_counter() + max_seconds
    model.train()
    while run.iteration < iterations:
        chunk = generator.advance(run.stream, run.data_rng, config.length)
        frames = frames_to_tensor(chunk.frames, device)  # (N, T, D, H, W)
        if run.reset_rng.random() < config.reset_prob:
            run.state = model.initial_state(config.batch, device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            reconstruction, outputs, state = model(
                frames, run.state, stochastic=True, generator=run.gumbel
            )
            losses = model.loss(reconstruction, frames, outputs)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
        optimizer.step()
        run.state = state.detach()
        run.iteration += 1
        window.append(
            {
                **{name: float(value.detach()) for name, value in losses.items()},
                # ΣX² per frame: the reconstruction loss of rendering nothing (a curve baseline)
                "frame_energy": float(frames.square().sum() / (frames.shape[0] * frames.shape[1])),
            }
        )
        last = run.iteration == iterations or (
            deadline is not None
            and run.iteration % log_every == 0
            and time.perf_counter() > deadline
        )
        if run.iteration % log_every == 0 or last:
            means = {name: float(np.mean([w[name] for w in window])) for name in window[0]}
            run.curve.append({"iteration": run.iteration, **means})
            window = []
        if validation is not None and (run.iteration % validate_every == 0 or last):
            with segment.paused():
                metrics = track_and_evaluate(model, validation.sequences, validation.protocol)
            run.validation.append(
                {"iteration": run.iteration, **{key: metrics[key] for key in VALIDATION_METRICS}}
            )
        if run.iteration % checkpoint_every == 0 or last:
            current = segment.summary(run.iteration, config)
            run.save(out, [*run.hardware, current], validation.description if validation else None)
        if last:
            break
    speed = current or run.hardware[-1]
    return TrainResult(
        model=model.eval(),
        iterations=run.iteration,
        curve=run.curve,
        validation=run.validation,
        iterations_per_s=speed["iterations_per_s"],
        frames_per_s=speed["frames_per_s"],
        checkpoint=out / CHECKPOINT_NAME,
    )


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
    tracker = TBATracker.from_model(model, stochastic=stochastic, seed=seed)
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


def evaluate_checkpoint(
    path: str | Path,
    split: str = "eval",
    frames: int | None = None,
    device: str = "cpu",
    dataset_root: str | Path | None = None,
    stochastic: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Evaluate checkpoint ``path`` on its dataset's ``split`` (the card's dataset params; the
    whole video, or its first ``frames`` frames) with the dataset's protocol, and write the result
    into the card as ``metrics`` (atomically). Returns the metrics. ``dataset_root`` is the
    dataset's folder (synthetic datasets: the cache; default ``$TRACKBENCH_CACHE``);
    ``stochastic`` and ``seed``: see ``track_and_evaluate``."""
    model, card = load_checkpoint(path, device)
    params = dict(card["data"]["params"])
    if frames is not None:
        params["eval_frames"] = frames
    adapter = load_dataset(card["data"]["dataset"], dataset_root, **params)
    sequences = adapter.sequences(split)
    metrics = {
        "dataset": card["data"]["dataset"],
        "split": split,
        "frames": sum(sequence.num_frames for sequence in sequences),
        "protocol": adapter.protocol,
        "iterations": card["iterations"],
        "stochastic": stochastic,
        **({"seed": seed} if stochastic else {}),
        **track_and_evaluate(model, sequences, adapter.protocol, stochastic, seed),
    }
    write_card(path, {**read_card(path), "metrics": metrics})
    return metrics


def hardware_info(device: torch.device) -> dict[str, Any]:
    """What a run trains on: device, its name (GPU or CPU model), torch threads and version."""
    cuda = device.type == "cuda"
    return {
        "device": str(device),
        "name": torch.cuda.get_device_name(device) if cuda else cpu_name(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


@dataclass
class _Validation:
    """The held-out validation video of a run."""

    sequences: list[Sequence]
    protocol: str
    description: dict[str, Any]

    @classmethod
    def build(cls, adapter, out: Path, dataset_params: dict[str, Any], frames: int) -> _Validation:
        """The dataset's eval generator with seed ``eval_seed + VALIDATION_SEED_OFFSET`` and
        ``frames`` frames, cached under ``out/VALIDATION_CACHE``."""
        seed = adapter.params["eval_seed"] + VALIDATION_SEED_OFFSET
        video = load_dataset(
            adapter.card["name"],
            out / VALIDATION_CACHE,
            **{**dataset_params, "eval_seed": seed, "eval_frames": frames},
        )
        return cls(video.sequences("eval"), video.protocol, {"eval_seed": seed, "frames": frames})


class _Segment:
    """One ``fit`` call's hardware and training speed; ``paused`` time (validation) excluded."""

    def __init__(self, from_iteration: int, device: torch.device, compile: str | None):
        self.from_iteration = from_iteration
        self.hardware = {**hardware_info(device), "compile": compile}
        self.started = time.perf_counter()
        self.paused_s = 0.0

    @contextmanager
    def paused(self) -> Iterator[None]:
        paused = time.perf_counter()
        try:
            yield
        finally:
            self.paused_s += time.perf_counter() - paused

    def summary(self, to_iteration: int, config: TBAConfig) -> dict[str, Any]:
        seconds = time.perf_counter() - self.started - self.paused_s
        done = to_iteration - self.from_iteration
        return {
            "from_iteration": self.from_iteration,
            "to_iteration": to_iteration,
            **self.hardware,
            "seconds": seconds,
            "iterations_per_s": done / seconds,
            "frames_per_s": done * config.batch * config.length / seconds,
        }


@dataclass
class _Run:
    """Everything a resumed run needs to continue exactly where the last checkpoint left off."""

    model: TBA
    optimizer: torch.optim.Optimizer
    state: TBAState
    stream: StreamState
    data_rng: np.random.Generator
    reset_rng: np.random.Generator
    gumbel: torch.Generator
    seed: int
    dataset_params: dict[str, Any]
    iteration: int = 0
    curve: list[dict[str, float]] = field(default_factory=list)
    validation: list[dict[str, float]] = field(default_factory=list)
    hardware: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        config: TBAConfig,
        generator,
        seed: int,
        device: torch.device,
        dataset_params: dict[str, Any],
    ) -> _Run:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = TBA(config).to(device)
        data_seed, reset_seed = np.random.SeedSequence(seed).spawn(2)
        return cls(
            model=model,
            optimizer=_optimizer(model),
            state=model.initial_state(config.batch, device),
            stream=generator.new_state(config.batch),
            data_rng=np.random.default_rng(data_seed),
            reset_rng=np.random.default_rng(reset_seed),
            gumbel=torch.Generator(device).manual_seed(seed),
            seed=seed,
            dataset_params=dataset_params,
        )

    @classmethod
    def resume(cls, out: Path, config: TBAConfig, device: torch.device) -> _Run | None:
        """The run saved in ``out``, or None when there is no checkpoint yet."""
        path = out / CHECKPOINT_NAME
        extra = path.with_name(path.name + ".train.pt")
        if not extra.is_file():
            return None
        model, card = load_checkpoint(path, device)
        if model.config != config:
            raise ConfigError(
                f"the checkpoint in {out} was trained with another configuration "
                f"({model.config.variant} on {model.config.dataset}); use a new --out"
            )
        saved = torch.load(extra, map_location=device, weights_only=True)
        optimizer = _optimizer(model)
        optimizer.load_state_dict(saved["optimizer"])
        gumbel = torch.Generator(device)
        gumbel.set_state(saved["gumbel"])
        stream = StreamState(
            **{name: saved["stream"][name].numpy() for name in STREAM_ARRAYS},
            frames_done=saved["stream"]["frames_done"],
        )
        return cls(
            model=model,
            optimizer=optimizer,
            state=TBAState(saved["h"], saved["conf"]),
            stream=stream,
            data_rng=_rng_from_json(saved["data_rng"]),
            reset_rng=_rng_from_json(saved["reset_rng"]),
            gumbel=gumbel,
            seed=card["seed"],
            dataset_params=card["data"]["params"],
            iteration=card["iterations"],
            curve=card["curve"],
            validation=card.get("validation", []),
            hardware=card.get("hardware") or _legacy_hardware(card),
        )

    def save(
        self, out: Path, hardware: list[dict[str, Any]], validation: dict[str, Any] | None
    ) -> None:
        """Write the training state first, then the model card: a card names a complete run."""
        path = out / CHECKPOINT_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = {
            "optimizer": self.optimizer.state_dict(),
            "h": self.state.h.cpu(),
            "conf": self.state.conf.cpu(),
            "gumbel": self.gumbel.get_state(),
            "stream": {
                **{name: torch.from_numpy(getattr(self.stream, name)) for name in STREAM_ARRAYS},
                "frames_done": self.stream.frames_done,
            },
            "data_rng": json.dumps(self.data_rng.bit_generator.state),
            "reset_rng": json.dumps(self.reset_rng.bit_generator.state),
        }
        atomic_write(path.with_name(path.name + ".train.pt"), lambda f: torch.save(extra, f))
        data = {
            "dataset": self.model.config.dataset,
            "params": self.dataset_params,
            "stream": "generator.advance, default_rng(SeedSequence(seed).spawn(2)[0])",
        }
        if validation is not None:
            data["validation"] = validation
        save_checkpoint(
            self.model,
            path,
            seed=self.seed,
            data=data,
            iterations=self.iteration,
            curve=self.curve,
            validation=self.validation,
            hardware=hardware,
        )
        _write_json(out / "curve.json", self.curve)
        if self.validation:
            _write_json(out / "validation.json", self.validation)


def _legacy_hardware(card: dict[str, Any]) -> list[dict[str, Any]]:
    """A card written before ``hardware`` existed: its ``speed`` (the last segment's figures)."""
    speed = card.get("speed")
    return [] if speed is None else [{"to_iteration": card["iterations"], **speed}]


def _write_json(path: Path, value: Any) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(value, indent=1).encode()))


def _optimizer(model: TBA) -> torch.optim.Adam:
    c = model.config
    return torch.optim.Adam(model.parameters(), lr=c.lr, betas=c.betas, weight_decay=c.weight_decay)


def _rng_from_json(text: str) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = json.loads(text)
    return rng
