"""TBA's ``compile`` option: eager by default, validated, and parameter-free (CPU, no compiling)."""

from __future__ import annotations

import pytest
import torch

from harness.compiled import COMPILE_MODES
from harness.errors import ConfigError
from harness.registry import parse_method
from trackers.tba.config import TBAConfig
from trackers.tba.model import TBA, compile_model
from trackers.tba.tracker import TBATracker


def test_eager_is_the_default():
    spec, name = parse_method("tba")
    assert spec.config["compile"] is None
    tracker = spec.build(name, smoke=True)
    assert tracker.compile_mode is None
    # eager: the modules' own forward, no wrapper on the instances
    assert "forward" not in vars(tracker.model.features)
    assert "forward" not in vars(tracker.model.trackers)


@pytest.mark.parametrize("mode", ["reduce_overhead", "max-autotune", "eager", True])
def test_unknown_compile_mode_is_a_config_error(mode):
    with pytest.raises(ConfigError, match="compile must be one of"):
        TBATracker(smoke=True, compile=mode)
    spec, name = parse_method("tba:TBAc")
    with pytest.raises(ConfigError, match="compile must be one of"):
        spec.build(name, smoke=True, compile=mode)


@pytest.mark.parametrize("mode", [m for m in COMPILE_MODES if m is not None])
def test_compiling_wraps_the_step_and_keeps_the_state_dict(mode):
    """Wrapping is lazy (torch.compile compiles on the first call, not tested here)."""
    torch.manual_seed(0)
    model = TBA(TBAConfig().smoke())
    keys = list(model.state_dict())
    assert compile_model(model, mode) is model
    assert callable(vars(model.features)["forward"]) and callable(vars(model.trackers)["forward"])
    assert list(model.state_dict()) == keys
