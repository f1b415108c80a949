"""TBA training extras: validation during training, final evaluation into the card, hardware
segments, ``trackbench card`` (CPU, smoke config, short videos)."""

from __future__ import annotations

import json

import pytest
import torch
from train_helpers import fit_tba

from harness.checkpoints import read_card, write_card
from harness.datasets import load_dataset
from harness.lifecycle import evaluate_checkpoint
from harness.metrics import evaluate
from harness.timing import timed_track
from trackers.tba.config import TBAConfig
from trackers.tba.model import TBA
from trackers.tba.tracker import TBATracker
from trackers.tba.train import VALIDATION_METRICS, track_and_evaluate

SMOKE = TBAConfig.for_dataset("sprites-mot").smoke()
RESETTING = SMOKE.replace(reset_prob=0.3)  # resets happen within a few iterations
CONF_SHIFT = 0.6  # untrained y_e = tanh(a_e + 0.6) > 0.5: every slot is reported


def reporting_model() -> TBA:
    """An untrained smoke model whose every tracker is reported (so metrics are not all 0)."""
    torch.manual_seed(0)
    model = TBA(SMOKE)
    with torch.no_grad():
        model.trackers.heads.mlp[-1].bias[0] += CONF_SHIFT
    return model


def online_metrics(checkpoint, sequence, **options) -> dict:
    """Metrics of the registry tracker loaded from ``checkpoint``, stepped frame by frame."""
    tracker = TBATracker(smoke=True, checkpoint=str(checkpoint), **options)
    table, _ = timed_track(tracker, sequence, warmup_frames=0)
    return evaluate({sequence.name: sequence.gt}, {sequence.name: table})["combined"]


def test_validation_is_recorded_and_changes_nothing(tmp_path):
    options = {"iterations": 5, "seed": 1, "checkpoint_every": 1, "log_every": 1}
    rng_before = torch.random.get_rng_state()
    validated = fit_tba(
        RESETTING, tmp_path / "v", validate_every=2, validation_frames=30, **options
    )
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    plain = fit_tba(RESETTING, tmp_path / "p", validate_every=None, **options)
    a, b = validated.model.state_dict(), plain.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert validated.curve == plain.curve and plain.validation == []

    assert [point["iteration"] for point in validated.validation] == [2, 4, 5]
    assert all(set(point) == {"iteration", *VALIDATION_METRICS} for point in validated.validation)
    card = read_card(tmp_path / "v" / "last")
    assert card["validation"] == validated.validation
    assert json.loads((tmp_path / "v" / "validation.json").read_text()) == validated.validation
    eval_seed = load_dataset("sprites-mot").params["eval_seed"]
    assert card["data"]["validation"] == {"eval_seed": eval_seed + 1, "frames": 30}
    assert not (tmp_path / "p" / "validation.json").exists()
    assert "validation" not in read_card(tmp_path / "p" / "last")["data"]


def test_validation_and_hardware_survive_resume(tmp_path):
    options = {"seed": 1, "checkpoint_every": 2, "log_every": 1, "validation_frames": 20}
    whole = fit_tba(RESETTING, tmp_path / "whole", iterations=6, validate_every=2, **options)
    fit_tba(RESETTING, tmp_path / "parts", iterations=4, validate_every=2, **options)
    resumed = fit_tba(
        RESETTING, tmp_path / "parts", iterations=6, validate_every=2, resume=True, **options
    )
    assert resumed.validation == whole.validation
    assert [p["iteration"] for p in resumed.validation] == [2, 4, 6]

    segments = read_card(tmp_path / "parts" / "last")["hardware"]
    assert [(s["from_iteration"], s["to_iteration"]) for s in segments] == [(0, 4), (4, 6)]
    (segment,) = read_card(tmp_path / "whole" / "last")["hardware"]
    assert segment["device"] == "cpu" and segment["name"] and segment["compile"] is None
    assert segment["torch_threads"] == torch.get_num_threads()
    assert segment["torch"] == torch.__version__
    assert segment["iterations_per_s"] == pytest.approx(whole.iterations_per_s)
    per_iteration = RESETTING.batch * RESETTING.length
    assert segment["frames_per_s"] == pytest.approx(segment["iterations_per_s"] * per_iteration)
    assert "speed" not in read_card(tmp_path / "whole" / "last")  # one place for the speed


