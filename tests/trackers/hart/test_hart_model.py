"""HART's components against the paper's equations (Kosiorek et al. 2017, §3–4): the filterbank
glimpse (eqs 1–2), the dynamic filters and the location-map masking (eqs 3–4), the cumulative
attention and the box relative to it (eqs 7–8), each loss on hand-made boxes (eqs 9–12), the
AlexNet weight mapping, the curriculum and the soft clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness.errors import ConfigError
from trackers.hart.attention import (
    SIGMA_COEFFICIENTS,
    box_mask,
    fit_sigma_polynomial,
    glimpse,
    iou,
    ltwh_to_unit,
    sigma_of_stride,
    unit_to_ltwh,
)
from trackers.hart.config import HartConfig, network
from trackers.hart.losses import (
    appearance_loss,
    hart_loss,
    spatial_attention_loss,
    tracking_loss,
)
from trackers.hart.model import Appearance, Hart, dynamic_conv, load_alexnet_weights
from trackers.hart.train import Curriculum, soft_clip

SMOKE = network("mnist", "HART", smoke=True)


def test_a_box_of_ones_extracts_ones_and_outside_the_image_fades_to_zero():
    ones = torch.ones(2, 3, 40, 60)
    inside = torch.tensor([[0.1, 0.2, 0.5, 0.6], [0.3, 0.1, 0.4, 0.8]])
    assert torch.allclose(glimpse(ones, inside, (8, 12)), torch.ones(2, 3, 8, 12), atol=1e-5)
    beyond = torch.tensor([[2.0, 2.0, 0.5, 0.5]] * 2)  # wholly below and right of the image
    assert glimpse(ones, beyond, (8, 12)).abs().max() < 1e-6


def test_attention_on_an_object_recovers_it():
    image = torch.zeros(1, 1, 50, 60)
    digit = torch.rand(10, 14, generator=torch.Generator().manual_seed(0))
    image[0, 0, 12:22, 30:44] = digit
    on_it = torch.tensor([[12 / 50, 30 / 60, 10 / 50, 14 / 60]])  # stride 1
    g = glimpse(image, on_it, (10, 14))[0, 0]
    assert torch.corrcoef(torch.stack([g.flatten(), digit.flatten()]))[0, 1] > 0.9
    assert (g - digit).abs().mean() < 0.1
    off_by_3 = on_it + torch.tensor([[3 / 50, 3 / 60, 0, 0]])
    assert (glimpse(image, off_by_3, (10, 14))[0, 0] - digit).abs().mean() > 2 * (
        g - digit
    ).abs().mean()


def test_a_zoomed_out_glimpse_averages_and_sigma_grows_with_the_stride():
    stripes = torch.zeros(1, 1, 64, 64)
    stripes[..., ::2] = 1.0  # columns alternate 1, 0: stride 4 must blur them to 0.5
    g = glimpse(stripes, torch.tensor([[0.25, 0.25, 0.5, 0.5]]), (8, 8))
    assert torch.allclose(g, torch.full_like(g, 0.5), atol=0.05)
    sigmas = sigma_of_stride(torch.tensor([0.5, 1.0, 2.0, 4.0, 8.0]))
    assert (sigmas.diff() > 0).all()


def test_the_stored_sigma_polynomial_is_the_fit():
    strides = np.linspace(0.25, 12, 12)  # a coarser grid than the stored fit's
    refit = np.polynomial.polynomial.polyval(strides, fit_sigma_polynomial(strides))
    stored = np.polynomial.polynomial.polyval(strides, SIGMA_COEFFICIENTS)
    assert np.abs(refit - stored).max() < 0.1, (refit, stored)  # pixels


def test_boxes_convert_to_image_units_and_back():
    ltwh = torch.tensor([[11.0, 21.0, 30.0, 40.0]])
    unit = ltwh_to_unit(ltwh, 100, 200)
    assert torch.allclose(unit, torch.tensor([[0.2, 0.05, 0.4, 0.15]]))
    assert torch.allclose(unit_to_ltwh(unit, 100, 200), ltwh)


def test_the_box_mask_marks_the_glimpse_cells_inside_the_box():
    whole = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    mask = box_mask(whole, torch.tensor([[0.0, 0.0, 0.5, 0.5]]), (4, 4))
    expected = torch.zeros(1, 4, 4)
    expected[0, :2, :2] = 1
    assert torch.equal(mask, expected)
    zoomed = torch.tensor([[0.5, 0.5, 0.5, 0.5]])  # the glimpse is the box's lower-right quarter
    assert box_mask(zoomed, torch.tensor([[0.0, 0.0, 0.5, 0.5]]), (4, 4)).sum() == 0


def test_dynamic_filters_convolve_each_sample_with_its_own_filters():
    x = torch.randn(3, 4, 6, 6)
    weight, bias = torch.randn(3, 5, 4, 3, 3), torch.randn(3, 5)
    out = dynamic_conv(x, weight, bias)
    assert out.shape == (3, 5, 6, 6)
    for b in range(3):
        assert torch.allclose(
            out[b], F.conv2d(x[b : b + 1], weight[b], bias[b], padding=1)[0], atol=1e-5
        )


def test_the_location_map_masks_the_ventral_features():
    config = SMOKE
    appearance = Appearance(config)
    features = torch.rand(2, config.v1_channels, *config.feature_size)
    alpha = torch.randn(2, config.hidden)
    masked, logit, psi = appearance(features, alpha)
    ventral = F.elu(appearance.ventral(features))
    assert masked.shape == (2, config.features, *config.feature_size)
    assert logit.shape == (2, *config.feature_size)
    assert torch.allclose(masked, ventral * torch.sigmoid(logit)[:, None])
    assert psi.shape == (2, sum(appearance.sizes))  # eq. 3: the filters are a function of α
    with torch.no_grad():
        appearance.readout.bias.fill_(-100.0)  # location map ≈ 0 everywhere: nothing passes
    assert appearance(features, alpha)[0].abs().max() < 1e-6


def test_attention_is_the_cumulative_sum_of_scaled_updates_and_the_box_is_relative_to_it():
    torch.manual_seed(0)
    model = Hart(SMOKE).eval()
    with torch.no_grad():
        model.to_attention.weight.normal_(0, 1.0)  # large updates so that the test can see them
        model.to_box.weight.normal_(0, 1.0)
    frames = torch.rand(2, 4, 1, 30, 30)
    box = torch.tensor([[0.3, 0.3, 0.3, 0.3], [0.2, 0.4, 0.25, 0.3]])
    state = model.initial_state(box)
    bias = SMOKE.initial_bias * torch.tanh(model.initial_bias)
    assert torch.allclose(state.attention, box + bias)
    attention = state.attention
    for t in range(4):
        step, following = model.step(frames[:, t], state)
        z = _head_input(model, frames[:, t], state)
        update = torch.tanh(model.attention_scale) * torch.tanh(model.to_attention(z))  # eq. 7
        assert torch.allclose(step.attention, attention)
        assert torch.allclose(following.attention, attention + update, atol=1e-6)
        assert torch.allclose(step.box, attention + torch.tanh(model.to_box(z)), atol=1e-6)  # eq. 8
        attention, state = following.attention, following
    outputs = model(frames, box)
    assert torch.allclose(outputs.attention[:, -1], step.attention, atol=1e-6)
    assert torch.equal(outputs.boxes[:, 0], box)


def _head_input(model: Hart, image: torch.Tensor, state) -> torch.Tensor:
    """Eq. 6's MLP hidden layer recomputed from the step's parts."""
    from trackers.hart.attention import contrast_normalise

    features = model.v1(contrast_normalise(glimpse(image, state.attention, model.config.glimpse)))
    masked, logit, _ = model.appearance(features, state.appearance)
    v = F.elu(model.input_fc(torch.cat([masked.flatten(1), state.attention], -1)))
    hidden, _ = model.lstm(v, (state.hidden, state.cell), None)
    mask = F.elu(model.mask_fc(torch.sigmoid(logit).flatten(1)))
    return F.elu(model.head(torch.cat([hidden, mask], -1)))


def test_spatial_att_has_no_dorsal_stream_and_ratm_reports_its_attention():
    spatial = Hart(network("mnist", "Spatial Att", smoke=True))
    assert not hasattr(spatial, "appearance")
    ratm = Hart(network("mnist", "RATM", smoke=True)).eval()
    frames, box = torch.rand(1, 3, 1, 30, 30), torch.tensor([[0.3, 0.3, 0.3, 0.3]])
    outputs = ratm(frames, box)
    assert torch.equal(outputs.boxes[:, 1:], outputs.attention[:, 1:])


def test_the_tracking_loss_is_minus_log_iou():
    a = torch.tensor([0.0, 0.0, 0.5, 0.5])
    b = torch.tensor([0.0, 0.0, 0.5, 0.25])
    assert math.isclose(float(iou(a, b)), 0.5, rel_tol=1e-6)
    assert math.isclose(float(tracking_loss(a, b)), math.log(2), rel_tol=1e-6)
    far = torch.tensor([0.8, 0.8, 0.1, 0.1])
    assert math.isclose(float(tracking_loss(a, far)), -math.log(1e-4), rel_tol=1e-6)  # clipped


def test_the_spatial_attention_loss_covers_the_box_and_stays_small():
    box = torch.tensor([0.25, 0.25, 0.2, 0.2])
    covering = torch.tensor([0.2, 0.2, 0.5, 0.5])  # covers the box, a quarter of the image
    assert math.isclose(float(spatial_attention_loss(covering, box)), -math.log(0.75), rel_tol=1e-5)
    half = torch.tensor([0.25, 0.25, 0.2, 0.1])  # half the box, 2% of the image
    expected = -math.log(0.5) - math.log(1 - 0.02)
    assert math.isclose(float(spatial_attention_loss(half, box)), expected, rel_tol=1e-5)


def test_the_appearance_loss_is_the_cross_entropy_against_the_box_mask():
    attention = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    box = torch.tensor([[0.0, 0.0, 0.5, 0.5]])
    assert math.isclose(
        float(appearance_loss(torch.zeros(1, 4, 4), attention, box)), math.log(2), rel_tol=1e-6
    )
    perfect = torch.full((1, 4, 4), -20.0)
    perfect[0, :2, :2] = 20.0
    assert float(appearance_loss(perfect, attention, box)) < 1e-8


def test_the_loss_weights_are_adaptive_and_each_variant_has_its_terms():
    frames = torch.rand(2, 3, 1, 30, 30)
    target = torch.tensor([[0.3, 0.3, 0.3, 0.3]]).repeat(2, 3, 1)
    expected = {
        "HART": {"tracking", "spatial", "appearance"},
        "App Att": {"tracking", "spatial"},
        "Spatial Att": {"tracking"},
        "RATM": {"features"},
    }
    for variant, names in expected.items():
        model = Hart(network("mnist", variant, smoke=True))
        with torch.no_grad():
            model.loss_weights.copy_(torch.tensor([0.5, 2.0, 1.5]))
        outputs = model(frames, target[:, 0])
        terms = hart_loss(model, frames, outputs, target, l2=0.0)
        assert set(terms) - {"total", "IoU"} == names
        weights = torch.tensor([0.5, 2.0, 1.5]) ** 2 + 1e-8
        weighted = [name for name in terms if name in names]  # in λ's order
        total = sum(
            weights[i] * terms[name] - torch.log(weights[i]) for i, name in enumerate(weighted)
        )
        assert torch.allclose(terms["total"], total, atol=1e-5), variant


def test_alexnet_weights_map_onto_conv1_to_3_and_bad_shapes_are_refused(tmp_path):
    model = Hart(network("kitti", "HART"))
    shapes = {
        "features.0": (64, 3, 11, 11),
        "features.3": (192, 64, 5, 5),
        "features.6": (384, 192, 3, 3),
        "features.8": (256, 384, 3, 3),  # conv4: not V1's, ignored
    }
    state = {}
    for layer, shape in shapes.items():
        state[f"{layer}.weight"] = torch.randn(shape)
        state[f"{layer}.bias"] = torch.randn(shape[0])
    path = tmp_path / "alexnet.pth"
    torch.save(state, path)
    load_alexnet_weights(model, path)
    assert torch.equal(model.v1.conv1.weight, state["features.0.weight"])
    assert torch.equal(model.v1.conv3.bias, state["features.6.bias"])
    state["features.3.weight"] = torch.randn(256, 96, 5, 5)  # the original AlexNet's conv2
    torch.save(state, path)
    with pytest.raises(
        ConfigError, match=r"alexnet.pth: features.3.weight has shape \(256, 96, 5, 5\)"
    ):
        load_alexnet_weights(model, path)
    state["features.3.weight"] = torch.randn(192, 64, 5, 5)
    del state["features.6.bias"]
    torch.save(state, path)
    with pytest.raises(ConfigError, match="no 'features.6.bias'"):
        load_alexnet_weights(Hart(network("kitti", "HART")), path)
    with pytest.raises(ConfigError, match="need the alexnet V1"):
        load_alexnet_weights(Hart(SMOKE), path)


def test_the_kitti_v1_gives_14x14x384_from_56x56():
    model = Hart(network("kitti", "HART"))
    assert model.v1(torch.rand(2, 3, 56, 56)).shape == (2, 384, 14, 14)
    assert HartConfig().feature_size == (14, 14)


def lengths(curriculum: Curriculum, ious: list[float]) -> list[int]:
    """The length of each batch when the batches' training IoUs are ``ious``."""
    seen = []
    for score in ious:
        seen.append(curriculum.next_length())
        curriculum.report(score)
    return seen


