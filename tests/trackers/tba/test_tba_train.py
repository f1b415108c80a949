"""TBA training on the generated stream: loss goes down, resume = uninterrupted, CLI (CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_helpers import fit_tba, smoke_train_args

from harness.checkpoints import read_card
from harness.cli import main
from harness.errors import ConfigError
from trackers.tba.config import TBAConfig
from trackers.tba.tracker import TBATracker

SMOKE = TBAConfig.for_dataset("sprites-mot").smoke()


def test_loss_decreases_on_the_stream(tmp_path):
    result = fit_tba(SMOKE, tmp_path, iterations=60, seed=0, checkpoint_every=30, log_every=10)
    assert [point["iteration"] for point in result.validation] == [60]  # default: at the end
    # the loss above the "render nothing" baseline ΣX² (data-dependent; removes chunk noise)
    excess = [point["total"] - point["frame_energy"] for point in result.curve]
    assert len(result.curve) == 6
    assert excess[-1] < excess[0] - 0.5
    assert result.iterations_per_s > 0 and result.frames_per_s > 0
    card = read_card(tmp_path / "last")
    assert card["iterations"] == 60 and card["curve"] == result.curve
    assert json.loads((tmp_path / "curve.json").read_text()) == result.curve


def test_resume_gives_the_uninterrupted_result(tmp_path):
    config = SMOKE.replace(reset_prob=0.3)  # resets happen within a few iterations
    options = {"seed": 1, "checkpoint_every": 2, "log_every": 1, "validate_every": None}
    whole = fit_tba(config, tmp_path / "whole", iterations=6, **options)
    fit_tba(config, tmp_path / "parts", iterations=4, **options)
    resumed = fit_tba(config, tmp_path / "parts", iterations=6, resume=True, **options)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.curve == whole.curve
    other = fit_tba(config, tmp_path / "other", iterations=6, **{**options, "seed": 2})
    assert not all(torch.equal(a[k], other.model.state_dict()[k]) for k in a)


def test_resume_refuses_another_configuration(tmp_path):
    fit_tba(SMOKE, tmp_path, iterations=1, checkpoint_every=1, log_every=1, validate_every=None)
    with pytest.raises(ConfigError, match="another configuration"):
        fit_tba(
            SMOKE.replace(act=False),
            tmp_path,
            iterations=2,
            checkpoint_every=1,
            log_every=1,
            resume=True,
        )
    with pytest.raises(ConfigError, match="multiple of"):
        fit_tba(SMOKE, tmp_path, iterations=2, checkpoint_every=3, log_every=2)


def test_trained_checkpoint_loads_into_the_tracker(tmp_path):
    options = {"checkpoint_every": 2, "log_every": 1, "validate_every": None}
    fit_tba(SMOKE.replace(act=False), tmp_path, 2, **options)
    tracker = TBATracker(act=False, smoke=True, checkpoint=str(tmp_path / "last"))
    assert tracker.checkpoint.card["iterations"] == 2


def test_train_command(tmp_path, capsys):
    args = smoke_train_args("tba:TBAc-noMem", tmp_path, "--hparam", "betas=[0.8, 0.9]")
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["variant"] == "TBAc-noMem" and summary["iterations"] == 2
    card = read_card(tmp_path / "last")
    assert "validation" not in card["data"]  # --validate-every 0: off
    assert card["config"]["batch"] == 2 and card["config"]["betas"] == [0.8, 0.9]
    assert np.isfinite(summary["last"]["total"])
    with pytest.raises(SystemExit) as exit_:
        main(["train", "sort", "--out", str(tmp_path)])
    assert exit_.value.code == 2
    assert "is not learnable" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([*args[:2], "--out", str(tmp_path / "x"), "--hparam", "num_trackers=2"])
    assert exit_.value.code == 2
    assert "no training hyper-parameters ['num_trackers']" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([*args[:2], "--out", str(tmp_path / "x"), "--hparam", "batch"])
    assert exit_.value.code == 2
    assert "bad --hparam 'batch': expected KEY=VALUE, e.g. batch=8" in capsys.readouterr().err


@pytest.mark.slow  # compiling forward + backward: ~1.5 min on 2 CPU cores (seconds once cached)
def test_compiled_training_gives_the_eager_loss(tmp_path):
    options = {"iterations": 1, "checkpoint_every": 1, "log_every": 1, "validate_every": None}
    eager = fit_tba(SMOKE, tmp_path / "eager", **options)
    compiled = fit_tba(SMOKE, tmp_path / "compiled", compile="default", **options)
    assert "forward" in vars(compiled.model.trackers)  # it did run compiled
    for name, value in eager.curve[0].items():
        assert compiled.curve[0][name] == pytest.approx(value, rel=0, abs=1e-4), name
    a, b = eager.model.state_dict(), compiled.model.state_dict()
    assert all(torch.allclose(a[k], b[k], rtol=0, atol=1e-4) for k in a)
    assert read_card(tmp_path / "compiled" / "last")["hardware"][0]["compile"] == "default"
    with pytest.raises(ConfigError, match="compile must be one of"):
        fit_tba(SMOKE, tmp_path / "bad", compile="fast", **options)


def test_a_time_limit_stops_at_a_curve_point_and_resumes(tmp_path):
    options = {"seed": 3, "checkpoint_every": 2, "log_every": 2, "validate_every": None}
    sliced = fit_tba(SMOKE, tmp_path / "sliced", iterations=6, max_minutes=0, **options)
    assert sliced.iterations == 2 and read_card(tmp_path / "sliced" / "last")["iterations"] == 2
    resumed = fit_tba(SMOKE, tmp_path / "sliced", iterations=6, resume=True, **options)
    whole = fit_tba(SMOKE, tmp_path / "whole", iterations=6, **options)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert resumed.iterations == 6 and all(torch.equal(a[k], b[k]) for k in a)
