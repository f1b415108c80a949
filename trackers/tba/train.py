"""Unsupervised TBA training on a generated stream (SPEC §1.2 "Optimization").

One iteration = one chunk of N streams x T frames from ``adapter.generator`` (the same process as
``adapter.stream``; we drive it directly so its state can be checkpointed). Adam (lr 5e-4, betas
(0.9, 0.99), weight decay 1e-6), gradient norm clipped to 5, the recurrent state (h, y_e) carried
across chunks and detached (truncated BPTT over T frames), reset with probability 0.01 per
iteration. Gumbel noise is drawn (``stochastic``) as the released code trains. Mixed precision
(bfloat16 autocast) only on CUDA.

Checkpoints go to ``<out>/last`` every ``checkpoint_every`` iterations: ``last.pt`` + ``last.json``
(the model card, ``trackers.tba.model.save_checkpoint``) and ``last.train.pt`` (optimizer,
recurrent state, data-stream and RNG states). ``resume=True`` continues from them and gives the
same weights, bit for bit on CPU, as an uninterrupted run. The training curve (mean loss terms per
``log_every`` iterations) is in the card and in ``<out>/curve.json``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.datasets import load_dataset
from harness.datasets.synthetic import StreamState
from harness.errors import ConfigError
from trackers.tba.config import TBAConfig
from trackers.tba.model import (
    TBA,
    TBAState,
    atomic_write,
    frames_to_tensor,
    load_checkpoint,
    save_checkpoint,
)

CHECKPOINT_NAME = "last"
STREAM_ARRAYS = ("counter", "steps", "attrs", "births")


@dataclass
class TrainResult:
    model: TBA
    iterations: int
    curve: list[dict[str, float]]
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
) -> TrainResult:
    """Train ``config`` for ``iterations`` iterations in total (counting resumed ones).

    ``seed`` fixes the initial weights, the data stream, the resets and the Gumbel noise.
    ``checkpoint_every`` must be a multiple of ``log_every`` so a resume restarts on a curve point.
    """
    if iterations < 1 or log_every < 1 or checkpoint_every % log_every:
        raise ConfigError(
            f"need iterations >= 1 and checkpoint_every ({checkpoint_every}) a multiple of "
            f"log_every ({log_every})"
        )
    out = Path(out)
    device = torch.device(device)
    adapter = load_dataset(config.dataset, dataset_root, **(dataset_params or {}))
    generator = adapter.generator
    frame_shape = (generator.height, generator.width, generator.channels)
    if frame_shape != (*config.frame_size, config.channels):
        raise ConfigError(
            f"{config.dataset} frames are {frame_shape}; the model takes "
            f"{(*config.frame_size, config.channels)}"
        )

    run = _Run.resume(out, config, device) if resume else None
    if run is None:
        run = _Run.start(config, generator, seed, device, dataset_params or {})
    model, optimizer = run.model, run.optimizer
    amp = device.type == "cuda"
    window: list[dict[str, float]] = []
    started, start_iteration = time.perf_counter(), run.iteration
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
        if run.iteration % log_every == 0 or run.iteration == iterations:
            means = {name: float(np.mean([w[name] for w in window])) for name in window[0]}
            run.curve.append({"iteration": run.iteration, **means})
            window = []
        if run.iteration % checkpoint_every == 0 or run.iteration == iterations:
            seconds = time.perf_counter() - started
            done = run.iteration - start_iteration
            run.speed = {
                "iterations_per_s": done / seconds,
                "frames_per_s": done * config.batch * config.length / seconds,
                "device": str(device),
            }
            run.save(out)
    return TrainResult(
        model=model.eval(),
        iterations=run.iteration,
        curve=run.curve,
        iterations_per_s=run.speed["iterations_per_s"],
        frames_per_s=run.speed["frames_per_s"],
        checkpoint=out / CHECKPOINT_NAME,
    )


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
    curve: list[dict[str, float]] | None = None
    speed: dict[str, Any] | None = None

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
            curve=[],
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
            speed=card.get("speed"),
        )

    def save(self, out: Path) -> None:
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
        save_checkpoint(
            self.model,
            path,
            seed=self.seed,
            data={
                "dataset": self.model.config.dataset,
                "params": self.dataset_params,
                "stream": "generator.advance, default_rng(SeedSequence(seed).spawn(2)[0])",
            },
            iterations=self.iteration,
            curve=self.curve,
            speed=self.speed,
        )
        atomic_write(out / "curve.json", lambda f: f.write(json.dumps(self.curve).encode()))


def _optimizer(model: TBA) -> torch.optim.Adam:
    c = model.config
    return torch.optim.Adam(model.parameters(), lr=c.lr, betas=c.betas, weight_decay=c.weight_decay)


def _rng_from_json(text: str) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = json.loads(text)
    return rng
