"""Training and running HART-family trackers (CPU, tiny networks, stand-in MNIST digits): the
loss falls, resume = uninterrupted, checkpoints round-trip, ``trackbench train`` / ``card``, the
batched ``track`` agrees with the online loop, and an experiment runs them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from experiment_helpers import run, write
from paths import FIXTURES
from train_helpers import smoke_train_args

from harness.checkpoints import read_card
from harness.cli import main
from harness.datasets import load_dataset
from harness.errors import ConfigError
from harness.store import COMBINED
from harness.tasks.single_object import AGREEMENT_PX
from harness.timing import timed_follow
from harness.training import RunData
from harness.training import train as kit_train
from trackers.hart.config import network
from trackers.hart.tracker import HartTracker
from trackers.hart.train import HartRecipe, training_defaults

FIXED_LENGTH = {"start_length": 5, "max_length": 5}
"""No curriculum: every training sequence is 5 frames long."""


def recipe(tmp_path, mnist_dir, variant="HART", dataset="mnist-multi-same", validation_frames=None):
    """The recipe of a smoke network of ``variant`` on batches of 8 sequences of 5 frames."""
    training = {**training_defaults("mnist"), "batch": 8, "lr": 1e-3, **FIXED_LENGTH}
    params = {"mnist_dir": str(mnist_dir), "length": 5}
    data = RunData(tmp_path, tmp_path / "data", params, validation_frames)
    return HartRecipe(network("mnist", variant, smoke=True), "mnist", dataset, training, data)


def train(tmp_path, mnist_dir, iterations, variant="HART", dataset="mnist-multi-same", **options):
    """A smoke network of ``variant`` trained on batches of 8 sequences of 5 frames."""
    options = {"checkpoint_every": 10, "log_every": 10, "validate_every": None, **options}
    validation_frames = options.pop("validation_frames", None)
    hart = recipe(tmp_path, mnist_dir, variant, dataset, validation_frames)
    return kit_train(hart, tmp_path, iterations, **options)


def test_the_tracking_loss_falls_and_validation_scores_iou(tmp_path, mnist_dir):
    result = train(
        tmp_path,
        mnist_dir,
        80,
        dataset="mnist-single-same",
        validate_every=40,
        validation_frames=20,
    )
    tracking = [point["tracking"] for point in result.curve]
    assert [point["iteration"] for point in result.curve] == list(range(10, 90, 10))
    assert np.mean(tracking[-4:]) < 0.8 * tracking[0], tracking  # about 0.67 x
    assert [point["iteration"] for point in result.validation] == [40, 80]
    assert all(0 < point["IoU"] <= 1 for point in result.validation)
    card = read_card(tmp_path / "last")
    assert card["method"] == "hart" and card["variant"] == "HART/mnist"
    assert any(note.startswith("glimpse grid") for note in card["paper_vs_code"])
    assert (card["config"]["lr"], card["config"]["momentum"], card["config"]["batch"]) == (
        1e-3,
        0.9,
        8,
    )


def test_ratm_trains_on_the_feature_distance(tmp_path, mnist_dir):
    result = train(tmp_path, mnist_dir, 10, variant="RATM")
    assert set(result.curve[0]) >= {"features", "IoU"} and "tracking" not in result.curve[0]
    assert read_card(tmp_path / "last")["method"] == "ratm"


def test_resume_gives_the_uninterrupted_result(tmp_path, mnist_dir):
    options = {"seed": 1, "checkpoint_every": 2, "log_every": 1}
    whole = train(tmp_path / "whole", mnist_dir, 4, **options)
    train(tmp_path / "parts", mnist_dir, 2, **options)
    resumed = train(tmp_path / "parts", mnist_dir, 4, resume=True, **options)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.curve == whole.curve


def test_unknown_hyperparameters_are_refused():
    with pytest.raises(ConfigError, match=r"no training hyper-parameters \['betas'\]"):
        HartRecipe.settings({"setup": "mnist"}, {"betas": 1})


@pytest.fixture()
def samples(tmp_path, mnist_dir):
    params = {"sequences": 3, "length": 6, "mnist_dir": str(mnist_dir)}
    return load_dataset("mnist-multi-same", tmp_path / "data", **params).samples("test")


def test_a_checkpoint_round_trips_and_tracks_as_before(tmp_path, mnist_dir, samples):
    trained = train(tmp_path / "run", mnist_dir, 2)
    tracker = HartTracker(smoke=True, checkpoint=str(tmp_path / "run" / "last"))
    state = trained.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in tracker.model.state_dict().items())
    tracker.save(tmp_path / "copy")
    copy = HartTracker(smoke=True, checkpoint=str(tmp_path / "copy"))
    assert [b.tolist() for b in copy.track(samples)] == [b.tolist() for b in tracker.track(samples)]
    assert copy.provenance()["iterations"] == 2
    with pytest.raises(ConfigError, match="holds another network"):
        HartTracker(variant="App Att", smoke=True, checkpoint=str(tmp_path / "copy"))


@pytest.mark.parametrize("variant", ["HART", "Spatial Att", "RATM"])
def test_the_batched_track_gives_the_online_boxes(samples, variant):
    tracker = HartTracker(variant=variant, smoke=True, seed=3, batch=2)
    online, record = timed_follow(tracker, samples, warmup_frames=0)
    batched = np.vstack(tracker.track(samples))
    assert online.shape == batched.shape == (3 * 6, 4)
    assert np.abs(online - batched).max() <= AGREEMENT_PX
    assert (batched[:, 2:] >= 1).all() and np.isfinite(batched).all()
    assert not np.array_equal(batched[1::6], batched[0::6])  # the boxes move


def test_train_and_card_commands(tmp_path, mnist_dir, capsys):
    out = tmp_path / "run"
    params = [f"mnist_dir={mnist_dir}", "sequences=2", "length=5"]
    params = [arg for param in params for arg in ("--param", param)]
    hparams = ["--hparam", "start_length=3", "--hparam", "max_length=3"]
    with pytest.raises(SystemExit) as exit_:
        main(smoke_train_args("hart:app-att", out, *hparams, *params))
    assert exit_.value.code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["variant"] == "App Att/mnist" and summary["iterations"] == 2
    with pytest.raises(SystemExit) as exit_:
        main(["card", "hart", str(out / "last"), "--evaluate"])
    assert exit_.value.code == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert (metrics["split"], metrics["frames"], metrics["protocol"]) == ("test", 10, "mask")
    assert 0 <= metrics["IoU"] <= metrics["TimeIoU"] <= 1
    with pytest.raises(ConfigError, match="checkpoint not found"):
        HartTracker.check_config(
            {"setup": "mnist", "variant": "HART", "smoke": True, "checkpoint": str(out / "no")}
        )


EXPERIMENT = """
name: hart-smoke
datasets:
  - name: mnist-multi-same
    split: test
    root: {root}
    params: {{sequences: 3, length: 6, mnist_dir: {mnist_dir}}}
