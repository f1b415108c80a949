"""utrack at MOT17 and CrowdHuman scale: the letterbox both ways, the code's frame-pair
augmentation, CrowdHuman's still-image pairs and their negatives, the DLA-34 backbone's stride and
size, a two-iteration training run on a fake MOT17 sequence and a fake CrowdHuman copy (pre-training
then fine-tuning), tracking through the letterbox, and the experiments that refuse to load without
their checkpoints."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from mot_layout import write_sequence
from paths import ROOT

from harness.data import FrameInput
from harness.errors import ConfigError
from harness.experiment import load_experiment
from harness.papers import paper_table
from harness.registry import parse_method
from harness.results.layouts import comparison_layout
from harness.results.paper_comparison import compare_with_paper
from harness.training import RunData, train
from trackers.utrack import tracker as tracker_module
from trackers.utrack.augment import (
    DEGREES,
    SCALE,
    SHEAR,
    TRANSLATE,
    augment_view,
    letterbox,
    warp_boxes,
)
from trackers.utrack.config import UTrackConfig, model_card, network_config, training_config
from trackers.utrack.detector import DLAJointDetector
from trackers.utrack.dla import DLA34
from trackers.utrack.model import JointModel
from trackers.utrack.tracker import OUTrackTracker
from trackers.utrack.train import UTrackRecipe

SMALL_INPUT = (64, 32)
"""The network input of the tests (1088 x 608 is the MOT17 and CrowdHuman default)."""
MOT17 = {"detectors": ["SDP"], "sequences": ["MOT17-02"]}


def fake_mot17(root: Path) -> Path:
    """``root/train/MOT17-02-SDP``: 8 black 64 x 48 frames, two pedestrians walking right."""
    gt = "".join(
        f"{f},{i},{4 + 2 * f + 24 * (i - 1)},{8 + i},12,24,1,1,1\n"
        for f in range(1, 9)
        for i in (1, 2)
    )
    write_sequence(root / "train", "MOT17-02-SDP", "", frames=8, gt=gt)
    return root


def fake_crowdhuman(root: Path) -> Path:
    """annotation_train.odgt of 3 images (2-3 persons and an ignored box each) and the images,
    each person a bright rectangle on a dark ground."""
    lines = []
    for index, (width, height) in enumerate([(80, 60), (64, 48), (96, 64)]):
        image = np.full((height, width, 3), 20, np.uint8)
        boxes = [[6 + 20 * k, 8 + 3 * k, 12, 24] for k in range(2 + index % 2)]
        for k, (x, y, w, h) in enumerate(boxes):
            image[y : y + h, x : x + w] = (200, 60 + 60 * k, 90)
        (root / "Images").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "Images" / f"img{index}.jpg"), image[:, :, ::-1])
        persons = [{"tag": "person", "fbox": box, "extra": {"ignore": 0}} for box in boxes]
        ignored = {"tag": "person", "fbox": [1, 1, 3, 3], "extra": {"ignore": 1}}
        lines.append(json.dumps({"ID": f"img{index}", "gtboxes": [*persons, ignored]}))
    (root / "annotation_train.odgt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_letterbox_forward_and_back_are_exact_and_follow_the_pixels():
    """A 1920 x 1080 frame into 1088 x 608 as the code pads it (3 grey columns left, 4 right),
    a box's pixels landing where ``forward`` puts the box, and ``back`` undoing ``forward``."""
    frame = np.zeros((1080, 1920, 3), np.uint8)
    box = np.array([[400.0, 300, 200, 500]])
    frame[300:800, 400:600] = 255
    image, mapping = letterbox(frame, 1088, 608)
    assert image.shape == (608, 1088, 3)
    assert mapping.ratio == 608 / 1080 and mapping.pad_x == 3.5 and mapping.pad_y == 0
    assert (image[:, :3] == 128).all() and (image[:, -4:] == 128).all() and image[:, 3].max() < 128
    moved = mapping.forward(box)[0]
    ys, xs = np.nonzero(image[:, :, 0] > 127)
    ys, xs = ys[(xs >= 3) & (xs < 1084)], xs[(xs >= 3) & (xs < 1084)]
    np.testing.assert_allclose(
        [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1],
        [moved[0], moved[1], moved[0] + moved[2], moved[1] + moved[3]],
        atol=1.0,
    )
    rng = np.random.default_rng(0)
    boxes = rng.uniform(-50, 1900, (20, 4))
    np.testing.assert_allclose(mapping.back(mapping.forward(boxes)), boxes, rtol=0, atol=1e-9)
    points = rng.uniform(0, 1088, (10, 2))
    np.testing.assert_allclose(mapping.points(mapping.back_points(points)), points, atol=1e-9)


