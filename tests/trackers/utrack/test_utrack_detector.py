"""utrack's joint detector tier against OUTrack's code: a fresh network's maps and head biases,
``gen_target``'s targets, the focal and L1 losses written out, ``mot_decode`` and the occlusion
decode on hand-built maps, and a targets -> maps -> boxes round trip."""

import math

import numpy as np
import pytest
import torch

from trackers.utrack.decode import decode_detections, decode_occlusions, embeddings_at
from trackers.utrack.detection_losses import (
    UncertaintyWeights,
    detection_loss,
    focal_loss,
    gather,
    reg_l1_loss,
)
from trackers.utrack.detector import JointDetector
from trackers.utrack.targets import detection_targets


def small_detector(occlusion: bool = True) -> JointDetector:
    torch.manual_seed(0)
    return JointDetector(channels=8, head_channels=16, embedding=8, occlusion=occlusion)


def test_fresh_network_maps_at_stride_4_and_head_biases_as_the_code():
    """Maps at 1/4; final bias -2.19 on hm, occlusion and (by the code's substring test)
    occlusion_offset; zero biases on wh, reg and id; no occlusion maps without the heads."""
    model = small_detector().eval()
    with torch.no_grad():
        maps = model(torch.zeros(2, 32, 48, 3, dtype=torch.uint8))
    sizes = {"hm": 1, "wh": 4, "reg": 2, "id": 8, "occlusion": 1, "occlusion_offset": 2}
    assert {name: tuple(m.shape) for name, m in maps.items()} == {
        name: (2, size, 8, 12) for name, size in sizes.items()
    }
    for name in ("hm", "occlusion", "occlusion_offset"):
        assert torch.all(model.heads[name][-1].bias == -2.19)
    for name in ("wh", "reg", "id"):
        assert torch.all(model.heads[name][0].bias == 0)
        assert torch.all(model.heads[name][-1].bias == 0)
    assert set(small_detector(occlusion=False).heads) == {"hm", "wh", "reg", "id"}
    with pytest.raises(ValueError, match="multiples of 16"):
        model(torch.zeros(1, 40, 48, 3, dtype=torch.uint8))


def test_targets_of_two_boxes():
    """64 x 64 image, 16 x 16 map: box A centre (4.5, 7.5) 4 x 6, box B centre (11.5, 2) 5 x 2
    in output pixels; they do not overlap, so no occlusion."""
    boxes = np.array([[10, 18, 16, 24], [36, 4, 20, 8]], float)
    t = detection_targets(boxes, np.array([3, 7]), 64, 64, max_objects=4)
    assert t["hm"].shape == (1, 16, 16)
    assert t["hm"][0, 7, 4] == 1 and t["hm"][0, 2, 11] == 1
    assert (t["hm"] == 1).sum() == 2 and 0 < t["hm"][0, 7, 5] < 1
    np.testing.assert_array_equal(t["ind"], [7 * 16 + 4, 2 * 16 + 11, 0, 0])
    np.testing.assert_array_equal(t["reg_mask"], [1, 1, 0, 0])
    np.testing.assert_allclose(t["wh"][:2], [[2, 3, 2, 3], [2.5, 1, 2.5, 1]])
    np.testing.assert_allclose(t["reg"][:2], [[0.5, 0.5], [0.5, 0]])
    np.testing.assert_array_equal(t["ids"], [3, 7, -1, -1])
    assert t["occ_ind"].shape == (16,) and t["occ_offset"].shape == (16, 2)
    assert t["occ_mask"].sum() == 0 and t["occlusion"].max() == 0
    assert (detection_targets(boxes, None, 64, 64, max_objects=4)["ids"] == -1).all()
    with pytest.raises(ValueError, match="max_objects=1"):
        detection_targets(boxes, None, 64, 64, max_objects=1)


def test_targets_clip_the_centre_not_the_box_and_mark_occlusions():
    """A box centred right of the map gets the last column as centre and ltrb to its real sides;
    a box inside another is an occlusion centred on it."""
    t = detection_targets(np.array([[56, 40, 16, 8]], float), None, 64, 64, max_objects=2)
    assert t["ind"][0] == 11 * 16 + 15
    np.testing.assert_allclose(t["wh"][0], [1, 1, 3, 1])
    np.testing.assert_allclose(t["reg"][0], [0, 0])
    t = detection_targets(np.array([[8, 8, 32, 32], [16, 16, 10, 8]], float), None, 64, 64, 4, 2)
    np.testing.assert_array_equal(t["occ_mask"], [1] + [0] * 7)
    assert t["occ_ind"][0] == 5 * 16 + 5 and t["occlusion"][0, 5, 5] == 1
    np.testing.assert_allclose(t["occ_offset"][0], [0.25, 0])


