"""The published Gan et al. checkpoints (checkpoints/gan/): what experiments/gan-2015.yaml reads
is there, small enough, in half precision, each model's best-validated checkpoint of equal
training runs per training set, and gives the boxes recorded when it was published
(tests/fixtures/gan-published-boxes.json, written by running this file with PYTHONPATH=.:tests)
on frames made here from a seed, so a change to the model code that moves them is caught."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from paths import ROOT

from harness.checkpoints import checkpoint_files, read_card
from harness.data import BoxTable, Sequence, SingleObjectSample
from harness.experiment import load_experiment
from harness.registry import parse_method
from trackers.gan.tracker import GanTracker

MODELS = ("ConvTracker", "RecTracker-ID", "RecTracker-Att-1", "RecTracker-Att-3")
SETS = ("mnist-single-same", "mnist-multi-same")
FIXTURE = ROOT / "tests" / "fixtures" / "gan-published-boxes.json"
LIMIT_BYTES = 20 * 2**20


def published(training_set: str, model: str) -> Path:
    return ROOT / "checkpoints" / "gan" / training_set / model / "last"


def probe_samples() -> list[SingleObjectSample]:
    """Two 8-frame samples of seeded noise with a bright square moving right: the same input on
    every machine, without MNIST."""
    rng = np.random.default_rng(2015)
    frames = rng.integers(0, 40, (8, 100, 100, 1)).astype(np.uint8)
    for t in range(8):
        frames[t, 30:50, 20 + 3 * t : 40 + 3 * t] = 220
    sequence = Sequence(
        "probe", 8, 100, 100, 30.0, BoxTable.empty(), load_frame=lambda n: frames[n - 1]
    )
    boxes = np.array([[21.0 + 3 * t, 31.0, 20.0, 20.0] for t in range(8)])
    return [
        SingleObjectSample(sequence, 1, np.arange(1, 9), boxes),
        SingleObjectSample(sequence, 2, np.arange(3, 9), boxes[2:]),
    ]


def test_the_experiment_reads_every_published_checkpoint():
    experiment = load_experiment(ROOT / "experiments" / "gan-2015.yaml")
    read = {
        entry.config["checkpoint"]
        for entry in experiment.methods
        if not isinstance(entry, str) and "checkpoint" in entry.config
    }
    assert read == {str(published(s, m)) for s in SETS for m in MODELS}


@pytest.mark.parametrize("training_set", SETS)
def test_published_cards_are_each_model_s_best_validated_checkpoint_of_one_budget(training_set):
    cards = {model: read_card(published(training_set, model)) for model in MODELS}
    # round-robin: every model of a training set trained as far; each published at its best
    # validation point of that run
    assert len({card["selected"]["trained"] for card in cards.values()}) == 1
    for model, card in cards.items():
        selected = card["selected"]
        best = max(selected["validation"], key=lambda point: point["IoU"])
        assert selected["iteration"] == best["iteration"] == card["iterations"]
        assert selected["by"] == "max validation IoU" and selected["IoU"] == best["IoU"]
        weights = checkpoint_files(published(training_set, model))[0]
        assert weights.stat().st_size <= LIMIT_BYTES
        assert card["stored_dtype"] == "float16" and card["config"]["dataset"] == training_set
        assert card["config"]["model"]["model"] == model and card["config"]["variant"] == "code"
        assert card["config"]["optimizer"] == "root-eps" and card["paper_vs_code"]
        assert card["validation"] and card["hardware"] and card["curve"] and card["metrics"]


def probe_boxes(training_set: str, model: str) -> np.ndarray:
    """The boxes the published ``model`` of ``training_set``, built as its registry entry says,
    gives on the probe samples (batched ``track``)."""
    ref = model.lower() + (":multi" if training_set == "mnist-multi-same" else "")
    spec, ablation = parse_method(ref)
    config = {**spec.config_for(ablation), "checkpoint": str(published(training_set, model))}
    GanTracker.check_config(config)
    return np.concatenate(GanTracker(**config).track(probe_samples()))


@pytest.mark.parametrize("training_set", SETS)
@pytest.mark.parametrize("model", MODELS)
def test_published_models_give_the_recorded_boxes(training_set, model):
    recorded = json.loads(FIXTURE.read_text(encoding="utf-8"))[f"{training_set}/{model}"]
    np.testing.assert_allclose(probe_boxes(training_set, model), recorded, atol=1e-3)


if __name__ == "__main__":  # record the fixture, once the checkpoints are published
    boxes = {f"{s}/{m}": probe_boxes(s, m).round(4).tolist() for s in SETS for m in MODELS}
    FIXTURE.write_text(json.dumps(boxes, indent=1) + "\n", encoding="utf-8")