def test_the_paper_curriculum_grows_every_13_epochs_of_shorter_epochs():
    curriculum = Curriculum(5, 7, 13, 2000, 10, rule="epochs")
    # 40 batches per epoch at length 5 (520 iterations), 33 at length 6 (429)
    seen = lengths(curriculum, [0.0] * 1200)
    assert [seen[i] for i in (0, 519, 520, 948, 949, 1199)] == [5, 5, 6, 6, 7, 7]


def test_the_code_curriculum_grows_when_training_iou_reaches_the_threshold_after_13_epochs():
    curriculum = Curriculum(5, 30, 13, 2000, 10, report_every=500)
    assert curriculum.threshold() == pytest.approx(0.7)
    # IoU 0.8 from the start: the report at 500 comes before 13 epochs (520), the one at 1000
    # after, so the 1001st batch is the first of 6 frames
    seen = lengths(curriculum, [0.8] * 1000)
    assert set(seen) == {5} and curriculum.length == 6
    assert curriculum.threshold() == pytest.approx(0.7 - 0.05 / 25)
    # below the threshold it stays, however long
    assert set(lengths(curriculum, [0.69] * 3000)) == {6}
    # a report's IoU is the mean of the batches since the last one
    assert set(lengths(curriculum, [0.9, 0.5] * 250)) == {6} and curriculum.length == 7
    assert Curriculum(5, 30, 13, 2000, 10, start_threshold=0.7).length == 5
    with pytest.raises(ConfigError, match="curriculum must be one of"):
        Curriculum(5, 30, 13, 2000, 10, rule="iou-gated")


