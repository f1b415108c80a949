"""Gan et al. (2015) tracker networks, component by component: box normalisation, the conv
encoder, the eq. 7 attention mask, the box head, step vs batched forward, losses, gradients and a
short training run on a synthetic moving square."""

from __future__ import annotations

import math

import pytest
import torch

from harness.errors import ConfigError
from trackers.gan.config import ATTENTION_GRIDS, GanConfig
from trackers.gan.models import (
    ConvTracker,
    FrameEncoder,
    RecTracker,
    attention_mask,
    build_model,
    corners_to_ltwh,
    ltwh_to_corners,
    tracking_loss,
)

MODELS = list(ATTENTION_GRIDS)
SMALL = {"hidden": 16}  # the paper's layers, a thinner GRU / FC for speed


def _config(model: str, code: bool = False, **changes) -> GanConfig:
    config = GanConfig(model=model, **SMALL)
    return (config.code_choices() if code else config).replace(**SMALL, **changes)


def _randomise_box_head(model: torch.nn.Module) -> None:
    """Give the zero-initialised box head weights, so the boxes depend on the input."""
    with torch.no_grad():
        model.box_head.weight.normal_(0, 0.5)


def _moving_square(
    n: int = 2, length: int = 5, size: int = 12
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames (n, length, 1, 100, 100) of a bright square moving diagonally on a dim background,
    and its normalised boxes (n, length, 4)."""
    frames = torch.full((n, length, 1, 100, 100), 0.1)
    ltwh = torch.zeros(n, length, 4)
    for i in range(n):
        for t in range(length):
            top, left = 10 + 7 * t + 20 * i, 15 + 5 * t + 10 * i
            frames[i, t, 0, top : top + size, left : left + size] = 1.0
            ltwh[i, t] = torch.tensor([left + 1, top + 1, size, size])
    return frames, ltwh_to_corners(ltwh)


def test_box_normalisation_follows_the_code_and_round_trips():
    # pixels 0..99 (1-based left 1, width 100) -> corners -1 .. 99/50 - 1
    full = ltwh_to_corners(torch.tensor([1.0, 1.0, 100.0, 100.0]))
    assert torch.allclose(full, torch.tensor([-1.0, -1.0, 0.98, 0.98]))
    # columns 10..19 and rows 30..34: [y_min, x_min, y_max, x_max] = [30, 10, 34, 19] / 50 - 1
    box = ltwh_to_corners(torch.tensor([11.0, 31.0, 10.0, 5.0]), frame_size=100)
    assert torch.allclose(box, torch.tensor([30.0, 10.0, 34.0, 19.0]) / 50 - 1)
    ltwh = torch.rand(3, 7, 4, dtype=torch.float64) * 40 + 1
    assert torch.allclose(corners_to_ltwh(ltwh_to_corners(ltwh)), ltwh)
    corners = torch.rand(5, 4, dtype=torch.float64) * 2 - 1
    assert torch.allclose(ltwh_to_corners(corners_to_ltwh(corners, 64), 64), corners)


def test_conv_output_is_19_by_19_by_32_for_a_100_pixel_frame():
    config = GanConfig()
    encoder = FrameEncoder(1, config)
    maps = encoder.feature_map(torch.rand(3, 1, 100, 100))
    assert config.conv_size == 19
    assert maps.shape == (3, 32, 19, 19)
    assert encoder.out_features == 19 * 19 * 32 == 11552
    assert maps.abs().max() <= 1  # tanh
    # ConvTracker's code variant pools 4 x 4: 4 x 4 x 32
    pooled = FrameEncoder(4, config, pool=4)
    assert pooled(torch.rand(2, 4, 100, 100)).shape == (2, 4 * 4 * 32)


@pytest.mark.parametrize(
    ("frame", "kernel", "stride", "channels"),
    [(100, 10, 5, 1), (32, 9, 3, 1), (30, 6, 3, 1), (30, 7, 3, 1), (100, 10, 5, 4)],
)
def test_encoder_convolution_equals_the_direct_convolution_with_its_gradients(
    frame, kernel, stride, channels
):
    """The block-product convolution (one channel, kernel a multiple of the stride) and the
    direct one it falls back to give conv2d's values and gradients for weights, bias and
    frames (the attention models differentiate through the masked frame)."""
    config = GanConfig(frame_size=frame, conv_kernel=kernel, conv_stride=stride)
    torch.manual_seed(0)
    encoder = FrameEncoder(channels, config).double()
    torch.nn.init.normal_(encoder.conv.bias)
    images = torch.rand(3, channels, frame, frame, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(3, config.conv_filters, config.conv_size, config.conv_size).double()
    ours = encoder.feature_map(images)
    conv = encoder.conv
    direct = torch.tanh(torch.nn.functional.conv2d(images, conv.weight, conv.bias, stride=stride))
    assert ours.shape == direct.shape
    assert torch.allclose(ours, direct, atol=1e-12)
    inputs = (conv.weight, conv.bias, images)
    for got, want in zip(
        torch.autograd.grad(ours, inputs, upstream), torch.autograd.grad(direct, inputs, upstream)
    ):
        assert torch.allclose(got, want, atol=1e-10)


def _box_around(centre_y: float, centre_x: float, half: float = 6.0) -> torch.Tensor:
    """Normalised corners of a box with the given centre (0-based pixels), float64."""
    pixels = torch.tensor(
        [[centre_y - half, centre_x - half, centre_y + half, centre_x + half]], dtype=torch.float64
    )
    return pixels / 50 - 1


def _params(sigma_px: float, stride_factor: float = 1.0, amplitude: float = 1.0) -> torch.Tensor:
    return torch.tensor(
        [[math.log(sigma_px / 50), math.log(stride_factor), math.log(amplitude)]],
        dtype=torch.float64,
    )


def test_single_gaussian_mask_peaks_at_the_box_centre_with_the_closed_form_sum():
    sigma = 3.0
    mask = attention_mask(_box_around(40, 62), _params(sigma, amplitude=2.5), grid=1)[0]
    assert mask.shape == (100, 100)
    peak = divmod(int(mask.argmax()), 100)
    assert peak == (40, 62)  # row = y centre, column = x centre
    assert mask[40, 62].item() == pytest.approx(2.5)
    # the discrete sum of a Gaussian far from the border equals its integral 2πσ² (x amplitude)
    assert mask.sum().item() == pytest.approx(2.5 * 2 * math.pi * sigma**2, rel=1e-9)
    # the code's normalised filters: each 1-D Gaussian sums to 1, so the mask sums to amplitude
    normalised = attention_mask(
        _box_around(40, 62), _params(sigma, amplitude=2.5), grid=1, normalise_filters=True
    )
    assert normalised.sum().item() == pytest.approx(2.5, rel=1e-6)


@pytest.mark.parametrize(
    ("stride_scale", "stride_factor", "stride_px"),
    [("paper", 0.2, 20.0), ("code", 30 / 49.5, 30.0)],  # exp(r)·K and exp(r)·99/(N − 1)
)
def test_3x3_mask_is_nine_gaussians_on_a_grid_around_the_box_centre(
    stride_scale, stride_factor, stride_px
):
    sigma, centre = 2.0, (50, 45)
    mask = attention_mask(
        _box_around(*centre), _params(sigma, stride_factor), grid=3, stride_scale=stride_scale
    )[0]
    peaks = {
        (centre[0] + dy * stride_px, centre[1] + dx * stride_px)
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    }
    # local maxima of the mask: exactly the nine grid points
    inner = mask[1:-1, 1:-1]
    neighbours = torch.stack(
        [
            mask[1 + dy : 99 + dy, 1 + dx : 99 + dx]
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if dy or dx
        ]
    )
    maxima = (inner > neighbours.max(0).values).nonzero() + 1
    assert {(float(y), float(x)) for y, x in maxima.tolist()} == peaks
    for y, x in peaks:
        assert mask[int(y), int(x)].item() == pytest.approx(1.0, abs=1e-9)
    assert mask.sum().item() == pytest.approx(9 * 2 * math.pi * sigma**2, rel=1e-9)


def test_mask_scales_with_amplitude_and_widens_with_sigma():
    box = _box_around(50, 50)
    base = attention_mask(box, _params(4.0), grid=3)
    assert torch.allclose(attention_mask(box, _params(4.0, amplitude=3.0), grid=3), 3 * base)
    wide = attention_mask(box, _params(8.0), grid=1)[0]
    narrow = attention_mask(box, _params(4.0), grid=1)[0]
    assert wide[50, 70] > narrow[50, 70]
    # the code's initial parameters (10, 1, 0): σ = e^10·50 px, so the mask is flat
    flat = attention_mask(box, torch.tensor([[10.0, 1.0, 0.0]], dtype=torch.float64), grid=1)
    assert torch.allclose(flat, torch.ones_like(flat))


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("code", [False, True])
def test_forward_shapes_and_zero_initialised_box_head(model_name, code):
    model = build_model(_config(model_name, code))
    assert isinstance(model, ConvTracker if model_name == "ConvTracker" else RecTracker)
    assert torch.all(model.box_head.weight == 0)
    with torch.no_grad():
        model.box_head.bias.copy_(torch.tensor([0.3, -0.2, 0.5, 1.0]))
    frames, boxes = _moving_square(n=2, length=3)
    predicted = model(frames, boxes[:, 0])
    assert predicted.shape == (2, 3, 4)
    # with W = 0 the first (and every) prediction is tanh(b), whatever the frames
    expected = torch.tanh(model.box_head.bias).expand(2, 3, 4)
    assert torch.allclose(predicted, expected)
    assert torch.allclose(model(torch.rand_like(frames), -boxes[:, 0]), expected)


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("code", [False, True])
def test_step_loop_equals_batched_forward_with_its_gradients(model_name, code):
    """The batched forward (all frames through the conv and projection at once, or for the
    attention models the projection's weight gradient formed once, ``_StepProjection``) gives
    the online steps' boxes and the same gradients for every parameter."""
    torch.manual_seed(0)
    model = build_model(_config(model_name, code)).double()
    _randomise_box_head(model)
    frames, boxes = (tensor.double() for tensor in _moving_square(n=2, length=6))
    batched = model(frames, boxes[:, 0])
    state = model.initial_state(boxes[:, 0])
    online = []
    for t in range(frames.shape[1]):
        box, state = model.step(frames[:, t], state)
        online.append(box)
    online = torch.stack(online, 1)
    assert torch.allclose(batched, online, atol=1e-12)
    assert batched[:, 1:].sub(batched[:, :-1]).abs().max() > 1e-3  # the boxes do move
    parameters = list(model.parameters())
    for got, want in zip(
        torch.autograd.grad(tracking_loss(batched, boxes), parameters),
        torch.autograd.grad(tracking_loss(online, boxes), parameters),
    ):
        assert want.abs().max() > 0
        assert torch.allclose(got, want, rtol=1e-9, atol=1e-12)


def test_conv_tracker_state_holds_the_last_four_frames_and_boxes():
    torch.manual_seed(0)
    model = ConvTracker(_config("ConvTracker"))
    _randomise_box_head(model)
    frames, boxes = _moving_square(n=1, length=7)
    state = model.initial_state(boxes[:, 0])
    first = torch.cat([boxes[:, 0], torch.zeros(1, 12)], 1).reshape(1, 4, 4)
    assert torch.equal(state.boxes, first)  # the given box, zero-padded
    with torch.no_grad():
        box, state = model.step(frames[:, 0], state)
        # zero-padded frames before the sequence, oldest first; boxes newest first
        assert torch.equal(state.frames[0, :3], torch.zeros(3, 100, 100))
        assert torch.equal(state.frames[0, 3], frames[0, 0, 0])
        assert torch.equal(state.boxes[:, :2], torch.stack([box, boxes[:, 0]], 1))
        predicted = [box]
        for t in range(1, 7):
            box, state = model.step(frames[:, t], state)
            predicted.append(box)
    assert torch.equal(state.frames[0], frames[0, 3:, 0])
    assert torch.equal(state.boxes[0], torch.cat(predicted[:2:-1]))


def test_attention_changes_what_the_recurrent_tracker_sees():
    torch.manual_seed(0)
    model = RecTracker(_config("RecTracker-Att-1"))
    frames, boxes = _moving_square(n=1, length=2)
    state = model.initial_state(boxes[:, 0])
    assert torch.equal(state.attention, torch.tensor([[10.0, 1.0, 0.0]]))
    sharp = state._replace(attention=torch.tensor([[math.log(5 / 50), 0.0, 0.0]]))
    mask = model.mask(sharp)[0]
    # the mask is centred on the square of frame 0 (box centre (15.5, 20.5) px)
    rows, cols = mask.sum(1), mask.sum(0)
    assert rows.argmax().item() in (15, 16) and cols.argmax().item() in (20, 21)
    _, blurred = model.step(frames[:, 0], state)
    _, focused = model.step(frames[:, 0], sharp)
    assert not torch.allclose(blurred.hidden, focused.hidden)


def test_the_code_centres_the_mask_at_the_box_centre_s_mirror_in_the_diagonal():
    box = _box_around(30, 70)  # row (y) 30, column (x) 70
    params = _params(3.0)
    paper = attention_mask(box, params, grid=1)[0]
    code = attention_mask(box, params, grid=1, normalise_filters=True, centre="code")[0]
    assert divmod(int(paper.argmax()), 100) == (30, 70)
    assert divmod(int(code.argmax()), 100) == (69, 30)  # rows and columns swapped
    # at (z + 1)·(K − 1)/2 px: the mean of a Gaussian far from the border
    y_min, x_min, y_max, x_max = box[0].tolist()
    rows, cols = code.sum(1), code.sum(0)
    pixels = torch.arange(100, dtype=torch.float64)
    assert (rows * pixels).sum() / rows.sum() == pytest.approx((x_min + x_max + 2) / 2 * 49.5)
    assert (cols * pixels).sum() / cols.sum() == pytest.approx((y_min + y_max + 2) / 2 * 49.5)


@pytest.mark.parametrize("model_name", ["RecTracker-Att-1", "RecTracker-Att-3"])
def test_a_fresh_code_model_s_window_after_the_first_frame_covers_part_of_the_frame(model_name):
    """The code's initial parameters (10, 1, 0) weight only the given first frame (flat); from
    then on the head's W_a h + b_a (b_a = 0) puts σ near K/2 with a gain near 1."""
    torch.manual_seed(0)
    model = RecTracker(GanConfig(model=model_name).code_choices())
    frames, boxes = _moving_square(n=4, length=2)
    with torch.no_grad():
        state = model.initial_state(boxes[:, 0])
        first = model.mask(state)
        assert first.std() / first.mean() < 1e-6  # flat at the first frame
        _, state = model.step(frames[:, 0], state)
        log_sigma, _, log_amplitude = state.attention.unbind(-1)
        sigma = 50 * log_sigma.exp()
        assert ((sigma > 25) & (sigma < 100)).all(), sigma  # about K/2, not thousands of px
        assert (log_amplitude.abs() < 1).all(), log_amplitude
        mask = model.mask(state)
        # a window, not a flat gain: its weight falls off towards the frame's corners
        corners = mask[:, [0, 0, -1, -1], [0, -1, 0, -1]].amin(1)
        assert (mask.amax((1, 2)) > 1.5 * corners).all()


def test_the_gru_is_cho_et_al_s_with_the_reset_gate_before_u():
    from trackers.gan.models import GRU

    torch.manual_seed(0)
    gru = GRU(features=5, hidden=3)
    with torch.no_grad():
        gru.bias.normal_()
    features, box, hidden = torch.randn(2, 5), torch.randn(2, 4), torch.randn(2, 3)
    x = torch.cat([features, box], 1)
    w_z, w_r, w = torch.cat([gru.weight_features, gru.weight_box], 1).chunk(3)
    (u_z, u_r), u = gru.weight_gates.chunk(2), gru.weight_candidate
    b_z, b_r, b = gru.bias.chunk(3)
    z = torch.sigmoid(x @ w_z.T + hidden @ u_z.T + b_z)
    r = torch.sigmoid(x @ w_r.T + hidden @ u_r.T + b_r)
    candidate = torch.tanh(x @ w.T + (r * hidden) @ u.T + b)
    expected = (1 - z) * hidden + z * candidate
    with torch.no_grad():
        assert torch.allclose(gru(gru.project(features), box, hidden), expected, atol=1e-6)
    # Glorot-uniform input weights and orthogonal recurrent weights, per gate; zero biases
    fresh = GRU(features=100, hidden=8)
    bound = math.sqrt(6 / (8 + 104))  # fan-in of [features ‖ box], fan-out of one gate
    inputs = torch.cat([fresh.weight_features, fresh.weight_box], 1)
    assert inputs.abs().max() <= bound and fresh.bias.eq(0).all()
    assert inputs.abs().max() > 0.9 * bound and inputs.std() > bound / 2  # uniform on ±bound
    for block in (*fresh.weight_gates.chunk(2), fresh.weight_candidate):
        assert torch.allclose(block @ block.T, torch.eye(8), atol=1e-5)


def test_losses_paper_last_frame_plus_auxiliary_and_code_every_frame():
    target = torch.zeros(2, 4, 4)
    predicted = torch.zeros(2, 4, 4)
    predicted[:, 0] = 1.0  # error 4 per sample on the given frame
    predicted[:, 2, 0] = 2.0  # error 4 on an intermediate frame
    predicted[:, 3, :2] = 1.0  # error 2 on the last frame
    # paper (k = 1): last frame 2 + auxiliary over frames 2..T (4 + 2) = 8 per sample
    assert tracking_loss(predicted, target).item() == pytest.approx(8.0)
    assert tracking_loss(predicted, target, given=3).item() == pytest.approx(4.0)
    # code: every frame (4 + 4 + 2) / T
    assert tracking_loss(predicted, target, "code").item() == pytest.approx(10 / 4)


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("code", [False, True])
def test_gradients_reach_every_parameter(model_name, code):
    torch.manual_seed(0)
    model = build_model(_config(model_name, code))
    _randomise_box_head(model)
    frames, boxes = _moving_square(n=2, length=4)
    tracking_loss(model(frames, boxes[:, 0]), boxes).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("model_name", MODELS)
def test_a_few_rmsprop_steps_reduce_the_loss_on_a_moving_square(model_name):
    torch.manual_seed(0)
    config = _config(model_name, conv_filters=8)
    model = build_model(config)
    frames, boxes = _moving_square(n=2, length=5)
    optimiser = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-6)
    losses = []
    for _ in range(12):
        optimiser.zero_grad()
        loss = tracking_loss(model(frames, boxes[:, 0]), boxes, config.loss)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert min(losses[-3:]) < 0.6 * losses[0]


def test_config_rejects_unknown_names():
    with pytest.raises(ConfigError, match="did you mean 'RecTracker-Att-3'"):
        GanConfig(model="RecTracker-Att3")
    with pytest.raises(ConfigError, match="no fields"):
        GanConfig().replace(gru=3)
    code = GanConfig(model="ConvTracker").code_choices()
    assert (code.conv_pool, code.hidden, code.box_branch, code.loss) == (4, 256, True, "code")
    assert GanConfig(model="RecTracker-Att-3").code_choices().hidden == 200
