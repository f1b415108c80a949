"""TBA feature extractor, output heads and RAT tracker array against the paper's equations."""

from __future__ import annotations

import math

import numpy as np
import torch

from trackers.tba.config import TBAConfig
from trackers.tba.modules import (
    FeatureExtractor,
    OutputHeads,
    TrackerArray,
    TrackerOutputs,
    clip_grad_norm_per_sample,
    straight_through_gumbel_sigmoid,
    straight_through_gumbel_softmax,
    with_coordinates,
)

R, STATE, TRACKERS, LAYERS, PATCH, CHANNELS, SLOTS = 5, 8, 4, 3, (4, 3), 3, 6


def make_array(seed: int = 0, mnist: bool = False, slot_dim: int = R, **flags) -> TrackerArray:
    torch.manual_seed(seed)
    heads = OutputHeads(STATE, (16,), LAYERS, PATCH, CHANNELS, mnist=mnist)
    return TrackerArray(slot_dim, STATE, TRACKERS, heads, **flags)


def make_inputs(batch: int = 2, seed: int = 1, slots: int = SLOTS, slot_dim: int = R):
    g = torch.Generator().manual_seed(seed)
    memory = torch.rand(batch, slots, slot_dim, generator=g)
    h_prev = torch.randn(batch, TRACKERS, STATE, generator=g)
    conf_prev = torch.rand(batch, TRACKERS, generator=g)
    return memory, h_prev, conf_prev


def fix_key(array: TrackerArray, key: list[float], beta_hat: float) -> None:
    """Make every tracker's key and strength constant (weights 0, bias = {k, β̂})."""
    with torch.no_grad():
        array.key.weight.zero_()
        array.key.bias.copy_(torch.tensor([*key, beta_hat]))


def set_conf_logit(array: TrackerArray, value: float) -> None:
    """Make the heads' a_e constant, so y_e = |tanh(value)| for every tracker."""
    with torch.no_grad():
        array.heads.mlp[-1].weight[0].zero_()
        array.heads.mlp[-1].bias[0] = value


def test_coordinate_channels_are_y_then_x_linspace():
    frames = torch.rand(2, 1, 3, 5)
    out = with_coordinates(frames)
    assert out.shape == (2, 3, 3, 5)
    assert torch.equal(out[:, :1], frames)
    assert torch.allclose(out[1, 1], torch.linspace(-1, 1, 3)[:, None].expand(3, 5))
    assert torch.allclose(out[0, 2], torch.linspace(-1, 1, 5)[None, :].expand(3, 5))


def test_feature_extractor_sprites_config_gives_8x8_slots_of_20():
    config = TBAConfig.for_dataset("sprites-mot")
    torch.manual_seed(0)
    extractor = FeatureExtractor(
        config.channels, config.cnn_channels, config.cnn_kernels, config.cnn_pool_sizes
    )
    assert extractor.net[0].in_channels == 3 + 2
    frames = torch.rand(1, 3, 128, 128)
    memory = extractor(frames)
    assert memory.shape == (1, 64, 20)
    assert (memory >= 0).all()  # ReLU after the last layer too
    feature_map = extractor.net(with_coordinates(frames))  # 1, R, M, N
    assert torch.equal(memory[0, 3 * 8 + 5], feature_map[0, :, 3, 5])  # row-major slots


def test_attention_is_softmax_of_strength_times_cosine():
    array = make_array()
    key, beta_hat = [1.0, -2.0, 0.5, 0.0, 3.0], 0.7
    fix_key(array, key, beta_hat)
    memory, h_prev, conf_prev = make_inputs(batch=1)
    _, _, attention = array(memory, h_prev, conf_prev)
    assert attention.shape == (1, TRACKERS, SLOTS)
    assert torch.allclose(attention.sum(-1), torch.ones(1, TRACKERS))
    c, k = memory[0].double().numpy(), np.array(key)
    cos = c @ k / (np.linalg.norm(c, axis=1) * np.linalg.norm(k))
    beta = 1 + math.log1p(math.exp(beta_hat))  # eq. 11
    expected = np.exp(beta * cos) / np.exp(beta * cos).sum()  # eq. 12
    first = array.priority_order(conf_prev)[0, 0]  # the first tracker reads the initial memory
    np.testing.assert_allclose(attention[0, first].detach().double().numpy(), expected, rtol=1e-5)


