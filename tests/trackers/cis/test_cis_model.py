"""The cis network and its losses, component by component, and a tiny model overfitting one clip."""

import numpy as np
import torch

from trackers.cis.config import CISTraining, network_config
from trackers.cis.losses import (
    Example,
    Features,
    handed_off_matrix,
    joint_loss,
    occlusion_loss,
    recurrent_matrices,
    spatial_loss,
    visual_loss,
    visual_matrix,
)
from trackers.cis.matching import SELF_PAIR_LOGIT, consistency_loss, match_matrix
from trackers.cis.model import CIS, CropCNN, spatial_features

CPU = torch.device("cpu")


def tiny(**overrides):
    return network_config("sprites-mot", smoke=True, **{"ensemble": 1, **overrides})


def example(counts=(3, 2, 3, 3, 2), negatives=2, length=2, occlusions=(), seed=0):
    rng = np.random.default_rng(seed)
    crop = tiny().crop
    crops = [rng.integers(0, 255, (n, crop, crop, 3), dtype=np.uint8) for n in counts]
    spatial = [rng.random((n, 4)).astype(np.float32) for n in counts]
    masks = {k: np.ones((counts[0], counts[k] + 1), np.float32) for k in range(1, len(counts))}
    return Example(
        crops=crops,
        spatial=spatial,
        masks=masks,
        negatives=rng.integers(0, 255, (negatives, crop, crop, 3), dtype=np.uint8),
        match_length=length,
        occlusions=occlusions,
    )


def model(config=None, seed=0):
    torch.manual_seed(seed)
    return CIS(config or tiny())


def test_cnn_takes_a_crop_to_one_feature_with_same_padding():
    cnn = CropCNN(layers=5, channels=6)
    assert cnn(torch.zeros(2, 32, 32, 3, dtype=torch.uint8)).shape == (2, 6)
    assert network_config("mot17").conv_layers == 6  # 64 -> 1 in six stride-2 steps


def test_initialisation_is_truncated_normal_of_the_code():
    member = CIS(network_config("mot17", ensemble=1)).members[0]
    weight = member.spatial.layers[0].weight  # fan-in 64 + 4 + 4
    std = (2 / 72) ** 0.5
    assert weight.abs().max() <= 2 * std + 1e-6
    assert abs(weight.std().item() - 0.88 * std) < 0.05 * std  # a 2-sigma truncation
    assert all((layer.bias == 0).all() for layer in member.spatial.layers)
    assert member.no_match.item() == 0.0


def test_spatial_features_are_normalised_centre_and_size():
    features = spatial_features(np.array([[11.0, 21.0, 20.0, 40.0]]), width=100, height=200)
    np.testing.assert_allclose(features, [[0.21, 0.205, 0.2, 0.2]], rtol=1e-6)


def test_visual_matrix_with_artificial_candidates():
    """The frame-0 detections and crops of another video join the softmaxes, self-pairs at
    -50, and are dropped after (model.py:258-343)."""
    net, ex = model(), example()
    member = net.members[0]
    features = Features.of(member, ex, CPU)
    with torch.no_grad():
        got = visual_matrix(member, features, 2, "min", negatives=True)
        first = features.image[0]
        candidates = torch.cat([first, features.negatives, features.image[2]])
        logits = member.visual(first, torch.cat([candidates, torch.zeros(1, first.shape[1])]))
        logits[:, -1] = member.no_match
        logits[torch.arange(3), torch.arange(3)] = SELF_PAIR_LOGIT
        expected = match_matrix(logits)[:, 3 + 2 :]
    assert got.shape == (3, 3 + 1)
    torch.testing.assert_close(got, expected)


def test_spatial_phase_trains_only_the_spatial_matcher():
    net, ex = model(), example()
    member = net.members[0]
    loss = spatial_loss(member, Features.of(member, ex, CPU), ex, net.config)
    loss.backward()
    assert all(p.grad is None for p in member.visual.parameters())  # the target is frozen
    assert all(p.grad is None for p in member.cnn.parameters())
    assert member.spatial.layers[0].weight.grad.abs().sum() > 0


