"""The published TBA checkpoint: small enough, safe to load, described by its card, and usable by
the quick start's TBA entry exactly as that experiment names it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from paths import ROOT

from harness.checkpoints import checkpoint_files
from harness.datasets import load_dataset
from harness.experiment import expand, load_experiment
from harness.protocol import check_result
from harness.provenance import file_sha256
from harness.registry import parse_method
from trackers.tba.tracker import TBATracker

QUICKSTART = ROOT / "experiments" / "quickstart.yaml"
MAX_BYTES = 20 * 2**20
RECORDED_TRACKS = ROOT / "tests" / "fixtures" / "tba-published-tracks.csv"
"""Each published checkpoint's tracks on the first 60 evaluation frames (configuration, frame,
id, box, conf), recorded with the code that trained them."""


@pytest.fixture(scope="module")
def tba_cell():
    """The quick start's TBA cell (its checkpoint path is relative to the repository root)."""
    (cell,) = [cell for cell in expand(load_experiment(QUICKSTART)) if cell.method == "tba"]
    return cell


@pytest.fixture(scope="module")
def published(tba_cell):
    return ROOT / tba_cell.method_config["checkpoint"]


PUBLISHED = sorted((ROOT / "checkpoints" / "tba").glob("*/*/last.pt"))


def test_the_quickstart_checkpoint_is_published(tba_cell, published):
    weights = checkpoint_files(published)[0]
    assert weights in PUBLISHED and weights.parent.name == tba_cell.ablation


@pytest.mark.parametrize("weights", PUBLISHED, ids=lambda p: "/".join(p.parts[-3:-1]))
def test_each_published_checkpoint_is_small_safe_and_evaluated(weights):
    """Every checkpoint under checkpoints/tba/<dataset>/<configuration>/ (the Table 1 rows)."""
    path = weights.with_suffix("")
    card_path = checkpoint_files(path)[1]
    assert weights.stat().st_size <= MAX_BYTES and card_path.stat().st_size <= MAX_BYTES
    model, checkpoint = TBATracker.load_model(path)  # torch.load(weights_only=True) inside
    card = checkpoint.card
    configuration, dataset = weights.parent.name, weights.parent.parent.name
    assert card["variant"] == model.config.variant == configuration
    spec, _ = parse_method(f"{card['method']}:{configuration}")
    assert model.config.dataset == spec.config["dataset"] == dataset
    assert card["metrics"]["iterations"] == card["iterations"]  # evaluated after training


def test_the_card_says_how_it_was_trained_and_what_it_reached(published):
    card = TBATracker.load_model(published)[1].card
    assert card["iterations"] > 0 and isinstance(card["seed"], int)
    assert card["curve"][-1]["iteration"] == card["iterations"]
    segments = card["hardware"]
    assert segments[-1]["to_iteration"] == card["iterations"]
    assert all(segment["iterations_per_s"] > 0 for segment in segments)
    metrics = card["metrics"]
    assert (metrics["dataset"], metrics["split"]) == ("sprites-mot", "eval")
    assert metrics["iterations"] == card["iterations"]  # evaluated after the last training step
    assert metrics["frames"] == load_dataset("sprites-mot").params["eval_frames"]
    assert all(0 <= metrics[name] <= 1 for name in ("IDF1", "HOTA", "MOTP"))


def test_the_quickstart_tracks_with_it(tba_cell, published, tmp_path):
    spec, _ = parse_method(tba_cell.method_ref)
    tracker = spec.factory(**{**tba_cell.method_config, "checkpoint": str(published)})
    assert tracker.provenance()["sha256"] == file_sha256(checkpoint_files(published)[0])
    (video,) = load_dataset("sprites-mot", tmp_path, eval_frames=40).sequences("eval")
    result = tracker.track([video])[0]
    check_result(result, video.num_frames)


@pytest.fixture(scope="module")
def short_video(tmp_path_factory):
    cache = tmp_path_factory.mktemp("sprites")
    (video,) = load_dataset("sprites-mot", cache, eval_frames=60).sequences("eval")
    return video


@pytest.mark.parametrize("configuration", ["TBA", "TBAc", "TBAc-noAtt", "TBAc-noMem"])
def test_each_published_checkpoint_gives_its_recorded_tracks(configuration, short_video):
    recorded = pd.read_csv(RECORDED_TRACKS)
    recorded = recorded[recorded["configuration"] == configuration]
    spec, name = parse_method(f"tba:{configuration}")
    path = ROOT / "checkpoints" / "tba" / "sprites-mot" / configuration / "last"
    result = spec.build(name, checkpoint=str(path)).track([short_video])[0].sorted()
    assert result.frame.tolist() == recorded["frame"].tolist()
    assert result.id.tolist() == recorded["id"].tolist()
    boxes = recorded[["left", "top", "width", "height"]].to_numpy()
    np.testing.assert_allclose(result.box, boxes, rtol=0, atol=1e-4)
    np.testing.assert_allclose(result.conf, recorded["conf"].to_numpy(), rtol=0, atol=1e-6)
