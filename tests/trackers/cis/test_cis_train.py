"""cis training through the kit and the command line: the two phases, the schedule, the card."""

import json

from mot_layout import still_object, write_sequence

from harness.lifecycle import train_method

SPRITES = {"objects": 6}


def test_two_phases_as_the_code(tmp_path, trackbench):
    """Phase 2 starts from phase 1's best checkpoint with a fresh optimiser; each phase selects
    by its own validation loss; the card records the training and where it started."""
    visual = train_method(
        "cis",
        tmp_path / "visual",
        6,
        config={"dataset": "sprites-mot"},
        hyperparameters={"phase": "visual", "validation_clips": 2},
        dataset_params=SPRITES,
        validate_every=3,
        checkpoint_every=3,
        log_every=3,
    )
    assert visual["iterations"] == 6
    best = json.loads((tmp_path / "visual" / "best.json").read_text())
    assert best["selected"]["by"] == "min validation visual_loss"
    code, out, err = trackbench(
        "train", "cis", "--dataset", "sprites-mot", "--param", "objects=6",
        "--hparam", "phase=spatial", "--hparam", "validation_clips=2",
        "--init-from", tmp_path / "visual" / "best", "--out", tmp_path / "spatial",
        "--iterations", best["iterations"] + 3, "--validate-every", 3,
        "--checkpoint-every", 3, "--log-every", 3,
    )  # fmt: skip
    assert code == 0, err
    card = json.loads((tmp_path / "spatial" / "last.json").read_text())
    assert card["training"]["phase"] == "spatial"
    assert card["initialised_from"][0]["iterations"] == best["iterations"]
    assert "spatial_loss" in card["validation"][-1]
    assert card["variant"] == "Visual-Spatial" and card["config"]["crop"] == 32


def test_a_clip_longer_than_every_sequence_is_refused_before_training(tmp_path, trackbench):
    gt = "".join(f"{f},1,10,10,20,20,1,1,1\n" for f in range(1, 6))
    write_sequence(tmp_path / "train", "MOT17-02-SDP", still_object(5, "10,10,20,20", 0.9), 5, gt)
    code, _, err = trackbench(
        "train", "cis", "--root", tmp_path, "--param", "detectors=[SDP]",
        "--param", "sequences=[MOT17-02]", "--out", tmp_path / "run", "--iterations", 2,
    )  # fmt: skip
    assert code == 2
    assert err.strip().endswith(
        "mot17 train: no sequence has the 65 frames a clip needs (the longest, MOT17-02-SDP, has 5)"
    )
    assert not (tmp_path / "run" / "last.json").exists()