def test_focal_loss_is_centernets_written_out():
    """One positive, one Gaussian-weighted negative, one clamped confident negative."""
    logits = torch.tensor([[[[0.5, -1.0], [20.0, -3.0]]]], dtype=torch.float64)
    target = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]], dtype=torch.float64)
    p = [1 / (1 + math.exp(-v)) for v in (0.5, -1.0, 20.0, -3.0)]
    p[2] = 1 - 1e-4
    positive = math.log(p[0]) * (1 - p[0]) ** 2
    negative = (
        math.log(1 - p[1]) * p[1] ** 2 * 0.5**4
        + math.log(1 - p[2]) * p[2] ** 2
        + math.log(1 - p[3]) * p[3] ** 2
    )
    assert focal_loss(logits, target).item() == pytest.approx(-(positive + negative), rel=1e-9)
    no_positive = target.clone()
    no_positive[0, 0, 0, 0] = 0.0
    negative_all = negative + math.log(1 - p[0]) * p[0] ** 2
    assert focal_loss(logits, no_positive).item() == pytest.approx(-negative_all, rel=1e-9)


def test_gather_and_l1_over_masked_entries_and_channels():
    maps = torch.arange(8.0).reshape(1, 2, 2, 2)  # channel 0: 0..3, channel 1: 4..7
    ind = torch.tensor([[3, 0, 1]])
    np.testing.assert_array_equal(gather(maps, ind)[0].numpy(), [[3, 7], [0, 4], [1, 5]])
    target = torch.tensor([[[1.0, 7.0], [0.5, 6.0], [100.0, 100.0]]])
    loss = reg_l1_loss(maps, torch.tensor([[1, 1, 0]], dtype=torch.uint8), ind, target)
    assert loss.item() == pytest.approx((2 + 0 + 0.5 + 2) / (4 + 1e-4))


def test_detection_loss_weights_and_occlusion_terms():
    targets = detection_targets(np.array([[8, 8, 32, 32], [16, 16, 10, 8]]), None, 64, 64, 4, 3)
    batch = {name: torch.from_numpy(value)[None] for name, value in targets.items()}
    torch.manual_seed(0)
    outputs = {
        name: torch.randn(1, size, 16, 16)
        for name, size in {
            "hm": 1,
            "wh": 4,
            "reg": 2,
            "occlusion": 1,
            "occlusion_offset": 2,
        }.items()
    }
    total, terms = detection_loss(outputs, batch)
    expected = (
        terms["hm"]
        + 0.1 * terms["wh"]
        + terms["reg"]
        + 0.5 * terms["occlusion"]
        + 0.5 * terms["occlusion_offset"]
    )
    assert total.item() == pytest.approx(expected.item())
    assert terms["occlusion"].item() == pytest.approx(
        focal_loss(outputs["occlusion"], batch["occlusion"]).item()
    )
    del outputs["occlusion"], outputs["occlusion_offset"]
    total, terms = detection_loss(outputs, batch)
    assert set(terms) == {"hm", "wh", "reg"}
    assert total.item() == pytest.approx((terms["hm"] + 0.1 * terms["wh"] + terms["reg"]).item())


def test_network_trains_on_its_targets():
    """The loss of a fresh network on its targets is finite and reaches every head."""
    model = small_detector().train()
    targets = detection_targets(np.array([[4, 4, 12, 20], [8, 6, 10, 18]]), None, 32, 32, 4, 4)
    batch = {name: torch.from_numpy(value)[None] for name, value in targets.items()}
    total, _ = detection_loss(model(torch.full((1, 32, 32, 3), 128, dtype=torch.uint8)), batch)
    total.backward()
    assert torch.isfinite(total)
    assert all(
        model.heads[name][-1].weight.grad.abs().sum() > 0 for name in model.heads if name != "id"
    )


