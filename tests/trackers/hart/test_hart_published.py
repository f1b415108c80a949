"""The published HART-family checkpoints (checkpoints/hart/): what experiments/hart-mnist.yaml
reads is there, small enough, in half precision, each model's best-validated checkpoint of one
round-robin run of the released code's recipe, and gives the boxes recorded when they were
published (tests/fixtures/hart-published-boxes.json, written by running this file with
PYTHONPATH=.:tests) on frames made here from a seed, so a change to the model code that moves
them is caught."""

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
from trackers.hart.tracker import HartTracker

MODELS = {
    "HART": "hart",
    "App-Att": "hart:app-att",
    "Spatial-Att": "hart:spatial-att",
    "RATM": "ratm",
}
FIXTURE = ROOT / "tests" / "fixtures" / "hart-published-boxes.json"
LIMIT_BYTES = 20 * 2**20


def published(name: str) -> Path:
    return ROOT / "checkpoints" / "hart" / "mnist-multi-same" / name / "last"


def probe_samples() -> list[SingleObjectSample]:
    """Two 8-frame samples of seeded noise with a bright square moving right and down: the same
    input on every machine, without MNIST."""
    rng = np.random.default_rng(2017)
    frames = rng.integers(0, 40, (8, 100, 100, 1)).astype(np.uint8)
    for t in range(8):
        frames[t, 30 + 2 * t : 50 + 2 * t, 20 + 3 * t : 40 + 3 * t] = 220
    sequence = Sequence(
        "probe", 8, 100, 100, 30.0, BoxTable.empty(), load_frame=lambda n: frames[n - 1]
    )
    boxes = np.array([[21.0 + 3 * t, 31.0 + 2 * t, 20.0, 20.0] for t in range(8)])
    return [
        SingleObjectSample(sequence, 1, np.arange(1, 9), boxes),
        SingleObjectSample(sequence, 2, np.arange(3, 9), boxes[2:]),
    ]


def probe_boxes(name: str) -> np.ndarray:
    """The boxes the published model ``name``, built as its registry entry says, gives on the
    probe samples (batched ``track``)."""
    spec, ablation = parse_method(MODELS[name])
    config = {**spec.config_for(ablation), "checkpoint": str(published(name))}
    HartTracker.check_config(config)
    return np.concatenate(HartTracker(**config).track(probe_samples()))


def test_the_experiment_reads_every_published_checkpoint():
    experiment = load_experiment(ROOT / "experiments" / "hart-mnist.yaml")
    read = {
        entry.config["checkpoint"]
        for entry in experiment.methods
        if not isinstance(entry, str) and entry.method in MODELS.values()
    }
    assert read == {str(published(name)) for name in MODELS}


def test_published_cards_say_half_precision_and_one_budget():
    cards = {name: read_card(published(name)) for name in MODELS}
    trained = {card["selected"]["trained"] for card in cards.values()}
    assert len(trained) == 1  # round-robin: one budget; each model's best validated round of it
    for name, card in cards.items():
        selected = card["selected"]
        best = max(selected["validation"], key=lambda point: point["IoU"])
        assert selected["iteration"] == best["iteration"] == card["iterations"]
        assert selected["by"] == "max validation IoU" and selected["IoU"] == best["IoU"]
        assert card["iterations"] <= selected["trained"]
        assert card["config"]["optimizer"] == "tf" and card["config"]["curriculum"] == "iou"
        assert checkpoint_files(published(name))[0].stat().st_size <= LIMIT_BYTES
        assert card["stored_dtype"] == "float16"
        assert (
            card["config"]["dataset"] == "mnist-multi-same" and card["config"]["setup"] == "mnist"
        )
        assert card["variant"] == f"{name.replace('-', ' ')}/mnist"
        assert card["validation"] and card["hardware"] and card["curve"] and card["metrics"]


@pytest.mark.parametrize("name", MODELS)
def test_published_models_give_the_recorded_boxes(name):
    recorded = json.loads(FIXTURE.read_text(encoding="utf-8"))[name]
    np.testing.assert_allclose(probe_boxes(name), recorded, atol=1e-3)


if __name__ == "__main__":  # record the fixture, once the checkpoints are published
    boxes = {name: probe_boxes(name).round(4).tolist() for name in MODELS}
    FIXTURE.write_text(json.dumps(boxes, indent=1) + "\n", encoding="utf-8")
