"""TBA renderer (eqs 4-8), result boxes (released renderer) and loss (eq. 9 + the code's extras)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trackers.tba.config import TBAConfig
from trackers.tba.modules import TrackerOutputs
from trackers.tba.renderer import Renderer, pose_to_boxes, tba_loss


def outputs_for(pose, shape, appearance, conf=None, layer=None, layers=1, dtype=torch.float32):
    """TrackerOutputs, leading dims (B, I) from ``pose``; conf 1 and layer 0 by default."""
    pose = torch.as_tensor(pose, dtype=dtype)
    lead = pose.shape[:-1]
    conf = torch.ones(lead, dtype=dtype) if conf is None else torch.as_tensor(conf, dtype=dtype)
    if layer is None:
        layer = torch.zeros(*lead, layers, dtype=dtype)
        layer[..., 0] = 1
    return TrackerOutputs(
        conf=conf,
        layer=torch.as_tensor(layer, dtype=dtype),
        pose=pose,
        shape=torch.as_tensor(shape, dtype=dtype),
        appearance=torch.as_tensor(appearance, dtype=dtype),
    )


def renderer(
    height=32,
    width=32,
    channels=3,
    patch=(4, 6),
    layers=1,
    synthetic=False,
    mnist=False,
    zeta_s=0.1,
    zeta_r=(1.0, 0.2),
):
    return Renderer(height, width, channels, patch, layers, zeta_s, zeta_r, synthetic, mnist)


def random_patch(rng, channels=3, patch=(4, 6)):
    shape = (rng.random((1, 1, 1, *patch)) > 0.3).astype(np.float32)
    appearance = rng.random((1, 1, channels, *patch)).astype(np.float32)
    return shape, appearance


def pasted(frame_size, shape, appearance, top, left):
    """Direct computation: shape ⊙ appearance pasted into a black frame at (top, left)."""
    frame = np.zeros((appearance.shape[2], *frame_size), np.float32)
    u, v = appearance.shape[-2:]
    frame[:, top : top + u, left : left + v] = shape[0, 0] * appearance[0, 0]
    return frame


def test_centred_patch_lands_pixel_for_pixel():
    rng = np.random.default_rng(0)
    shape, appearance = random_patch(rng)
    image = renderer()(outputs_for(np.zeros((1, 1, 4)), shape, appearance))
    expected = pasted((32, 32), shape, appearance, top=(32 - 4) // 2, left=(32 - 6) // 2)
    np.testing.assert_allclose(image[0].numpy(), expected, atol=1e-5)


@pytest.mark.parametrize(
    ("synthetic", "t_x", "t_y", "dx", "dy"),
    [
        (False, 0.25, -0.125, -4, 2),  # moves by -t * size / 2 pixels
        # synthetic: t shrunk by (1 - (2/3) V/W) = 7/8 in x and (1 - (2/3) U/H) = 11/12 in y
        (True, 0.5, -15 / 44, -7, 5),
    ],
)
def test_translated_patch_moves_by_expected_pixels(synthetic, t_x, t_y, dx, dy):
    rng = np.random.default_rng(1)
    shape, appearance = random_patch(rng)
    pose = np.array([[[0.0, 0.0, t_x, t_y]]])
    image = renderer(synthetic=synthetic)(outputs_for(pose, shape, appearance))
    expected = pasted((32, 32), shape, appearance, top=14 + dy, left=13 + dx)
    np.testing.assert_allclose(image[0].numpy(), expected, atol=1e-5)


def test_scale_and_ratio_resize_the_patch():
    # scale 1 + 0.5 = 1.5 and ratio 1 + 1.25 = 2.25: h = 4 * 1.5 * 1.5 = 9, w = 6 * 1.5 / 1.5 = 6
    ones = np.ones((1, 1, 1, 4, 6), np.float32)
    render = renderer(height=33, channels=1, zeta_s=0.5, zeta_r=(1.0, 1.25))
    image = render(outputs_for(np.array([[[1.0, 1.0, 0.0, 0.0]]]), ones, ones))
    covered = image[0, 0].numpy() > 0.5
    assert list(np.flatnonzero(covered.any(axis=1))) == list(range(12, 21))
    assert list(np.flatnonzero(covered.any(axis=0))) == list(range(13, 19))


def test_zero_confidence_renders_nothing():
    rng = np.random.default_rng(2)
    shape, appearance = random_patch(rng)
    outputs = outputs_for(np.zeros((1, 1, 4)), shape, appearance, conf=np.zeros((1, 1)))
    render = renderer()
    assert torch.count_nonzero(render(outputs)) == 0
    background = torch.as_tensor(rng.random((1, 3, 32, 32)), dtype=torch.float32)
    torch.testing.assert_close(render(outputs, background), background)


def two_opaque_patches(top_layer_tracker: int):
    """Tracker 0 red, tracker 1 blue, overlapping; ``top_layer_tracker`` on layer 1, other on 0."""
    shape = np.ones((1, 2, 1, 4, 6), np.float32)
    appearance = np.zeros((1, 2, 3, 4, 6), np.float32)
    appearance[0, 0, 0] = 1
    appearance[0, 1, 2] = 1
    pose = np.array([[[0, 0, 0, 0], [0, 0, -0.125, 0]]])  # tracker 1 is 2 px to the right
    layer = np.zeros((1, 2, 2), np.float32)
    layer[0, top_layer_tracker, 1] = 1
    layer[0, 1 - top_layer_tracker, 0] = 1
    return outputs_for(pose, shape, appearance, layer=layer)


@pytest.mark.parametrize("top", [0, 1])
def test_higher_layer_occludes_lower_regardless_of_tracker_order(top):
    image = renderer(layers=2)(two_opaque_patches(top))[0].numpy()
    top_colour = [1, 0, 0] if top == 0 else [0, 0, 1]
    overlap = image[:, 14:18, 15:19]  # tracker 0 covers columns 13-18, tracker 1 columns 15-20
    np.testing.assert_allclose(
        overlap, np.broadcast_to(np.array(top_colour)[:, None, None], overlap.shape), atol=1e-6
    )
    np.testing.assert_allclose(image[:, 15, 13], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(image[:, 15, 20], [0, 0, 1], atol=1e-6)


def test_same_layer_adds_and_mask_is_clamped():
    outputs = two_opaque_patches(0)
    outputs = outputs._replace(layer=torch.tensor([[[1.0], [1.0]]]))
    image = renderer(layers=1)(outputs)[0].numpy()
    np.testing.assert_allclose(image[:, 15, 16], [1, 0, 1], atol=1e-6)  # additive, mask min(1, 2)


def test_mnist_forces_shape_and_clamps_the_sum():
    appearance = np.full((1, 2, 1, 4, 6), 0.7, np.float32)
    shape = np.zeros((1, 2, 1, 4, 6), np.float32)  # ignored: MNIST forces Y_s = 1
    pose = np.array([[[0, 0, 0, 0], [0, 0, -0.125, 0]]])
    outputs = outputs_for(pose, shape, appearance, conf=[[1.0, 0.5]])
    image = renderer(channels=1, mnist=True)(outputs)[0, 0].numpy()
    np.testing.assert_allclose(image[15, [13, 16, 20]], [0.7, 1.0, 0.35], atol=1e-6)
    assert image[:14].max() == 0 and image[18:].max() == 0


def test_leading_dims_are_kept():
    rng = np.random.default_rng(3)
    pose = rng.uniform(-0.5, 0.5, (2, 3, 4, 4))
    shape = (rng.random((2, 3, 4, 1, 4, 6)) > 0.5).astype(np.float32)
    appearance = rng.random((2, 3, 4, 3, 4, 6)).astype(np.float32)
    layer = np.eye(2, dtype=np.float32)[rng.integers(0, 2, (2, 3, 4))]
    conf = rng.random((2, 3, 4))
    render = renderer(layers=2, synthetic=True)
    nested = render(outputs_for(pose, shape, appearance, conf=conf, layer=layer))
    flat = render(
        outputs_for(
            pose.reshape(6, 4, 4),
            shape.reshape(6, 4, 1, 4, 6),
            appearance.reshape(6, 4, 3, 4, 6),
            conf=conf.reshape(6, 4),
            layer=layer.reshape(6, 4, 2),
        )
    )
    assert nested.shape == (2, 3, 3, 32, 32)
    torch.testing.assert_close(nested.reshape(6, 3, 32, 32), flat)


def spec_boxes(pose, config):
    """The released renderer's boxes in float64: centre from the shrunk translation, 1-based
    pixels."""
    (height, width), (u, v) = config.frame_size, config.patch
    scale = 1 + config.zeta_s * pose[..., 0]
    ratio = config.zeta_r[0] + config.zeta_r[1] * pose[..., 1]
    h, w = u * scale * np.sqrt(ratio), v * scale / np.sqrt(ratio)
    shrink_x = 1 - (2 / 3) * v / width if config.synthetic else 1
    shrink_y = 1 - (2 / 3) * u / height if config.synthetic else 1
    cx = (-pose[..., 2] * shrink_x + 1) / 2 * (width - 1) + 1
    cy = (-pose[..., 3] * shrink_y + 1) / 2 * (height - 1) + 1
    return np.stack([cx - (w - 1) / 2, cy - (h - 1) / 2, w, h], axis=-1)


@pytest.mark.parametrize("dataset", ["sprites-mot", "mnist-mot", "dukemtmc"])
def test_pose_to_boxes_is_the_spec_formula(dataset):
    config = TBAConfig.for_dataset(dataset)
    pose = np.random.default_rng(4).uniform(-1, 1, (5, config.num_trackers, 4))
    boxes = pose_to_boxes(torch.as_tensor(pose), config)
    assert boxes.shape == (5, config.num_trackers, 4)
    np.testing.assert_allclose(boxes.numpy(), spec_boxes(pose, config), rtol=1e-12, atol=1e-12)


def test_pose_to_boxes_matches_rendered_extent():
    config = TBAConfig.for_dataset("sprites-mot")
    pose = np.random.default_rng(5).uniform(-0.9, 0.9, (20, 1, 4))
    ones = np.ones((20, 1, 1, *config.patch), np.float32)
    image = Renderer.from_config(config)(
        outputs_for(pose, ones, np.ones((20, 1, 3, 21, 21)), layers=config.layers)
    )
    boxes = pose_to_boxes(torch.as_tensor(pose), config)[:, 0].numpy()
    for covered, (left, top, w, h) in zip(image[:, 0].numpy() > 0.5, boxes):
        rows, cols = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
        assert abs(cols[0] + 1 - left) <= 1 and abs(cols[-1] + 1 - (left + w - 1)) <= 1
        assert abs(rows[0] + 1 - top) <= 1 and abs(rows[-1] + 1 - (top + h - 1)) <= 1


def tiny_case(rng, dtype=torch.float64):
    """Leading dims (N=1, T=2), I=2 trackers, D=1, 8x8 frames, 2x3 patches."""
    outputs = outputs_for(
        rng.uniform(-0.6, 0.6, (1, 2, 2, 4)),
        rng.uniform(0.05, 0.95, (1, 2, 2, 1, 2, 3)),
        rng.uniform(0.05, 0.95, (1, 2, 2, 1, 2, 3)),
        conf=rng.uniform(0.05, 0.95, (1, 2, 2)),
        dtype=dtype,
    )
    config = TBAConfig(
        frame_size=(8, 8), channels=1, layers=1, patch=(2, 3), zeta_s=0.3, zeta_r=(1.0, 0.2)
    )
    return outputs, config


def test_loss_terms_match_hand_computation():
    rng = np.random.default_rng(6)
    outputs, config = tiny_case(rng)
    frames = torch.as_tensor(rng.random((1, 2, 1, 8, 8)))
    reconstruction = torch.as_tensor(rng.random((1, 2, 1, 8, 8)))
    background = torch.as_tensor(rng.random((1, 2, 1, 8, 8)))
    terms = tba_loss(reconstruction, frames, outputs, config, background)

    x, x_r, b = frames.numpy(), reconstruction.numpy(), background.numpy()
    pose, conf = outputs.pose.numpy(), outputs.conf.numpy()
    num_frames = 2
    expected = {
        "reconstruction": ((x_r - x) ** 2).sum(),
        "background": ((np.abs(x_r - b) - np.abs(x - b)) ** 2).sum(),
        "tightness": 13 * sum(np.mean((1 + 0.3 * pose[0, t, :, 0]) ** 2) for t in range(2)),
        "entropy": -sum(c * math.log(c) + (1 - c) * math.log(1 - c) for c in conf.ravel()),
        # each appearance sums 6 pixels < 6 < 20: every tracker pays the hinge
        "appearance": 0.1 * (20 - outputs.appearance.numpy().reshape(4, -1).sum(axis=1)).sum(),
    }
    expected = {name: value / num_frames for name, value in expected.items()}
    expected["total"] = sum(expected.values())
    assert set(terms) == set(expected)
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-12), name


def test_loss_without_background_and_saturated_confidence():
    rng = np.random.default_rng(7)
    outputs, config = tiny_case(rng)
    outputs = outputs._replace(
        conf=torch.tensor([[[0.0, 1.0], [1.0, 0.0]]], dtype=torch.float64),
        appearance=torch.ones_like(outputs.appearance) * 4,
    )  # 24 > 20
    frames = torch.zeros(1, 2, 1, 8, 8, dtype=torch.float64)
    terms = tba_loss(frames, frames, outputs, config.replace(zeta_s=0.0))
    assert "background" not in terms
    assert terms["reconstruction"].item() == 0 and terms["appearance"].item() == 0
    assert terms["entropy"].item() == pytest.approx(0, abs=1e-15)
    assert terms["tightness"].item() == pytest.approx(13.0)  # scale 1: λ per frame
    assert torch.isfinite(terms["total"])


def test_gradients_reach_every_output_and_match_finite_differences():
    rng = np.random.default_rng(8)
    outputs, config = tiny_case(rng)
    frames = torch.as_tensor(rng.random((1, 2, 1, 8, 8)))
    render = Renderer.from_config(config)
    names = ["conf", "pose", "shape", "appearance"]

    def total(*tensors):
        case = outputs._replace(**dict(zip(names, tensors)))
        return tba_loss(render(case), frames, case, config)["total"]

    inputs = [getattr(outputs, name).clone().requires_grad_(True) for name in names]
    total(*inputs).backward()
    for name, tensor in zip(names, inputs):
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0, name
    assert torch.autograd.gradcheck(total, [t.detach().requires_grad_(True) for t in inputs])


def test_layer_gets_gradient():
    outputs = two_opaque_patches(0)
    layer = outputs.layer.clone().requires_grad_(True)
    image = renderer(layers=2)(outputs._replace(layer=layer))
    image.sum().backward()
    assert layer.grad.abs().sum() > 0