def hand_built_maps() -> dict[str, torch.Tensor]:
    """An 8 x 8 map with peaks at (x 2, y 3) logit 2 and (6, 6) logit 0, a weaker neighbour of
    the first at (3, 3), and box sizes and offsets at the peaks."""
    hm = torch.full((1, 1, 8, 8), -10.0)
    hm[0, 0, 3, 2], hm[0, 0, 3, 3], hm[0, 0, 6, 6] = 2.0, 1.0, 0.0
    wh, reg = torch.zeros(1, 4, 8, 8), torch.zeros(1, 2, 8, 8)
    wh[0, :, 3, 2], reg[0, :, 3, 2] = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([0.25, 0.5])
    wh[0, :, 6, 6] = 1.0
    return {"hm": hm, "wh": wh, "reg": reg}


def test_decode_two_peaks_suppresses_the_neighbour():
    ((boxes, scores, indices),) = decode_detections(hand_built_maps(), k=2)
    # Peak 1: centre (2.25, 3.5), ltrb (1, 2, 3, 4) -> (1.25, 1.5, 5.25, 7.5) x 4.
    np.testing.assert_allclose(boxes, [[5, 6, 16, 24], [20, 20, 8, 8]])
    np.testing.assert_allclose(scores, [1 / (1 + math.exp(-2)), 0.5], rtol=1e-6)
    np.testing.assert_array_equal(indices, [3 * 8 + 2, 6 * 8 + 6])
    ((_, scores, indices),) = decode_detections(hand_built_maps(), k=1000)
    assert len(indices) == 64 and scores[list(indices).index(3 * 8 + 3)] == 0


def test_occlusion_decode_keeps_peaks_above_the_threshold():
    occlusion = torch.full((1, 1, 8, 8), -10.0)
    occlusion[0, 0, 1, 4], occlusion[0, 0, 5, 5] = math.log(0.3 / 0.7), math.log(0.05 / 0.95)
    offset = torch.zeros(1, 2, 8, 8)
    offset[0, :, 1, 4] = torch.tensor([0.5, 0.25])
    ((centres, scores),) = decode_occlusions({"occlusion": occlusion, "occlusion_offset": offset})
    np.testing.assert_allclose(centres, [[18, 5]])
    np.testing.assert_allclose(scores, [0.3], rtol=1e-6)
    ((centres, _),) = decode_occlusions({"occlusion": occlusion}, threshold=0.01)
    np.testing.assert_allclose(centres, [[18, 6], [22, 22]])


def test_targets_written_into_maps_decode_back_to_the_boxes():
    boxes = np.array([[10.3, 18.6, 16.2, 24.9], [70.1, 40.7, 30.5, 50.2], [100.9, 4.2, 12.8, 9.6]])
    t = detection_targets(boxes, None, 128, 128, max_objects=8)
    heat = np.clip(t["hm"], 1e-6, 1 - 1e-6)
    maps = {"hm": torch.from_numpy(np.log(heat / (1 - heat)))[None]}
    for name, size in (("wh", 4), ("reg", 2)):
        flat = np.zeros((size, 32 * 32), np.float32)
        flat[:, t["ind"][:3]] = t[name][:3].T
        maps[name] = torch.from_numpy(flat.reshape(1, size, 32, 32))
    ((found, scores, indices),) = decode_detections(maps, k=3)
    order = np.argsort(indices)
    np.testing.assert_allclose(found[order], boxes[np.argsort(t["ind"][:3])], atol=0.5)
    assert (scores > 0.99).all()


def test_embeddings_at_are_the_normalised_map_columns():
    id_map = torch.tensor([[[3.0, 0.0], [1.0, 0.0]], [[4.0, 0.0], [0.0, 2.0]]])
    np.testing.assert_allclose(
        embeddings_at(id_map, np.array([0, 3, 2])), [[0.6, 0.8], [0, 1], [1, 0]]
    )


def test_uncertainty_weighting_value_and_gradient():
    weights = UncertaintyWeights()
    loss = weights(torch.tensor(2.0), torch.tensor(3.0))
    expected = 0.5 * (math.exp(1.85) * 2 + math.exp(1.05) * 3 - 1.85 - 1.05)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert weights.s_det.grad.item() == pytest.approx(0.5 * (1 - 2 * math.exp(1.85)), rel=1e-6)