def test_strength_is_one_plus_softplus_and_overflow_safe():
    beta_hat = torch.tensor([-1e4, -50.0, -1.0, 0.0, 2.0, 50.0, 1e4])
    beta = TrackerArray.key_strength(beta_hat)
    assert torch.isfinite(beta).all()
    assert (beta >= 1 - math.log(2)).all() and (beta >= 1).all()
    assert beta[-1] == 1e4 + 1 and beta[0] == 1
    assert torch.allclose(beta, 1 + torch.nn.functional.softplus(beta_hat))
    # The released code's formula: the same number (its "+ 1 − ln 2" nets out to + 1).
    pos, neg = beta_hat.clamp(min=0), beta_hat.clamp(max=0)
    code = torch.log1p(neg.exp()) + pos + torch.log1p((-pos).exp()) + 1 - math.log(2)
    assert torch.allclose(beta, code)


def test_write_with_one_hot_weights_changes_only_that_slot():
    array = make_array()
    erase_logits = torch.tensor([0.0, 10.0, -10.0, 1.0, -1.0])
    value = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    with torch.no_grad():
        array.erase_write.weight.zero_()
        array.erase_write.bias.copy_(torch.cat([erase_logits, value]))
    memory = torch.rand(1, SLOTS, R, generator=torch.Generator().manual_seed(3))
    weights = torch.zeros(1, SLOTS)
    weights[0, 2] = 1
    written = array.write(memory, weights, torch.zeros(1, STATE))
    e = torch.sigmoid(erase_logits)
    unchanged = [s for s in range(SLOTS) if s != 2]
    assert torch.equal(written[0, unchanged], memory[0, unchanged])
    assert torch.allclose(written[0, 2], memory[0, 2] * (1 - e) + value)  # eq. 17


def test_write_matches_outer_product_form():
    array = make_array()
    memory, _, _ = make_inputs(batch=2)
    weights = torch.softmax(torch.randn(2, SLOTS, generator=torch.Generator().manual_seed(4)), -1)
    h = torch.randn(2, STATE, generator=torch.Generator().manual_seed(5))
    erase_logits, value = array.erase_write(h).split(R, dim=-1)
    e = torch.sigmoid(erase_logits)
    expected = memory * (1 - torch.einsum("bs,br->bsr", weights, e)) + torch.einsum(
        "bs,br->bsr", weights, value
    )
    assert torch.allclose(array.write(memory, weights, h), expected)


def test_memory_is_passed_to_the_next_tracker():
    array = make_array(reprioritize=False)
    fix_key(array, [1.0, 0.0, -1.0, 0.5, 0.0], 1.0)
    memory, h_prev, conf_prev = make_inputs(batch=2)
    h, _, attention = array(memory, h_prev, conf_prev)
    with torch.no_grad():
        w0 = array.attend(
            memory, array.key.bias[:R].expand(2, R), array.key_strength(torch.ones(2, 1))
        )
        read0 = torch.bmm(w0.unsqueeze(1), memory).squeeze(1)
        h0 = array.rnn(read0, h_prev[:, 0])  # eqs 13-14
        memory1 = array.write(memory, w0, h0)
        w1 = array.attend(
            memory1, array.key.bias[:R].expand(2, R), array.key_strength(torch.ones(2, 1))
        )
    assert torch.allclose(attention[:, 0], w0) and torch.allclose(h[:, 0], h0)
    assert torch.allclose(attention[:, 1], w1, atol=1e-6)
    assert not torch.allclose(attention[:, 1], attention[:, 0])  # same key, new memory


def test_without_memory_write_every_tracker_sees_the_initial_memory():
    array = make_array(memory_write=False)
    fix_key(array, [1.0, 0.0, -1.0, 0.5, 0.0], 1.0)
    memory, h_prev, conf_prev = make_inputs(batch=2)
    before = memory.clone()
    _, _, attention = array(memory, h_prev, conf_prev)
    assert torch.equal(memory, before)
    assert torch.allclose(attention, attention[:, :1].expand_as(attention))


def test_priority_order_sorts_rounded_confidence_with_index_tie_break():
    array = make_array()
    conf_prev = torch.tensor([[0.2, 0.9, 0.6, 0.4], [0.7, 0.1, 0.5, 0.8], [0.0, 0.0, 0.0, 0.0]])
    assert array.priority_order(conf_prev).tolist() == [[1, 2, 0, 3], [0, 3, 1, 2], [0, 1, 2, 3]]
    unsorted = make_array(reprioritize=False).priority_order(conf_prev)
    assert unsorted.tolist() == [[0, 1, 2, 3]] * 3


