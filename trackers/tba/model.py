"""The TBA network (He et al., CVPR 2019, Alg. 1): feature extractor -> reprioritized attentive
tracker array -> output heads -> renderer, stepped frame by frame over a chunk with the recurrent
state (h, y_e) carried in and out; and its checkpoint (state_dict + JSON card).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

import harness
from harness.errors import ConfigError
from trackers.tba.config import TBAConfig
from trackers.tba.modules import FeatureExtractor, OutputHeads, TrackerArray, TrackerOutputs
from trackers.tba.renderer import Renderer, tba_loss

COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune-no-cudagraphs")
"""``compile_model`` modes: None = eager, else a ``torch.compile`` mode."""


def frames_to_tensor(frames: np.ndarray, device: torch.device | str) -> Tensor:
    """uint8 (..., H, W, D) images -> float (..., D, H, W) in [0, 1] on ``device``."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    return tensor.movedim(-1, -3).float() / 255


class TBAState(NamedTuple):
    """The recurrent state carried between frames: tracker states h (B, I, 4R), confidences
    y_e (B, I) (they decide the next frame's tracker order and ACT)."""

    h: Tensor
    conf: Tensor

    def detach(self) -> TBAState:
        return TBAState(self.h.detach(), self.conf.detach())

    def reset_where(self, reset: Tensor) -> TBAState:
        """Zero the state of the batch rows where ``reset`` (B,) is True."""
        keep = (~reset).to(self.h.dtype)
        return TBAState(self.h * keep[:, None, None], self.conf * keep[:, None])


