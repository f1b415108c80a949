"""Running a network's ``forward`` under ``torch.compile`` without changing its parameters:
training (``harness.training``) and trackers alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from harness.errors import ConfigError

COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune-no-cudagraphs")
"""``compile`` modes: None = eager, else a ``torch.compile`` mode."""


def compile_forward(module: nn.Module, mode: str | None) -> nn.Module:
    """``module`` with its ``forward`` run by ``torch.compile(mode=mode)``; None leaves it eager.

    In place and parameter-free (the instance's ``forward`` is wrapped), so ``state_dict`` and
    checkpoints are unchanged. "reduce-overhead" replays CUDA graphs on CUDA, whose outputs the
    next compiled call overwrites, so its outputs are cloned.
    """
    if mode not in COMPILE_MODES:
        raise ConfigError(f"compile must be one of {list(COMPILE_MODES)}, not {mode!r}")
    if mode is not None:
        module.forward = _compiled(module.forward, mode)
    return module


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