def test_resume_of_a_card_with_the_old_speed_key(tmp_path):
    fit_tba(SMOKE, tmp_path, iterations=2, checkpoint_every=2, log_every=1, validate_every=None)
    card = read_card(tmp_path / "last")
    segment = card.pop("hardware")[0]
    speed = {key: segment[key] for key in ("iterations_per_s", "frames_per_s", "device")}
    write_card(tmp_path / "last", {**card, "speed": speed})
    fit_tba(SMOKE, tmp_path, 3, checkpoint_every=2, log_every=1, validate_every=None, resume=True)
    old, new = read_card(tmp_path / "last")["hardware"]
    assert old == {"to_iteration": 2, **speed}
    assert (new["from_iteration"], new["to_iteration"]) == (2, 3)


def test_evaluation_equals_the_registry_tracker_online(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKBENCH_CACHE", str(tmp_path / "cache"))
    model = reporting_model()
    path = tmp_path / "last"
    data = {"dataset": "sprites-mot", "params": {}}
    TBATracker.from_model(model, {}).save(path, seed=0, data=data, iterations=7)
    metrics = evaluate_checkpoint("tba", path, frames=30)
    sequence = load_dataset("sprites-mot", eval_frames=30).sequences("eval")[0]
    expected = online_metrics(path, sequence)
    assert expected["FP"] > 0  # every slot reported: the comparison is not 0 == 0
    assert {key: metrics[key] for key in expected} == expected
    assert {key: metrics[key] for key in ("dataset", "split", "frames", "protocol")} == {
        "dataset": "sprites-mot",
        "split": "eval",
        "frames": 30,
        "protocol": "plain",
    }
    assert metrics["iterations"] == 7 and read_card(path)["metrics"] == metrics
    assert "settings" not in metrics

    noise = {"stochastic": True, "seed": 3}
    noisy = evaluate_checkpoint("tba", path, frames=30, settings=noise)
    expected = online_metrics(path, sequence, **noise)
    assert {key: noisy[key] for key in expected} == expected
    assert noisy["settings"] == noise


@pytest.mark.parametrize("training", [True, False])
def test_track_and_evaluate_restores_the_mode(tmp_path, training):
    sequence = load_dataset("sprites-mot", tmp_path, eval_frames=20).sequences("eval")[0]
    model = reporting_model().train(training)
    metrics = track_and_evaluate(model, [sequence], "plain")
    assert model.training is training and metrics["FP"] > 0


def test_train_evaluate_and_card_commands(tmp_path, monkeypatch, trackbench):
    monkeypatch.setenv("TRACKBENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    code, stdout, _ = trackbench(
        "train", "tba", "--out", out, "--iterations", 2, "--config", "smoke=true",
        "--checkpoint-every", 1, "--log-every", 1, "--validate-every", 1,
        "--validation-frames", 10, "--evaluate", "--param", "eval_frames=15",
    )  # fmt: skip
    assert code == 0
    summary = json.loads(stdout)
    assert summary["metrics"]["frames"] == 15 and "MOTA" in summary["metrics"]
    card = read_card(out / "last")
    assert card["metrics"] == summary["metrics"]
    assert [point["iteration"] for point in card["validation"]] == [1, 2]

    code, stdout, _ = trackbench("card", "tba", out / "last")
    assert code == 0
    shown = json.loads(stdout)
    assert (shown["variant"], shown["dataset"], shown["iterations"]) == ("TBA", "sprites-mot", 2)
    assert shown["hardware"] == card["hardware"] and shown["metrics"] == card["metrics"]
    assert shown["last_curve_point"] == card["curve"][-1]

    code, stdout, _ = trackbench("card", "tba", out / "last", "--evaluate", "--frames", 12)
    assert code == 0 and json.loads(stdout)["metrics"]["frames"] == 12
    noisy = ("--setting", "stochastic=true", "--setting", "seed=3")
    code, stdout, _ = trackbench("card", "tba", out / "last", "--evaluate", "--frames", 12, *noisy)
    assert code == 0
    assert json.loads(stdout)["metrics"]["settings"] == {"stochastic": True, "seed": 3}
    code, _, stderr = trackbench("card", "tba", tmp_path / "missing")
    assert code == 2 and "checkpoint not found" in stderr