def test_soft_clipping_scales_all_gradients_when_their_rms_is_too_large():
    big = torch.nn.Parameter(torch.zeros(4))
    big.grad = torch.tensor([1.0, -1.0, 1.0, -1.0])  # RMS 1
    soft_clip([big], 0.3)
    assert torch.allclose(big.grad, torch.tensor([0.3, -0.3, 0.3, -0.3]))
    small = torch.nn.Parameter(torch.zeros(2))
    small.grad = torch.tensor([0.1, -0.1])
    soft_clip([small], 0.3)
    assert torch.equal(small.grad, torch.tensor([0.1, -0.1]))


def test_unknown_variants_and_setups_are_refused():
    with pytest.raises(ConfigError, match="unknown variant 'HARTT'"):
        HartConfig(variant="HARTT")
    with pytest.raises(ConfigError, match="unknown HART setup 'kiti'"):
        network("kiti", "HART")


def test_a_cropped_glimpse_of_uint8_frames_is_the_full_ones():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (3, 3, 187, 621), dtype=torch.uint8)
    attention = torch.tensor([[0.2, 0.3, 0.2, 0.1], [0.5, 0.6, 0.3, 0.2], [-0.1, 0.9, 0.3, 0.2]])
    full = glimpse(images.float() / 255, attention, (56, 56))
    assert torch.allclose(glimpse(images, attention, (56, 56), crop=True), full, atol=1e-4)
