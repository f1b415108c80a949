"""Training of the Gan et al. neural trackers on the generated MNIST stream (CPU, tiny models):
the loss falls, resume = uninterrupted, ``trackbench train`` / ``card``, and an experiment."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from experiment_helpers import run, write
from train_helpers import smoke_train_args

from harness.checkpoints import read_card
from harness.cli import main
from harness.datasets import load_dataset
from harness.errors import ConfigError
from harness.store import COMBINED
from harness.timing import timed_follow
from harness.training import RootEpsRMSprop, RunData
from harness.training import train as kit_train
from trackers.gan.tracker import GanTracker
from trackers.gan.train import GanRecipe


def recipe(tmp_path, mnist_dir, validation_frames=None, **hyperparameters):
    """The recipe of a smoke RecTracker-ID (the paper's variant) on batches of 16 sequences of 10
    frames."""
    training = {"batch": 16, "length": 10, "lr": 3e-3, **hyperparameters}
    data = RunData(
        tmp_path, tmp_path / "data", {"mnist_dir": str(mnist_dir), "length": 10}, validation_frames
    )
    config = {"model": "RecTracker-ID", "dataset": "mnist-single-same", "variant": "paper"}
    return GanRecipe.from_method(
        {**config, "smoke": True}, GanRecipe.settings(config, training), data
    )


def train(tmp_path, mnist_dir, iterations, validation_frames=None, **options):
    """A smoke RecTracker-ID trained on batches of 16 sequences of 10 frames."""
    options = {"checkpoint_every": 10, "log_every": 10, "validate_every": None, **options}
    gan = recipe(tmp_path, mnist_dir, validation_frames)
    return kit_train(gan, tmp_path, iterations, **options)


def test_loss_falls_and_validation_scores_iou(tmp_path, mnist_dir):
    result = train(tmp_path, mnist_dir, 60, validate_every=30, validation_frames=30)
    losses = [point["total"] for point in result.curve]
    assert [point["iteration"] for point in result.curve] == [10, 20, 30, 40, 50, 60]
    assert np.mean(losses[-3:]) < 0.75 * losses[0], losses  # about 0.63 x
    assert [point["iteration"] for point in result.validation] == [30, 60]
    assert all(0 < point["IoU"] <= 1 for point in result.validation)
    card = read_card(tmp_path / "last")
    assert card["config"] == {
        "dataset": "mnist-single-same",
        "variant": "paper",
        "model": card["config"]["model"],
        "batch": 16,
        "length": 10,
        "lr": 3e-3,
        "rho": 0.9,  # the released code's RMSprop (the paper gives none)
        "eps": 1e-6,
        "optimizer": "root-eps",
    }
    assert card["data"]["validation"] == {"split": "val", "sequences": 3}
    best = max(result.validation, key=lambda point: point["IoU"])
    selected = read_card(tmp_path / "best")["selected"]
    assert selected == {"by": "max validation IoU", "iteration": best["iteration"], **best}


def test_resume_gives_the_uninterrupted_result(tmp_path, mnist_dir):
    options = {"seed": 1, "checkpoint_every": 2, "log_every": 1}
    whole = train(tmp_path / "whole", mnist_dir, 4, **options)
    train(tmp_path / "parts", mnist_dir, 2, **options)
    resumed = train(tmp_path / "parts", mnist_dir, 4, resume=True, **options)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.curve == whole.curve


def test_unknown_hyperparameters_are_refused(tmp_path, mnist_dir):
    with pytest.raises(ConfigError, match=r"no training hyper-parameters \['betas'\]"):
        recipe(tmp_path, mnist_dir, betas=1)
    with pytest.raises(ConfigError, match="optimizer must be one of"):
        recipe(tmp_path, mnist_dir, optimizer="sgd")


def test_the_code_rmsprop_is_the_default_and_torch_s_the_option(tmp_path, mnist_dir):
    model = torch.nn.Linear(2, 1)
    optimizer = recipe(tmp_path, mnist_dir, lr=5e-4).build_optimizer(model)
    assert isinstance(optimizer, RootEpsRMSprop)
    assert optimizer.defaults | {"params": None} == {
        "lr": 5e-4,
        "rho": 0.9,
        "eps": 1e-6,
        "momentum": 0.0,
        "initial_square": 0.0,
        "params": None,
    }
    torch_recipe = recipe(tmp_path, mnist_dir, optimizer="torch")
    assert type(torch_recipe.build_optimizer(model)) is torch.optim.RMSprop


def test_train_and_card_commands(tmp_path, mnist_dir, capsys):
    out = tmp_path / "run"
    params = [f"mnist_dir={mnist_dir}", "sequences=2", "length=5"]
    params = [arg for param in params for arg in ("--param", param)]
    args = smoke_train_args("rectracker-att-1", out, "--hparam", "length=5", *params)
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["variant"] == "RecTracker-Att-1/code" and summary["iterations"] == 2
    assert np.isfinite(summary["last"]["total"])
    card = read_card(out / "last")
    assert card["method"] == "rectracker-att-1" and card["config"]["model"]["loss"] == "code"
    with pytest.raises(SystemExit) as exit_:
        main(["card", "rectracker-att-1", str(out / "last"), "--evaluate"])
    assert exit_.value.code == 0
    described = json.loads(capsys.readouterr().out)
    assert described["iterations"] == 2 and described["dataset"] == "mnist-single-same"
    metrics = described["metrics"]
    assert (metrics["split"], metrics["frames"], metrics["protocol"]) == ("test", 10, "mask")
    assert 0 <= metrics["IoU"] <= 1 and metrics["iterations"] == 2
    tracker = GanTracker("RecTracker-Att-1", smoke=True, checkpoint=str(out / "last"))
    assert tracker.provenance()["iterations"] == 2 and tracker.provenance()["batch"] == 2
    with pytest.raises(ConfigError, match="holds another network"):
        GanTracker("RecTracker-Att-1", variant="paper", smoke=True, checkpoint=str(out / "last"))
    keys = {"model": "RecTracker-Att-1", "variant": "paper", "smoke": True}
    with pytest.raises(ConfigError, match="holds another network"):
        GanTracker.check_config({**keys, "checkpoint": str(out / "last")})  # preflight
    with pytest.raises(ConfigError, match="checkpoint not found"):
        GanTracker.check_config({**keys, "checkpoint": str(out / "missing")})
    # bad input, refused in one line before any training: a budget below the checkpoint's, a
    # checkpoint of another model, an unknown hyper-parameter
    resumed = [*args, "--resume"]
    for bad, message in (
        ([*resumed[:5], "1", *resumed[6:]], "holds 2 iterations, more than the 1 asked"),
        (["train", "rectracker-id", *resumed[2:]], "trained with another configuration"),
        ([*resumed, "--hparam", "bogus=1"], r"no training hyper-parameters \['bogus'\]"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(bad)
        error = capsys.readouterr().err.strip()
        assert exit_.value.code == 2 and "\n" not in error, error
        assert re.search(message, error), error
    assert read_card(out / "last")["iterations"] == 2


EXPERIMENT = """
name: gan-smoke
datasets:
  - name: mnist-single-same
    split: test
    root: {root}
    params: {{sequences: 3, mnist_dir: {mnist_dir}}}
    axes: {{length: [5, 10]}}
methods:
  - {{method: rectracker-id, config: {{smoke: true, batch: 2}}}}
  - {{method: convtracker, config: {{smoke: true}}}}
"""


def test_an_untrained_tracker_runs_in_an_experiment(tmp_path, mnist_dir):
    store = run(
        write(tmp_path, EXPERIMENT.format(root=tmp_path / "data", mnist_dir=mnist_dir)), tmp_path
    )
    metrics = store.metrics_frame()
    combined = metrics[(metrics.sequence == COMBINED) & (metrics.metric == "IoU")]
    assert sorted(zip(combined["method"], combined["axes"])) == [
        ("convtracker", "length=10"),
        ("convtracker", "length=5"),
        ("rectracker-id", "length=10"),
        ("rectracker-id", "length=5"),
    ]
    assert combined.value.between(0, 1).all()
    timings = store.timings_frame()
    assert (timings["batched_fps"] > 0).all() and (timings["fps"] > 0).all()


@pytest.mark.parametrize("model", ["ConvTracker", "RecTracker-Att-3"])
def test_batched_track_in_chunks_gives_the_boxes_of_the_online_loop(tmp_path, mnist_dir, model):
    adapter = load_dataset(
        "mnist-single-same", tmp_path, sequences=3, length=6, mnist_dir=str(mnist_dir)
    )
    samples = adapter.samples("test")
    tracker = GanTracker(model, smoke=True, seed=3, batch=2)  # 3 samples: a batch of 2, then 1
    online, _ = timed_follow(tracker, samples, warmup_frames=0)
    batched = np.concatenate(tracker.track(samples))
    np.testing.assert_allclose(batched, online, atol=1e-4)
    with pytest.raises(ConfigError, match="batch must be at least 1"):
        GanTracker(model, smoke=True, batch=0)
