"""utrack training through the kit (frame pairs, card, variants) and its tracker's settings and
refusals."""

import json

import numpy as np
import pytest
import torch

from harness.clips import Clip
from harness.data import frame_inputs
from harness.datasets import load_dataset
from harness.detectors import OracleNoise, oracle_detections
from harness.errors import ConfigError
from harness.lifecycle import train_method
from harness.protocol import sequence_info
from trackers.utrack.tracker import OUTrackTracker, UTrackTracker
from trackers.utrack.train import frame_pair

SPRITES = {"objects": 6}


@pytest.mark.parametrize("ablation", ["UTrack", "cycas", "supervised", "negatives-0.5"])
def test_each_loss_trains_and_is_recorded(tmp_path, ablation):
    """A few iterations of each loss through the kit; the card names the variant and the loss;
    the checkpoint tracks and embeds."""
    summary = train_method(
        f"utrack:{ablation}",
        tmp_path,
        4,
        config={"dataset": "sprites-mot", "smoke": True},
        hyperparameters={"validation_pairs": 2},
        dataset_params=SPRITES,
        validate_every=2,
        checkpoint_every=2,
        log_every=2,
    )
    assert summary["iterations"] == 4
    card = json.loads((tmp_path / "last.json").read_text())
    assert card["method"] == "utrack"
    assert card["variant"] == {
        "UTrack": "UTrack",
        "cycas": "CycAs",
        "supervised": "supervised",
    }.get(ablation, "UTrack/negatives-0.5")
    assert np.isfinite(card["validation"][-1]["reid_loss"])
    tracker = UTrackTracker.from_checkpoint(tmp_path / "last")
    image = np.zeros((64, 64, 3), np.uint8)
    assert tracker.embed(image, np.array([[1.0, 1, 20, 20], [30, 30, 10, 10]])).shape == (2, 8)


def test_no_reid_has_nothing_to_train(tmp_path):
    with pytest.raises(ConfigError, match="no-reid"):
        train_method(
            "utrack:no-reid", tmp_path, 1, config={"dataset": "sprites-mot", "smoke": True}
        )


def test_a_positive_pair_needs_one_video():
    image = np.zeros((1, 32, 32, 3), np.uint8)
    boxes = [np.array([[1.0, 1, 8, 8]])]
    clip = Clip(image, boxes, [np.ones(1)], "video-a@1")
    other = Clip(image, boxes, [np.ones(1)], "video-b@1")
    assert frame_pair(clip, 0, other, 0, negative=True) is not None
    with pytest.raises(ConfigError, match="one video"):
        frame_pair(clip, 0, other, 0, negative=False)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    adapter = load_dataset(
        "sprites-mot", tmp_path_factory.mktemp("sprites"), eval_frames=30, **SPRITES
    )
    sequence = adapter.sequences("eval")[0]
    return sequence, oracle_detections(sequence, OracleNoise(), 0)


@pytest.mark.parametrize("ablation", [{}, {"reid": "none"}])
def test_tracks_on_oracle_detections(video, ablation):
    """Positive ids, boxes among the detections, at most one box per id and frame."""
    sequence, detections = video
    tracker = UTrackTracker(dataset="sprites-mot", smoke=True, **ablation)
    tracker.reset(sequence_info(sequence))
    outputs = [tracker.step(f) for f in frame_inputs(sequence, tracker.inputs, detections)]
    per_frame = detections.split_by_frame(sequence.num_frames)
    assert sum(len(o.ids) for o in outputs) > 0.5 * len(detections)
    for output, dets in zip(outputs, per_frame):
        assert (output.ids > 0).all() and len(set(output.ids.tolist())) == len(output.ids)
        for box in output.boxes:
            assert np.abs(dets.box - box).max(axis=1).min() < 10


def test_refusals_before_running():
    """OccE on a crop embedder, an unknown setting and a checkpoint of another loss are refused."""
    with pytest.raises(ConfigError, match="occlusion heads"):
        UTrackTracker.check_config({"dataset": "sprites-mot", "occe": True})
    with pytest.raises(ConfigError, match="placeholder"):
        UTrackTracker.check_config({"dataset": "sprites-mot", "placeholder": "max"})
    with pytest.raises(ConfigError, match="inference settings"):
        UTrackTracker(dataset="sprites-mot", smoke=True, inference={"gate": 3})


def test_an_unknown_ablation_is_one_line_and_exit_2(trackbench, tmp_path):
    code, out, err = trackbench("train", "utrack:T=9", "--out", tmp_path)
    assert code == 2
    assert "T=9" in err and len(err.strip().splitlines()) == 1


def test_detector_tier_trains_tracks_and_fine_tunes_occe(tmp_path, video):
    """outrack: detection, OccE and re-ID in one run; the OccE heads alone fine-tuned at another
    tau from it (the rest unchanged); tracking with and without OccE; OccE refused on a network
    without occlusion heads, and a checkpoint's tau must be the one asked for."""
    common = {
        "config": {"dataset": "sprites-mot", "smoke": True},
        "dataset_params": SPRITES,
        "validate_every": 2,
        "checkpoint_every": 2,
        "log_every": 2,
    }
    hyper = {"validation_pairs": 2, "batch": 2}
    train_method("outrack", tmp_path / "occe", 2, hyperparameters=hyper, **common)
    card = json.loads((tmp_path / "occe" / "last.json").read_text())
    assert card["method"] == "outrack" and card["variant"] == "detector+OccE/UTrack"
    assert {"reid_loss", "detection_loss", "loss"} <= set(card["validation"][-1])
    train_method(
        "outrack:tau-0.3",
        tmp_path / "tau",
        4,
        hyperparameters={**hyper, "train_part": "occlusion"},
        init_from=str(tmp_path / "occe" / "last"),
        **common,
    )
    tuned = json.loads((tmp_path / "tau" / "last.json").read_text())
    assert tuned["training"]["occlusion_tau"] == 0.3
    before = torch.load(tmp_path / "occe" / "last.pt", weights_only=True)
    after = torch.load(tmp_path / "tau" / "last.pt", weights_only=True)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(
        ".heads.occlusion" in k or "running" in k or "batches" in k for k in changed
    )
    sequence, _ = video
    for occe in (True, False):
        tracker = OUTrackTracker.from_checkpoint(tmp_path / "tau" / "last", occe=occe)
        tracker.reset(sequence_info(sequence))
        for f in frame_inputs(sequence, tracker.inputs, None):
            output = tracker.step(f)
            assert (output.ids > 0).all()
    with pytest.raises(ConfigError, match="tau 0.3, not 0.7"):
        OUTrackTracker.check_config(
            {"dataset": "sprites-mot", "smoke": True, "occe": True, "occlusion_tau": 0.7,
             "checkpoint": str(tmp_path / "tau" / "last")}
        )  # fmt: skip
    with pytest.raises(ConfigError, match="occlusion heads"):
        OUTrackTracker.check_config(
            {"dataset": "sprites-mot", "smoke": True, "occe": True, "occlusion": False}
        )