class TBA(nn.Module):
    """TBA for one :class:`TBAConfig`; every component follows the config's ablation flags."""

    def __init__(self, config: TBAConfig):
        super().__init__()
        self.config = config
        self.features = FeatureExtractor(
            config.channels, config.cnn_channels, config.cnn_kernels, config.cnn_pool_sizes
        )
        heads = OutputHeads(
            config.state_dim,
            config.head_hidden,
            config.layers,
            config.patch,
            config.channels,
            config.mnist,
        )
        self.trackers = TrackerArray(
            config.slot_dim,
            config.state_dim,
            config.num_trackers,
            heads,
            act=config.act,
            reprioritize=config.reprioritize,
            memory_write=config.memory_write,
        )
        self.renderer = Renderer.from_config(config)

    def initial_state(self, batch: int, device: torch.device | str | None = None) -> TBAState:
        """All trackers idle: h = 0, y_e = 0."""
        device = device or next(self.parameters()).device
        c = self.config
        return TBAState(
            torch.zeros(batch, c.num_trackers, c.state_dim, device=device),
            torch.zeros(batch, c.num_trackers, device=device),
        )

    def forward(
        self,
        frames: Tensor,
        state: TBAState,
        background: Tensor | None = None,
        stochastic: bool = False,
        generator: torch.Generator | None = None,
        render: bool = True,
    ) -> tuple[Tensor | None, TrackerOutputs, TBAState]:
        """Track and reconstruct a chunk (Alg. 1 of the paper).

        ``frames`` (B, T, D, H, W) in [0, 1]; ``background`` (B, T, D, H, W) or None;
        ``stochastic`` draws the Gumbel noise (from ``generator`` when given). Returns the
        reconstructions X_r (B, T, D, H, W), the tracker outputs with every field stacked as
        (B, T, I, ...), and the state after the last frame; ``render=False`` (tracking only)
        skips the renderer and returns None for X_r. Features (eq. 1) and rendering
        (eqs 4-8) run on all B*T frames at once; only the tracker array steps through time.
        """
        batch, steps = frames.shape[:2]
        memory = self.features(frames.flatten(0, 1))
        memory = memory.reshape(batch, steps, self.config.num_slots, self.config.slot_dim)
        h, conf = state
        per_step = []
        for t in range(steps):
            h, outputs, _ = self.trackers(memory[:, t], h, conf, stochastic, generator)
            conf = outputs.conf
            per_step.append(outputs)
        outputs = TrackerOutputs(*(torch.stack(field, dim=1) for field in zip(*per_step)))
        reconstruction = self.renderer(outputs, background) if render else None
        return reconstruction, outputs, TBAState(h, conf)

    def loss(
        self,
        reconstruction: Tensor,
        frames: Tensor,
        outputs: TrackerOutputs,
        background: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """The chunk's loss terms per frame (``tba_loss``: summed, divided by N*T as the released
        ``net.py``); ``"total"`` is their sum."""
        return tba_loss(reconstruction, frames, outputs, self.config, background)


def compile_model(model: TBA, mode: str | None) -> TBA:
    """``model`` with its feature extractor and per-frame tracker-array step (the sequential RAT
    loop, output heads and ACT) run by ``torch.compile(mode=mode)``; None leaves it eager.

    In place and parameter-free (each ``forward`` is wrapped), so ``state_dict`` and checkpoints
    are unchanged. "reduce-overhead" replays CUDA graphs on CUDA, whose outputs the next
    compiled call overwrites, so its outputs are cloned: the chunk loop keeps every step's.
    """
    if mode not in COMPILE_MODES:
        raise ConfigError(f"compile must be one of {list(COMPILE_MODES)}, not {mode!r}")
    if mode is not None:
        for module in (model.features, model.trackers):
            module.forward = _compiled(module.forward, mode)
    return model


def _compiled(forward: Callable, mode: str) -> Callable:
    compiled = torch.compile(forward, mode=mode)
    if mode != "reduce-overhead":
        return compiled

    def forward_cloned(*args: Any, **kwargs: Any) -> Any:
        return _cloned(compiled(*args, **kwargs))

    return forward_cloned


def _cloned(value: Any) -> Any:
    """``value`` with every tensor cloned, through tuples and named tuples."""
    if isinstance(value, Tensor):
        return value.clone()
    if isinstance(value, tuple):
        items = [_cloned(item) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    return value


# -- checkpoints ----------------------------------------------------------------------------------


def checkpoint_files(path: str | Path) -> tuple[Path, Path]:
    """(``<path>.pt``, ``<path>.json``); ``path`` may also be given with either suffix."""
    path = Path(path)
    if path.suffix in (".pt", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".pt"), path.with_name(path.name + ".json")


def save_checkpoint(model: TBA, path: str | Path, **card: Any) -> None:
    """Write ``<path>.pt`` (the state_dict only) and ``<path>.json`` (config, code version and
    ``card``: data seed, iterations, training curve, metrics ...), each atomically."""
    weights = checkpoint_files(path)[0]
    weights.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "method": "tba",
        "variant": model.config.variant,
        "config": model.config.to_dict(),
        "code_version": harness.__version__,
        "torch_version": torch.__version__,
        **card,
    }
    atomic_write(weights, lambda f: torch.save(model.state_dict(), f))
    write_card(path, document)


def write_card(path: str | Path, card: dict[str, Any]) -> None:
    """Write ``card`` as the JSON card of checkpoint ``path``, atomically."""
    card_path = checkpoint_files(path)[1]
    atomic_write(card_path, lambda f: f.write(json.dumps(card, indent=2).encode()))


def card_summary(card: dict[str, Any]) -> dict[str, Any]:
    """The headline of a card: variant, dataset, iterations, seed, the hardware segments (with
    their speed), the last curve and validation points and the evaluation metrics if any."""
    return {
        "variant": card["variant"],
        "dataset": card["config"]["dataset"],
        "iterations": card.get("iterations"),
        "seed": card.get("seed"),
        "hardware": card.get("hardware"),
        "last_curve_point": card["curve"][-1] if card.get("curve") else None,
        "last_validation": card["validation"][-1] if card.get("validation") else None,
        "metrics": card.get("metrics"),
    }


def read_card(path: str | Path) -> dict[str, Any]:
    """The JSON card of checkpoint ``path``."""
    card_path = checkpoint_files(path)[1]
    if not card_path.is_file():
        raise ConfigError("TBA checkpoint not found (make one with `trackbench train`)", card_path)
    return json.loads(card_path.read_text(encoding="utf-8"))


def checkpoint_weights(path: str | Path) -> Path:
    """The weights file of checkpoint ``path``; ConfigError if it is missing."""
    weights = checkpoint_files(path)[0]
    if not weights.is_file():
        raise ConfigError("TBA checkpoint weights not found", weights)
    return weights


def load_checkpoint(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[TBA, dict[str, Any]]:
    """The model of checkpoint ``path`` (built from its card's config) and its card.

    Weights are read with ``torch.load(weights_only=True)``: no arbitrary unpickling.
    """
    card = read_card(path)
    weights = checkpoint_weights(path)
    model = TBA(TBAConfig.from_dict(card["config"]))
    model.load_state_dict(torch.load(weights, map_location=device, weights_only=True))
    return model.to(device), card


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write through a temporary file and rename, so a killed run never leaves half a file."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as f:
        write(f)
    partial.replace(path)
