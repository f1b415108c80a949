"""TBA's learned parts: feature extractor (eq. 1), output heads (eq. 3) and the Reprioritized
Attentive Tracking array (paper §3.1–3.4, eqs 10–17).

Where the paper and the released code (``modules/feature_extractor.py``, ``tracker_array.py``,
``submodules.py``) differ we follow the code, and say so where it happens:

- confidence y_e = |tanh(a_e)| (the paper: a sigmoid);
- key strength β = 1 + softplus(β̂) (eq. 11). The code writes it as
  log1p(e^min(β̂,0)) + max(β̂,0) + log1p(e^−max(β̂,0)) + 1 − ln 2, which is the same number (the
  two log1p terms carry the ln 2 back), so β > 1 as in the paper;
- ACT (§3.4) masks after the sequential loop: in priority order, trackers up to and including the
  first "dead" one (round(y_e_prev) + round(y_e) = 0) are updated; the rest keep h_prev and get
  y_e = y_p = Y_a = 0 (y_l and Y_s are left as computed; the renderer scales shapes by y_e).
  Trackers after the first dead one run but their memory writes only reach trackers that are
  masked too, so this equals the paper's "terminate the iteration (and disable the write)";
- Gumbel noise in the layer and shape samples is drawn only in ``stochastic`` mode (the code drew
  it at test time too; ``stochastic=True`` restores that);
- optional gradient-norm hooks of the code (``norm_grad``): the per-sample gradient through the
  cosine similarity's memory and through the read weights is clipped to norm 1, that of the layer
  probabilities (per sample and tracker) to norm 10.

Tensors are batch-first: frames (B, D, H, W), memory (B, S, R) with S = M·N slots, tracker state
(B, I, 4R). Random draws use ``generator`` (a ``torch.Generator`` on the tensors' device) when
given, so a seeded generator gives the same sample bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOG_EPS = 1e-20
"""The released code's safe log, log(x + 1e-20), used on the Gumbel uniforms and layer probs."""


class TrackerOutputs(NamedTuple):
    """Mid-level object representation of every tracker (eq. 3); leading dims (B, I)."""

    conf: Tensor
    """y_e (B, I) in [0, 1]."""
    layer: Tensor
    """y_l (B, I, K), one-hot."""
    pose: Tensor
    """y_p (B, I, 4) = (scale, ratio, t_x, t_y) in [−1, 1]."""
    shape: Tensor
    """Y_s (B, I, 1, U, V), binary."""
    appearance: Tensor
    """Y_a (B, I, D, U, V) in [0, 1]."""


def _take_trackers(tensor: Tensor, index: Tensor) -> Tensor:
    """``tensor[b, index[b, i], ...]`` for a per-sample tracker permutation ``index`` (B, I)."""
    expanded = index.reshape(*index.shape, *[1] * (tensor.dim() - 2)).expand_as(tensor)
    return tensor.gather(1, expanded)


def clip_grad_norm_per_sample(tensor: Tensor, max_norm: float) -> Tensor:
    """Register a hook scaling the gradient of each ``tensor[n]`` to norm ≤ ``max_norm``.

    The released code's ``norm_grad`` (norm + 1e-6); a no-op when no gradient is tracked.
    """
    if tensor.requires_grad:

        def hook(grad: Tensor) -> Tensor:
            norm = grad.flatten(1).norm(dim=1) + 1e-6
            scale = (norm / max_norm).clamp(min=1)
            return grad / scale.reshape(-1, *[1] * (grad.dim() - 1))

        tensor.register_hook(hook)
    return tensor


