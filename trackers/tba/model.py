"""The TBA network (He et al., CVPR 2019, Alg. 1): feature extractor -> reprioritized attentive
tracker array -> output heads -> renderer, stepped frame by frame over a chunk with the recurrent
state (h, y_e) carried in and out.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from harness.compiled import compile_forward
from trackers.tba.config import TBAConfig
from trackers.tba.modules import FeatureExtractor, OutputHeads, TrackerArray, TrackerOutputs
from trackers.tba.renderer import Renderer, tba_loss


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
    loop, output heads and ACT) run by ``torch.compile(mode=mode)`` (``harness.compiled.
    compile_forward``: in place, parameter-free, outputs cloned under "reduce-overhead" since the
    chunk loop keeps every step's); None leaves it eager."""
    for module in (model.features, model.trackers):
        compile_forward(module, mode)
    return model