def test_reprioritized_outputs_come_back_in_original_order():
    sorted_array = make_array(seed=7)
    plain_array = make_array(seed=7, reprioritize=False)
    memory, h_prev, conf_prev = make_inputs(batch=2)
    conf_prev = torch.tensor([[0.1, 0.9, 0.2, 0.8], [0.9, 0.1, 0.8, 0.7]])
    h, outputs, attention = sorted_array(memory, h_prev, conf_prev)
    order = sorted_array.priority_order(conf_prev)
    assert order.tolist() == [[1, 3, 0, 2], [0, 2, 3, 1]]
    rows = torch.arange(2)[:, None]
    h_p, outputs_p, attention_p = plain_array(memory, h_prev[rows, order], conf_prev[rows, order])
    assert torch.allclose(h[rows, order], h_p, atol=1e-6)
    assert torch.allclose(attention[rows, order], attention_p, atol=1e-6)
    for ours, theirs in zip(outputs, outputs_p):
        assert torch.allclose(ours[rows, order], theirs, atol=1e-6)
    h_plain, _, _ = plain_array(memory, h_prev, conf_prev)
    assert not torch.allclose(h, h_plain, atol=1e-4)  # the order mattered


def test_act_keeps_trackers_after_the_first_dead_one():
    array = make_array(act=True)
    set_conf_logit(array, 0.0)  # y_e = 0 for every tracker
    memory, h_prev, _ = make_inputs(batch=2)
    # sample 0: order [1, 0, 2, 3]; tracker 1 alive (1 + 0), tracker 0 dead -> 2, 3 skipped.
    # sample 1: nothing tracked; tracker 0 is dead at once -> 1, 2, 3 skipped.
    conf_prev = torch.tensor([[0.1, 0.9, 0.2, 0.3], [0.0, 0.0, 0.0, 0.0]])
    h, outputs, _ = array(memory, h_prev, conf_prev)
    array.act = False
    h_all, outputs_all, _ = array(memory, h_prev, conf_prev)
    updated = torch.tensor([[True, True, False, False], [True, False, False, False]])
    assert torch.equal(h[updated], h_all[updated])
    assert torch.equal(h[~updated], h_prev[~updated])
    assert not torch.allclose(h_all[~updated], h_prev[~updated])
    assert (outputs.pose[~updated] == 0).all() and (outputs.appearance[~updated] == 0).all()
    assert torch.equal(outputs.pose[updated], outputs_all.pose[updated])
    assert torch.equal(outputs.appearance[updated], outputs_all.appearance[updated])
    assert (outputs.conf == 0).all()


def test_act_with_every_tracker_alive_updates_all():
    array = make_array(act=True)
    set_conf_logit(array, 10.0)  # y_e = 1: nobody is dead
    memory, h_prev, conf_prev = make_inputs(batch=2)
    h, outputs, _ = array(memory, h_prev, conf_prev)
    array.act = False
    h_full, outputs_full, _ = array(memory, h_prev, conf_prev)
    assert torch.equal(h, h_full)
    assert all(torch.equal(a, b) for a, b in zip(outputs, outputs_full))


def test_single_slot_memory_gives_trivial_attention():
    array = make_array(slot_dim=SLOTS * R)
    memory, h_prev, conf_prev = make_inputs(batch=2)
    flat = memory.reshape(2, 1, SLOTS * R)
    h, outputs, attention = array(flat, h_prev, conf_prev)
    assert attention.shape == (2, TRACKERS, 1) and torch.equal(
        attention, torch.ones_like(attention)
    )
    assert h.shape == (2, TRACKERS, STATE) and torch.isfinite(h).all()


def test_batch_samples_do_not_interact():
    array = make_array(act=True)
    memory, h_prev, conf_prev = make_inputs(batch=3)
    h, outputs, attention = array(memory, h_prev, conf_prev)
    for b in range(3):
        h_b, outputs_b, attention_b = array(
            memory[b : b + 1], h_prev[b : b + 1], conf_prev[b : b + 1]
        )
        assert torch.allclose(h[b : b + 1], h_b, atol=1e-6)
        assert torch.allclose(attention[b : b + 1], attention_b, atol=1e-6)
        assert torch.allclose(outputs.appearance[b : b + 1], outputs_b.appearance, atol=1e-6)