def _gumbel(like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard Gumbel noise −log(−log u), u ~ U[0, 1), with the code's safe log; float32 even
    under autocast (1e-20 underflows in float16)."""
    u = torch.rand(like.shape, generator=generator, device=like.device, dtype=torch.float32)
    return -torch.log(-torch.log(u + LOG_EPS) + LOG_EPS)


def straight_through_gumbel_softmax(
    probs: Tensor, stochastic: bool, tau: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """One-hot argmax over the last dim of softmax((log p + g)/τ); gradients pass through the soft
    sample (straight-through Gumbel-softmax, Jang et al.). Deterministic: g = 0, i.e. argmax p."""
    logits = torch.log(probs + LOG_EPS)
    if stochastic:
        logits = logits + _gumbel(probs, generator)
    soft = torch.softmax(logits / tau, dim=-1)
    hard = F.one_hot(soft.argmax(dim=-1), soft.shape[-1]).to(soft.dtype)
    return soft + (hard - soft).detach()


def straight_through_gumbel_sigmoid(
    logits: Tensor, stochastic: bool, tau: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """round(sigmoid((a + g1 − g2)/τ)) with straight-through gradients (binary Gumbel-softmax).

    Takes the logit a directly: the code's log μ − log(1 − μ) of μ = sigmoid(a), without its 1e-20
    clipping. Deterministic: g1 = g2 = 0, i.e. round(sigmoid(a)).
    """
    if stochastic:
        logits = logits + _gumbel(logits, generator) - _gumbel(logits, generator)
    soft = torch.sigmoid(logits / tau)
    return soft + (soft.round() - soft).detach()


def with_coordinates(frames: Tensor) -> Tensor:
    """Append the y and x coordinate channels (linspace −1..1 over rows / columns) to frames
    (B, D, H, W) -> (B, D + 2, H, W) (§3.1: translation information for the local features)."""
    batch, _, height, width = frames.shape
    y = torch.linspace(-1, 1, height, device=frames.device, dtype=frames.dtype)
    x = torch.linspace(-1, 1, width, device=frames.device, dtype=frames.dtype)
    grid_y, grid_x = torch.meshgrid(y, x, indexing="ij")
    coordinates = torch.stack((grid_y, grid_x)).expand(batch, 2, height, width)
    return torch.cat((frames, coordinates), dim=1)


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


class FeatureExtractor(nn.Module):
    """NN_feat (eq. 1): a fully convolutional net whose last feature map is the memory C.

    Per layer: Conv2d (stride 1, padding k//2) -> AdaptiveMaxPool2d -> ReLU (also after the last
    layer; no batch norm), as the released ``submodules.Conv``. The input gets 2 coordinate
    channels first, so the first conv sees ``in_channels + 2``.
    """

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int],
        kernels: Sequence[int | Sequence[int]],
        pool_sizes: Sequence[int | Sequence[int]],
    ):
        super().__init__()
        if not len(channels) == len(kernels) == len(pool_sizes) > 0:
            raise ValueError("channels, kernels and pool_sizes need one entry per layer")
        layers: list[nn.Module] = []
        sizes = [in_channels + 2, *channels]
        for c_in, c_out, kernel, pool in zip(sizes[:-1], sizes[1:], kernels, pool_sizes):
            kh, kw = _pair(kernel)
            layers += [
                nn.Conv2d(c_in, c_out, (kh, kw), stride=1, padding=(kh // 2, kw // 2)),
                nn.AdaptiveMaxPool2d(_pair(pool)),
                nn.ReLU(),
            ]
        self.net = nn.Sequential(*layers)

    def forward(self, frames: Tensor) -> Tensor:
        """frames (B, D, H, W) in [0, 1] -> memory (B, M·N, R), slots in row-major (m, n) order."""
        features = self.net(with_coordinates(frames))  # B, R, M, N
        return features.flatten(2).transpose(1, 2)


class OutputHeads(nn.Module):
    """NN_out (eq. 3), shared by all trackers: an MLP (ReLU hidden layers, linear output) from the
    state to [a_e (1), a_l (K), a_p (4), a_s (U·V), a_a (D·U·V)], then
    y_e = |tanh a_e|, y_l = ST-Gumbel-softmax(softmax a_l), y_p = tanh a_p,
    Y_s = ST-Gumbel-sigmoid(a_s) (MNIST: forced to 1, a_s unused, as the code), Y_a = sigmoid a_a.
    """

    def __init__(
        self,
        state_dim: int,
        hidden: Sequence[int],
        layers: int,
        patch: tuple[int, int],
        channels: int,
        mnist: bool = False,
        grad_norm_hooks: bool = True,
    ):
        super().__init__()
        self.layers, self.patch, self.channels = layers, tuple(patch), channels
        self.mnist, self.grad_norm_hooks = mnist, grad_norm_hooks
        patch_size = self.patch[0] * self.patch[1]
        self.split_sizes = [1, layers, 4, patch_size, channels * patch_size]
        sizes = [state_dim, *hidden, sum(self.split_sizes)]
        mlp: list[nn.Module] = []
        for c_in, c_out in zip(sizes[:-1], sizes[1:]):
            mlp += [nn.Linear(c_in, c_out), nn.ReLU()]
        self.mlp = nn.Sequential(*mlp[:-1])

    def forward(
        self, h: Tensor, stochastic: bool = False, generator: torch.Generator | None = None
    ) -> TrackerOutputs:
        """h (B, I, state_dim) -> TrackerOutputs; ``stochastic`` adds the Gumbel noise."""
        batch, trackers = h.shape[:2]
        a_e, a_l, a_p, a_s, a_a = self.mlp(h).split(self.split_sizes, dim=-1)
        layer_probs = torch.softmax(a_l.reshape(-1, self.layers), dim=-1)
        if self.grad_norm_hooks:
            clip_grad_norm_per_sample(layer_probs, 10.0)
        layer = straight_through_gumbel_softmax(layer_probs, stochastic, generator=generator)
        patch_shape = (batch, trackers, 1, *self.patch)
        if self.mnist:
            shape = h.new_ones(patch_shape)
        else:
            shape = straight_through_gumbel_sigmoid(a_s, stochastic, generator=generator)
        return TrackerOutputs(
            conf=torch.tanh(a_e).abs().squeeze(-1),
            layer=layer.reshape(batch, trackers, self.layers),
            pose=torch.tanh(a_p),
            shape=shape.reshape(patch_shape),
            appearance=torch.sigmoid(a_a).reshape(batch, trackers, self.channels, *self.patch),
        )


class TrackerArray(nn.Module):
    """NN_upd by Reprioritized Attentive Tracking (§3), then NN_out.

    Trackers read from and write to the memory one after another in priority order (§3.3: by
    round(y_e_prev) descending, ties by tracker index; ``reprioritize=False``: index order). Each:
    key and strength from h_prev (eqs 10–11), content attention over slots (eq. 12), read (eq. 13),
    GRUCell(R -> state_dim) update (eq. 14), erase/write (eqs 15–17) of the memory handed to the
    next tracker (``memory_write=False``: none, TBAc-noMem). ``act``: §3.4 as the module docstring
    says. Without attention (TBAc-noAtt) the caller passes one slot of size M·N·R (S = 1).
    """

    def __init__(
        self,
        slot_dim: int,
        state_dim: int,
        num_trackers: int,
        heads: OutputHeads,
        act: bool = False,
        reprioritize: bool = True,
        memory_write: bool = True,
        grad_norm_hooks: bool = True,
    ):
        super().__init__()
        self.slot_dim, self.state_dim, self.num_trackers = slot_dim, state_dim, num_trackers
        self.act, self.reprioritize, self.memory_write = act, reprioritize, memory_write
        self.grad_norm_hooks = grad_norm_hooks
        self.key = nn.Linear(state_dim, slot_dim + 1)  # eq. 10: {k, β̂}
        self.rnn = nn.GRUCell(slot_dim, state_dim)  # eq. 14
        self.erase_write = nn.Linear(state_dim, 2 * slot_dim)  # eq. 15: {ê, v}
        self.heads = heads

    def priority_order(self, conf_prev: Tensor) -> Tensor:
        """Tracker indices (B, I) in processing order: round(y_e_prev) descending, stable."""
        if not self.reprioritize:
            return torch.arange(self.num_trackers, device=conf_prev.device).expand_as(conf_prev)
        return torch.argsort(-conf_prev.detach().round(), dim=1, stable=True)

    @staticmethod
    def key_strength(beta_hat: Tensor) -> Tensor:
        """β = 1 + softplus(β̂) (eq. 11), as max(β̂, 0) + log1p(e^−|β̂|) + 1: no overflow."""
        return beta_hat.clamp(min=0) + torch.log1p(torch.exp(-beta_hat.abs())) + 1

    def attend(self, memory: Tensor, key: Tensor, beta: Tensor) -> Tensor:
        """Attention weights (B, S) = softmax over slots of β·cos(c_s, k) (eq. 12)."""
        if self.grad_norm_hooks:  # clip only the gradient through the cosine, not the read
            memory = clip_grad_norm_per_sample(memory.view_as(memory), 1.0)
        similarity = F.cosine_similarity(memory, key.unsqueeze(1), dim=-1)
        return torch.softmax(beta * similarity, dim=-1)

    def write(self, memory: Tensor, weights: Tensor, h: Tensor) -> Tensor:
        """C ← C ⊙ (1 − w eᵀ) + w vᵀ with e = sigmoid(ê), {ê, v} = Linear(h) (eqs 15–17)."""
        erase_logits, value = self.erase_write(h).split(self.slot_dim, dim=-1)
        w = weights.unsqueeze(-1)
        return memory * (1 - w * torch.sigmoid(erase_logits).unsqueeze(1)) + w * value.unsqueeze(1)

    def forward(
        self,
        memory: Tensor,
        h_prev: Tensor,
        conf_prev: Tensor,
        stochastic: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, TrackerOutputs, Tensor]:
        """memory (B, S, R), h_prev (B, I, state_dim), conf_prev (B, I) ->
        (h (B, I, state_dim), TrackerOutputs, attention weights (B, I, S)), in tracker order."""
        order = self.priority_order(conf_prev)
        h_prev_sorted = _take_trackers(h_prev, order)
        key, beta_hat = self.key(h_prev_sorted).split((self.slot_dim, 1), dim=-1)
        beta = self.key_strength(beta_hat)
        states, attention = [], []
        for i in range(self.num_trackers):
            weights = self.attend(memory, key[:, i], beta[:, i])
            read_weights = weights.unsqueeze(1)
            if self.grad_norm_hooks:
                clip_grad_norm_per_sample(read_weights, 1.0)
            read = torch.bmm(read_weights, memory).squeeze(1)  # eq. 13
            h = self.rnn(read, h_prev_sorted[:, i])
            if self.memory_write:
                memory = self.write(memory, weights, h)
            states.append(h)
            attention.append(weights)
        h_sorted = torch.stack(states, dim=1)
        outputs = self.heads(h_sorted, stochastic=stochastic, generator=generator)
        if self.act:
            h_sorted, outputs = self._adaptive_computation(
                h_sorted, h_prev_sorted, outputs, _take_trackers(conf_prev, order)
            )
        restore = torch.argsort(order, dim=1)
        outputs = TrackerOutputs(*(_take_trackers(t, restore) for t in outputs))
        attention_sorted = torch.stack(attention, dim=1)
        return _take_trackers(h_sorted, restore), outputs, _take_trackers(attention_sorted, restore)

    @staticmethod
    def _adaptive_computation(
        h: Tensor, h_prev: Tensor, outputs: TrackerOutputs, conf_prev: Tensor
    ) -> tuple[Tensor, TrackerOutputs]:
        """ACT (§3.4, the code's "act") on priority-ordered tensors: keep the trackers up to and
        including the first with round(y_e_prev) + round(y_e) = 0; the rest keep h_prev and get
        y_e = y_p = Y_a = 0."""
        dead = (conf_prev.detach().round() + outputs.conf.detach().round()) < 0.5
        dead_before = torch.cumsum(dead, dim=1) - dead.long()
        keep = dead_before == 0  # (B, I)
        h = torch.where(keep.unsqueeze(-1), h, h_prev)
        kept = keep.to(outputs.conf.dtype)
        return h, outputs._replace(
            conf=outputs.conf * kept,
            pose=outputs.pose * kept.unsqueeze(-1),
            appearance=outputs.appearance * kept[..., None, None, None],
        )