def rectangle_image(box, size=(160, 120)) -> np.ndarray:
    width, height = size
    image = np.zeros((height, width, 3), np.uint8)
    x, y, w, h = (int(v) for v in box)
    image[y : y + h, x : x + w] = (230, 20, 20)
    return image


def red_box(image: np.ndarray) -> list[float]:
    """The ltwh bounding box of the image's red pixels (the border and ground are grey)."""
    ys, xs = np.nonzero(image[:, :, 0].astype(int) - image[:, :, 2] > 40)
    return [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]


def test_pair_augmentation_moves_boxes_with_pixels_and_shares_a_disturbed_affine():
    """Each view's box covers its warped rectangle; the second view's affine is the first's moved
    by at most 19 % of each range (rotation, scale and shears only upward) with the same flip;
    a negative view draws its own."""
    box = np.array([[50.0, 30, 40, 50]])
    image = rectangle_image(box[0])
    rng = np.random.default_rng(3)
    shares = []
    flips = set()
    for _ in range(40):
        first, first_boxes, kept, affine = augment_view(image, box, None, rng)
        second, second_boxes, second_kept, moved = augment_view(image, box, None, rng, affine)
        assert kept.all() and second_kept.all()
        for view, boxes in ((first, first_boxes), (second, second_boxes)):
            np.testing.assert_allclose(red_box(view), boxes[0], atol=2.5)
        width, height = image.shape[1], image.shape[0]
        assert moved.flip == affine.flip and moved.size == affine.size
        steps = [
            (moved.angle - affine.angle) / (DEGREES[1] - DEGREES[0]),
            (moved.scale - affine.scale) / (SCALE[1] - SCALE[0]),
            math.degrees(moved.shear_x - affine.shear_x) / (SHEAR[1] - SHEAR[0]),
            math.degrees(moved.shear_y - affine.shear_y) / (SHEAR[1] - SHEAR[0]),
        ]
        assert all(0 <= step < 0.19 for step in steps)
        assert abs(moved.shift_x - affine.shift_x) < 0.19 * TRANSLATE * height
        assert abs(moved.shift_y - affine.shift_y) < 0.19 * TRANSLATE * width
        shares.append(max(steps))
        flips.add(affine.flip)
        np.testing.assert_array_equal(second_boxes, warp_boxes(box, moved)[0])
    assert flips == {True, False} and 0.1 < max(shares) < 0.19
    _, _, _, fresh = augment_view(image, box, None, rng, None)
    _, _, _, other = augment_view(image, box, None, rng, None)
    assert abs(fresh.angle - other.angle) > 0 and abs(fresh.scale - other.scale) > 0


def test_a_box_the_warp_shrinks_below_4_px_is_dropped():
    tiny = np.array([[50.0, 30, 40, 50], [10, 10, 5, 5]])
    _, boxes, kept, affine = augment_view(
        rectangle_image(tiny[0]), tiny, SMALL_INPUT, np.random.default_rng(0)
    )
    assert kept.tolist() == [True, False] and affine.size == SMALL_INPUT


def crowdhuman_recipe(root: Path, tmp: Path, **network) -> UTrackRecipe:
    config = network_config("crowdhuman", smoke=True, **network)
    training = training_config("crowdhuman", smoke=True, model=config.model)
    return UTrackRecipe(config, training, RunData(tmp, root))