def test_deterministic_heads_are_discrete_noise_free_and_repeatable():
    torch.manual_seed(0)
    heads = OutputHeads(STATE, (16, 12), LAYERS, PATCH, CHANNELS)
    h = torch.randn(2, TRACKERS, STATE) * 3
    outputs = heads(h)
    assert isinstance(outputs, TrackerOutputs)
    assert outputs.conf.shape == (2, TRACKERS)
    assert outputs.layer.shape == (2, TRACKERS, LAYERS)
    assert outputs.pose.shape == (2, TRACKERS, 4)
    assert outputs.shape.shape == (2, TRACKERS, 1, *PATCH)
    assert outputs.appearance.shape == (2, TRACKERS, CHANNELS, *PATCH)
    assert torch.equal(outputs.layer.sum(-1), torch.ones(2, TRACKERS))
    assert set(outputs.layer.unique().tolist()) <= {0.0, 1.0}
    assert set(outputs.shape.unique().tolist()) == {0.0, 1.0}
    a_e, a_l, a_p, a_s, a_a = heads.mlp(h).split(heads.split_sizes, -1)
    assert torch.equal(outputs.layer.argmax(-1), a_l.argmax(-1))  # no noise: argmax
    assert torch.equal(outputs.shape.flatten(2), (a_s > 0).float())  # no noise: round
    assert torch.allclose(outputs.conf, torch.tanh(a_e).abs().squeeze(-1))
    assert (outputs.pose.abs() <= 1).all() and (
        (outputs.appearance >= 0) & (outputs.appearance <= 1)
    ).all()
    again = heads(h)
    assert all(torch.equal(a, b) for a, b in zip(outputs, again))


def test_mnist_heads_force_shape_to_one():
    torch.manual_seed(0)
    heads = OutputHeads(STATE, (16,), 1, (5, 5), 1, mnist=True)
    outputs = heads(torch.randn(2, TRACKERS, STATE), stochastic=True)
    assert torch.equal(outputs.shape, torch.ones(2, TRACKERS, 1, 5, 5))
    assert torch.equal(outputs.layer, torch.ones(2, TRACKERS, 1))


def test_stochastic_heads_depend_on_the_seed_only():
    torch.manual_seed(0)
    heads = OutputHeads(STATE, (16,), LAYERS, (6, 6), CHANNELS)
    h = torch.randn(4, TRACKERS, STATE)

    def sample(seed):
        return heads(h, stochastic=True, generator=torch.Generator().manual_seed(seed))

    first, same, other = sample(1), sample(1), sample(2)
    assert all(torch.equal(a, b) for a, b in zip(first, same))
    assert not torch.equal(first.shape, other.shape)
    assert not torch.equal(first.layer, other.layer)
    assert not torch.equal(first.shape, heads(h).shape)  # noise was added
    assert torch.equal(first.conf, other.conf) and torch.equal(first.appearance, other.appearance)


def test_straight_through_estimators_pass_soft_gradients():
    logits = torch.randn(3, 7, requires_grad=True)
    hard = straight_through_gumbel_sigmoid(logits, stochastic=False)
    upstream = torch.randn(3, 7)
    (hard * upstream).sum().backward()
    soft = torch.sigmoid(logits.detach())
    assert torch.equal(hard.detach(), soft.round())
    assert torch.allclose(logits.grad, upstream * soft * (1 - soft))

    probs = torch.softmax(torch.randn(5, 3), -1).requires_grad_()
    one_hot = straight_through_gumbel_softmax(
        probs, stochastic=True, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(one_hot.sum(-1).detach(), torch.ones(5))
    one_hot[:, 0].sum().backward()
    assert probs.grad.abs().sum() > 0


def test_tracker_array_backward_reaches_every_parameter():
    array = make_array(act=False)
    memory, h_prev, conf_prev = make_inputs(batch=2)
    memory.requires_grad_()
    h, outputs, _ = array(
        memory, h_prev, conf_prev, stochastic=True, generator=torch.Generator().manual_seed(0)
    )
    loss = h.square().sum() + sum(t.float().square().sum() for t in outputs)
    loss.backward()
    assert torch.isfinite(memory.grad).all() and memory.grad.abs().sum() > 0
    for name, parameter in array.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        if name.startswith("key") or name.startswith("rnn") or name.startswith("heads"):
            assert parameter.grad.abs().sum() > 0, name


def test_grad_norm_hook_clips_each_sample_to_max_norm():
    x = torch.zeros(3, 2, 2, requires_grad=True)
    y = clip_grad_norm_per_sample(x * 1, 1.0)
    scale = torch.tensor([10.0, 0.1, 3.0])[:, None, None]
    upstream = torch.ones(3, 2, 2) * scale  # per-sample norms 20, 0.2, 6
    (y * upstream).sum().backward()
    norms = x.grad.flatten(1).norm(dim=1)
    assert torch.allclose(norms, torch.tensor([1.0, 0.2, 1.0]), atol=1e-5)
    assert torch.allclose(x.grad[1], upstream[1])