methods:
  - {{method: hart, config: {{smoke: true, batch: 2}}}}
  - {{method: "hart:spatial-att", config: {{smoke: true}}}}
  - {{method: ratm, config: {{smoke: true}}}}
"""


def test_untrained_trackers_run_in_an_experiment(tmp_path, mnist_dir):
    store = run(
        write(tmp_path, EXPERIMENT.format(root=tmp_path / "data", mnist_dir=mnist_dir)), tmp_path
    )
    metrics = store.metrics_frame()
    combined = metrics[(metrics.sequence == COMBINED) & (metrics.metric == "IoU")]
    assert sorted(zip(combined["method"], combined["ablation"])) == [
        ("hart", "default"),
        ("hart", "spatial-att"),
        ("ratm", "default"),
    ]
    assert combined.value.between(0, 1).all()
    timings = store.timings_frame()
    assert (timings["batched_fps"] > 0).all() and (timings["fps"] > 0).all()


@pytest.mark.parametrize(
    "setup, dataset, params",
    [("kitti", "kitti-tracking", []), ("kth", "kth", ["--param", "fold=2"])],
)
def test_training_on_a_dataset_copy_takes_windows_of_its_train_split(
    tmp_path, capsys, setup, dataset, params
):
    root = tmp_path / "data"
    shutil.copytree(FIXTURES / setup, root)
    out = tmp_path / "run"
    args = ["--config", f"setup={setup}", "--dataset", dataset, "--root", str(root), *params]
    with pytest.raises(SystemExit) as exit_:
        main(smoke_train_args("hart", out, *args, "--hparam", "start_length=3"))
    assert exit_.value.code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["variant"] == f"HART/{setup}" and np.isfinite(summary["last"]["total"])
    card = read_card(out / "last")
    assert card["data"]["stream"] == "windows of the train split"


def test_the_curriculum_s_stream_is_refused_worker_processes(tmp_path, mnist_dir):
    with pytest.raises(ConfigError, match="cannot run in worker processes"):
        kit_train(recipe(tmp_path, mnist_dir), tmp_path, 2, workers=2)