def test_spatial_loss_is_the_mean_over_steps_masked_at_the_last():
    net, ex = model(), example()
    member = net.members[0]
    features = Features.of(member, ex, CPU)
    with torch.no_grad():
        matrices = recurrent_matrices(member, member.spatial, features.spatial, 4, "min")
        terms = [
            consistency_loss(
                m,
                visual_matrix(member, features, step, "min", False),
                features.masks[4] if step == 4 else None,
            )
            for step, m in enumerate(matrices, start=1)
        ]
        got = spatial_loss(member, features, ex, net.config)
    assert torch.isclose(got, torch.stack(terms).mean())


def test_joint_loss_trains_both_branches():
    net, ex = model(tiny(training="joint")), example()
    member = net.members[0]
    joint_loss(member, Features.of(member, ex, CPU), ex, net.config).backward()
    assert member.visual.layers[0].weight.grad.abs().sum() > 0
    assert member.spatial.layers[0].weight.grad.abs().sum() > 0


def test_handoff_multiplies_the_two_halves():
    """M(0, L) = M(0, h) M(h, L), "no match" kept (§4.2)."""
    net = model(tiny(hiding="occlusion"))
    ex = example(length=4, occlusions=((1, 2, 3), (2, 3, 1)))
    member = net.members[0]
    features = Features.of(member, ex, CPU)
    with torch.no_grad():
        got = handed_off_matrix(member, features, 4, (1, 2, 3), net.config)
        frames = [features.combined(t) for t in range(5)]
        frames[1] = frames[1][:0]
        before = recurrent_matrices(member, member.combined, frames[:4], 4, "min")[-1]
        after = recurrent_matrices(member, member.combined, frames[3:], 4, "min")[-1]
    np.testing.assert_allclose(got[:, :-1], (before[:, :-1] @ after)[:, :-1], rtol=1e-5)
    np.testing.assert_allclose(
        got[:, -1], (before[:, :-1] @ after)[:, -1] + before[:, -1], rtol=1e-5
    )
    assert got.sum(dim=1).max() <= 1 + 1e-5
    loss = occlusion_loss(member, features, ex, net.config)
    assert torch.isfinite(loss)


def test_a_tiny_model_overfits_one_clip():
    """Trained on one clip whose mask allows only the true matches (detection i of every frame
    is object i), phase 1 (over every gap) and then phase 2 (against the trained visual
    matcher) each drive their loss far below its start, and no row prefers a wrong detection
    (a row may prefer "no match": the terminal reweighting makes ending a track cheap)."""
    ex = example(counts=(3, 3, 3, 3, 3), length=4)
    identity = np.concatenate([np.eye(3), np.ones((3, 1))], axis=1).astype(np.float32)
    ex = Example(**{**ex.__dict__, "masks": {k: identity for k in ex.masks}})
    net = model(tiny(ensemble=1))
    member = net.members[0]
    for phase_loss in (visual_loss, spatial_loss):
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
        losses = []
        for i in range(200):
            gap = Example(**{**ex.__dict__, "match_length": 1 + i % 4})
            loss = phase_loss(member, Features.of(member, gap, CPU), gap, net.config)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < 0.25 * losses[0], phase_loss.__name__
    with torch.no_grad():
        features = Features.of(member, ex, CPU)
        visual = visual_matrix(member, features, 4, "min", negatives=True)
        spatial = recurrent_matrices(member, member.spatial, features.spatial, 4, "min")[-1]
    for matrix in (visual, spatial):
        assert all(column in (row, 3) for row, column in enumerate(matrix.argmax(dim=1).tolist()))
        assert (matrix.argmax(dim=1) < 3).sum() >= 2


def test_learning_rate_schedule_of_the_code():
    training = CISTraining(lr_decay_every=100)
    rates = [training.learning_rate(i) for i in (0, 99, 100, 200, 10_000)]
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 1e-4, 1e-5, 1e-5])