def test_crowdhuman_pairs_are_two_views_of_an_image_or_two_images_at_the_rate_asked(tmp_path):
    """Positive pairs: one image twice, the same persons (identities) in both views and no
    ignored box; negatives: two images, no identity shared, at the share p asked (none at 0)."""
    root = fake_crowdhuman(tmp_path / "crowdhuman")
    counts = {}
    for share in (0.0, 0.5):
        recipe = crowdhuman_recipe(root, tmp_path, reid="supervised", negatives=share)
        stream = recipe.stream(seed=1)
        pairs = [pair for _ in range(60) for pair in stream.next_batch()]
        counts[share] = sum(pair.negative for pair in pairs) / len(pairs)
        for pair in pairs:
            assert pair.first_ids is not None and pair.second_ids is not None
            assert len(pair.first_ids) == len(pair.first_boxes) and 2 <= len(pair.first_ids) <= 3
            shared = set(pair.first_ids) & set(pair.second_ids)
            if pair.negative:
                assert not shared
            else:
                assert sorted(pair.first_ids) == sorted(pair.second_ids)
                assert pair.first.shape == pair.second.shape
    assert counts[0.0] == 0 and 0.35 < counts[0.5] < 0.65


def test_still_images_need_the_augmentation():
    with pytest.raises(ConfigError, match="augment"):
        training_config("crowdhuman", augment=False)


def test_dla34_has_output_stride_4_and_the_code_s_size():
    """DLA-34 with plain convolutions as the code's dlaconv_34: 18,571,440 parameters in the
    backbone, 19,493,178 with the heads of 256 channels, 128-d embeddings and OccE's heads."""
    assert sum(p.numel() for p in DLA34().parameters()) == 18_571_440
    torch.manual_seed(0)
    model = DLAJointDetector(head_channels=256, embedding=128, occlusion=True).eval()
    assert sum(p.numel() for p in model.parameters()) == 19_493_178
    with torch.no_grad():
        maps = model(torch.zeros(1, 32, 64, 3, dtype=torch.uint8))
    assert {name: tuple(m.shape[1:]) for name, m in maps.items()} == {
        "hm": (1, 8, 16),
        "wh": (4, 8, 16),
        "reg": (2, 8, 16),
        "id": (128, 8, 16),
        "occlusion": (1, 8, 16),
        "occlusion_offset": (2, 8, 16),
    }
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.zeros(1, 48, 64, 3, dtype=torch.uint8))
    mot17 = network_config("mot17", model="detector")
    assert (mot17.backbone, mot17.input_size, mot17.head_channels) == ("dla34", (1088, 608), 256)
    assert network_config("mot17").backbone == "small"  # the crop tier's MOT17 network


def detector_recipe(out: Path, dataset: str, root: Path, params: dict, **changes) -> UTrackRecipe:
    """The small detector at ``SMALL_INPUT`` on ``dataset``'s training defaults (``changes``:
    training overrides; ``network``: network overrides)."""
    network = {"model": "detector", "occlusion": True, **changes.pop("network", {})}
    config = network_config(dataset, smoke=True, **network).replace(input_size=SMALL_INPUT)
    training = training_config(dataset, smoke=True, model="detector", **changes)
    return UTrackRecipe(config, training, RunData(out, root, params))


def trained(recipe: UTrackRecipe, out: Path) -> dict:
    """Two iterations of ``recipe`` into ``out``; the card."""
    train(recipe, out, 2, checkpoint_every=1, log_every=1, validate_every=None)
    return json.loads((out / "last.json").read_text())


def test_pretraining_on_crowdhuman_then_training_on_mot17(tmp_path):
    """Two iterations on CrowdHuman's stills, then on MOT17's first half starting from those
    weights (the detector's; the task weights afresh): the cards say so, and a tracker asking for
    another starting point is refused."""
    crowdhuman = fake_crowdhuman(tmp_path / "crowdhuman")
    mot17 = fake_mot17(tmp_path / "mot17")
    pre = tmp_path / "pre"
    card = trained(detector_recipe(pre, "crowdhuman", crowdhuman, {}), pre)
    assert card["data"]["dataset"] == "crowdhuman" and card["training"]["frame_range"] == 0
    assert card["training"]["id_weight"] == 10 and card["training"]["augment"]
    assert all(np.isfinite(card["curve"][-1][k]) for k in ("total", "detection", "reid"))
    pretrained = {"network": {"pretrained": "crowdhuman"}}
    weights = str(pre / "last")
    recipe = detector_recipe(
        tmp_path / "tuned", "mot17", mot17, MOT17, pretrained_weights=weights, **pretrained
    )
    start, held = recipe.build_model().state_dict(), torch.load(weights + ".pt", weights_only=True)
    assert all(torch.equal(start[k], held[k]) for k in held if k.startswith("detector."))
    assert start["weights.s_det"] == -1.85 and held["weights.s_det"] != -1.85
    tuned = trained(recipe, tmp_path / "tuned")
    assert tuned["variant"] == "detector+OccE/UTrack/pretrained-crowdhuman"
    assert tuned["pretrained"]["dataset"] == "crowdhuman"
    assert tuned["training"]["split"] == "train-half" and tuned["training"]["lr_step"] == 6640
    with pytest.raises(ConfigError, match="pre-trained on mot17"):
        detector_recipe(
            tmp_path / "wrong", "mot17", mot17, MOT17, pretrained_weights=weights,
            network={"pretrained": "mot17"},
        )  # fmt: skip
    # outrack:OccE-pretrained describes this checkpoint's network, outrack:OccE does not
    held = UTrackConfig.from_card(tuned["config"])
    for ablation, difference in (
        ("OccE-pretrained", {}),
        ("OccE", {"pretrained": ("crowdhuman", None)}),
    ):
        method, _ = parse_method(f"outrack:{ablation}")
        config = {**method.config_for(ablation), "dataset": "mot17", "smoke": True}
        wanted = OUTrackTracker.network_of(config).replace(input_size=SMALL_INPUT)
        assert OUTrackTracker.network_difference(held, wanted) == difference


def test_tracking_letterboxes_the_frame_and_maps_boxes_back(monkeypatch):
    """The network sees the 80 x 48 frame letterboxed to 64 x 32; a detection it makes there
    comes out at the frame's coordinates."""
    config = network_config("mot17", smoke=True, model="detector", occlusion=True)
    config = config.replace(input_size=SMALL_INPUT)
    torch.manual_seed(0)
    tracker = OUTrackTracker.from_model(JointModel(config).eval(), model_card(config))
    frame = np.zeros((48, 80, 3), np.uint8)
    _, mapping = letterbox(frame, *SMALL_INPUT)
    wanted = np.array([[30.0, 10, 15, 30]])
    seen = []

    def decode(outputs, k):
        seen.append(tuple(outputs["hm"].shape[2:]))
        return [(mapping.forward(wanted), np.array([0.9]), np.array([0]))]

    monkeypatch.setattr(tracker_module, "decode_detections", decode)
    tracker.reset({"width": 80, "height": 48, "fps": 30})
    output = tracker.step(FrameInput(1, frame))
    assert seen == [(8, 16)]
    np.testing.assert_allclose(output.boxes, wanted, atol=1e-9)


@pytest.mark.parametrize(
    "experiment, tables",
    [
        ("outrack-mot17.yaml", ["utrack-t5", "utrack-t6", "utrack-t10"]),
        ("utrack-crowdhuman.yaml", ["utrack-t7", "utrack-t8", "utrack-t9"]),
    ],
)
def test_the_paper_scale_experiments_refuse_to_load_without_their_checkpoints(
    experiment, tables, trackbench, tmp_path
):
    path = ROOT / "experiments" / experiment
    assert all(paper_table(t).experiment_path().resolve() == path for t in tables)
    with pytest.raises(ConfigError, match="checkpoint not found"):
        load_experiment(path)
    code, _, err = trackbench("run", path, "--out", tmp_path)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "checkpoint not found" in err


def test_paper_rows_trackbench_does_not_run_read_as_a_dash_on_a_board():
    """Table 10's starred FairMOT and CycAs rows and its CenterTrack rows have no method."""
    table = paper_table("utrack-t10")
    columns = ["dataset", "split", "method", "ablation", "detections", "axes", "n_seeds"]
    nothing = pd.DataFrame({name: [] for name in [*columns, "n_sequences"]})
    rows = comparison_layout(table, compare_with_paper(nothing, table)).rows
    assert [row[1].text for row in rows][:6] == [
        "utrack:supervised", "—", "utrack:cycas", "—", "outrack:no-occe",
        "outrack:no-occe-pretrained",
    ]  # fmt: skip
