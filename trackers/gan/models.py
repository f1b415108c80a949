"""The Gan et al. (2015) neural trackers in PyTorch: ConvTracker, RecTracker-ID and
RecTracker-Att-N (paper §3.1, §5, Appendix A), their losses (§3.2, eqs 8–9) and box helpers.

Tensors are batch-first: frames (N, T, 1, K, K) in [0, 1]; boxes are the released code's
normalised corners [y_min, x_min, y_max, x_max] = pixel index / (K / 2) − 1, in [−1, 1], where
the pixel indices are 0-based and inclusive (the tight box's first and last rows and columns).

Every model has an online path, ``state = initial_state(first_box)`` then
``box, state = step(frame, state)`` once per frame from the first one on, and a batched
``forward(frames, first_box) -> boxes (N, T, 4)`` that gives the same boxes. As in the code, the
tracker also predicts a box for the first frame, whose ground truth it was given.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trackers.gan.config import GanConfig


def ltwh_to_corners(boxes, frame_size: int = 100) -> Tensor:
    """Normalised corners (..., 4) of 1-based pixel ltwh boxes (..., 4) (MOTChallenge).

    A box covering 0-based pixel columns x_min..x_max has left = x_min + 1 and width
    x_max − x_min + 1.
    """
    boxes = torch.as_tensor(boxes)
    left, top, width, height = boxes.unbind(-1)
    corners = torch.stack([top - 1, left - 1, top + height - 2, left + width - 2], dim=-1)
    return corners / (frame_size / 2) - 1


def corners_to_ltwh(corners, frame_size: int = 100) -> Tensor:
    """1-based pixel ltwh boxes (..., 4) of normalised corners (..., 4); inverts
    ``ltwh_to_corners``."""
    y_min, x_min, y_max, x_max = ((torch.as_tensor(corners) + 1) * (frame_size / 2)).unbind(-1)
    return torch.stack([x_min + 1, y_min + 1, x_max - x_min + 1, y_max - y_min + 1], dim=-1)


def attention_mask(
    box: Tensor,
    params: Tensor,
    grid: int,
    frame_size: int = 100,
    stride_scale: str = "paper",
    normalise_filters: bool = False,
    centre: str = "box",
) -> Tensor:
    """The N x N Gaussian weighting mask G of eq. 7, (B, K, K) for boxes (B, 4), params (B, 3).

    ``params`` = (s, r, a): Gaussian (i, j) is centred at the box centre plus
    ((i, j) − (N − 1)/2)·δ with stride δ = exp(r)·K (the code: exp(r)·(K − 1)/(N − 1), 0 for
    N = 1), has standard deviation σ = exp(s)·K/2, and the mask is exp(a) times their sum. With
    ``normalise_filters`` (the code) each 1-D Gaussian is divided by its sum over the frame.
    ``centre`` "box": the box centre in the labels' scale, (z + 1)·K/2; "code": as the released
    code computes it, (z + 1)·(K − 1)/2 with rows and columns swapped (the mask sits at the box
    centre's mirror image in the frame's diagonal).
    """
    log_sigma, log_stride, log_amplitude = params.unbind(-1)
    pixels = (box + 1) * ((frame_size - (centre == "code")) / 2)
    centre_y = (pixels[:, 0] + pixels[:, 2]) / 2
    centre_x = (pixels[:, 1] + pixels[:, 3]) / 2
    if centre == "code":
        centre_y, centre_x = centre_x, centre_y
    if stride_scale == "paper":
        scale = frame_size
    else:
        scale = (frame_size - 1) / (grid - 1) if grid > 1 else 0.0
    stride = torch.exp(log_stride) * scale
    sigma = torch.exp(log_sigma) * (frame_size / 2)
    offsets = torch.arange(grid, dtype=box.dtype, device=box.device) - (grid - 1) / 2
    positions = torch.arange(frame_size, dtype=box.dtype, device=box.device)

    def filters(centre: Tensor) -> Tensor:  # (B, N, K): one 1-D Gaussian per grid row/column
        means = centre[:, None] + stride[:, None] * offsets
        gauss = torch.exp(-((positions - means[..., None]) ** 2) / (2 * sigma[:, None, None] ** 2))
        if normalise_filters:
            gauss = gauss / (gauss.sum(-1, keepdim=True) + 1e-8)
        return gauss

    rows, cols = filters(centre_y), filters(centre_x)
    mask = rows.sum(1)[:, :, None] * cols.sum(1)[:, None, :]  # Σ_ij g_i(y) g_j(x), separable
    return torch.exp(log_amplitude)[:, None, None] * mask


class FrameEncoder(nn.Module):
    """Appendix A's convolution: 32 filters 10 x 10, stride 5, valid, no pooling (ConvTracker's
    code variant: max-pool), then an element-wise tanh; returns flat features."""

    def __init__(self, in_channels: int, config: GanConfig, pool: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, config.conv_filters, config.conv_kernel, stride=config.conv_stride
        )
        self.pool = pool
        side = config.conv_size // pool
        self.out_features = config.conv_filters * side * side
        nn.init.xavier_uniform_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def feature_map(self, images: Tensor) -> Tensor:
        """(B, filters, side, side): tanh of the (pooled) convolution of images (B, C, K, K).

        With one channel and a kernel of m strides (Appendix A: 10 = 2 x 5) the frame is cut
        into stride x stride blocks and the convolution is the sum of m² shifted products of
        blocks with the kernel's m x m parts: on a CPU 2-3x faster in training than the direct
        convolution or a product with unfolded patches (tests/benchmarks/test_bench_gan_train.py);
        the direct convolution stays faster for ConvTracker's four channels."""
        conv = self.conv
        (kernel, _), (stride, _) = conv.kernel_size, conv.stride
        if conv.in_channels > 1 or kernel % stride:
            return self._pooled(conv(images))
        m = kernel // stride
        side = (images.shape[-1] - kernel) // stride + 1
        n = side + m - 1  # blocks per row and column that the valid convolution reads
        blocks = images[:, 0, : n * stride, : n * stride].unflatten(1, (n, stride))
        blocks = blocks.unflatten(-1, (n, stride)).transpose(2, 3).flatten(-2)  # (B, n, n, s²)
        parts = conv.weight[:, 0].unflatten(1, (m, stride)).unflatten(-1, (m, stride))
        parts = parts.permute(1, 3, 2, 4, 0).flatten(2, 3)  # (m, m, s², filters)
        response = conv.bias
        for dy in range(m):
            for dx in range(m):
                response = response + blocks[:, dy : dy + side, dx : dx + side] @ parts[dy, dx]
        return self._pooled(response.permute(0, 3, 1, 2))

    def _pooled(self, response: Tensor) -> Tensor:
        if self.pool > 1:
            response = F.max_pool2d(response, self.pool)
        return torch.tanh(response)

    def forward(self, images: Tensor) -> Tensor:
        return self.feature_map(images).flatten(1)


def _box_head(in_features: int, zero_tail: bool) -> nn.Linear:
    """box = tanh(W h + b); W zero-initialised with ``zero_tail`` (code's --zero_tail_fc)."""
    head = nn.Linear(in_features, 4)
    (nn.init.zeros_ if zero_tail else nn.init.xavier_uniform_)(head.weight)
    nn.init.zeros_(head.bias)
    return head


def _dense(in_features: int, out_features: int, bias: bool = True) -> nn.Linear:
    """A Glorot-uniform linear layer with zero bias."""
    layer = nn.Linear(in_features, out_features, bias=bias)
    nn.init.xavier_uniform_(layer.weight)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


class _StepProjection(torch.autograd.Function):
    """x_t Wᵀ + b for step t of a sequence (``GRU.project`` in one step of ``RecTracker``'s
    attention loop), whose weight gradient Σ_t g_tᵀ x_t is one product over all steps instead of
    one per step: each step's backward keeps (g_t, x_t) in ``steps`` and step 0's, which runs
    last because every later step's input depends on its output, forms the sum."""

    @staticmethod
    def forward(ctx, features: Tensor, weight: Tensor, bias: Tensor, steps: dict) -> Tensor:
        ctx.steps, ctx.index = steps, len(steps["features"])
        steps["features"].append(features.detach())
        ctx.save_for_backward(weight)
        return F.linear(features, weight, bias)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (weight,) = ctx.saved_tensors
        steps, index = ctx.steps, ctx.index
        if steps.get("summed"):
            raise RuntimeError(f"step {index}'s projection gradient arrived after step 0's")
        steps["grads"][index] = grad
        weight_grad = None
        if index == 0:  # steps with no gradient (none reached) add nothing
            received = sorted(steps["grads"])
            weight_grad = torch.cat([steps["grads"][i] for i in received]).T @ torch.cat(
                [steps["features"][i] for i in received]
            )
            steps["summed"] = True
        features_grad = grad @ weight if ctx.needs_input_grad[0] else None
        return features_grad, weight_grad, grad.sum(0), None


class GRU(nn.Module):
    """The GRU of eq. 3 (Cho et al. 2014), as the released code computes it, on input
    [features ‖ box]:

        z = σ(W_z x + U_z h + b_z),  r = σ(W_r x + U_r h + b_r),
        h̃ = tanh(W x + U (r ⊙ h) + b),  h' = (1 − z) ⊙ h + z ⊙ h̃.

    The features' part of the input projection is ``project``-ed apart, so a sequence's frames
    go through it in one product. Input weights Glorot-uniform and recurrent weights orthogonal,
    per gate; biases zero.
    """

    def __init__(self, features: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        # the input weights of gates z, r, h̃ on the features and on the box, and the recurrent
        # weights of z and r and of h̃: separate tensors, so that no backward step slices them
        self.weight_features = nn.Parameter(torch.empty(3 * hidden, features))
        self.weight_box = nn.Parameter(torch.empty(3 * hidden, 4))
        self.weight_gates = nn.Parameter(torch.empty(2 * hidden, hidden))
        self.weight_candidate = nn.Parameter(torch.empty(hidden, hidden))
        self.bias = nn.Parameter(torch.zeros(3 * hidden))
        glorot = torch.empty(3, hidden, features + 4)
        for weights in glorot:
            nn.init.xavier_uniform_(weights)
        glorot = glorot.flatten(0, 1)
        self.weight_features.data.copy_(glorot[:, :features])
        self.weight_box.data.copy_(glorot[:, features:])
        for weights in (*self.weight_gates.data.chunk(2), self.weight_candidate.data):
            nn.init.orthogonal_(weights)

    def project(self, features: Tensor, steps: dict | None = None) -> Tensor:
        """W_· φ + b_· of the three gates, (..., 3H), for features (..., F); ``steps`` (a dict
        shared by one sequence's steps, ``_StepProjection``) defers the weight gradient."""
        if steps is None or not torch.is_grad_enabled():
            return F.linear(features, self.weight_features, self.bias)
        return _StepProjection.apply(features, self.weight_features, self.bias, steps)

    def forward(self, projected: Tensor, box: Tensor, hidden: Tensor) -> Tensor:
        """h' (N, H) of projected features (N, 3H), the previous box (N, 4) and h (N, H)."""
        inputs = projected + F.linear(box, self.weight_box)
        gates, candidate = inputs.split([2 * self.hidden, self.hidden], 1)
        update, reset = torch.sigmoid(gates + F.linear(hidden, self.weight_gates)).chunk(2, 1)
        candidate = torch.tanh(candidate + F.linear(reset * hidden, self.weight_candidate))
        return hidden + update * (candidate - hidden)


class ConvState(NamedTuple):
    """ConvTracker's memory: the last ``history`` frames (N, history, K, K), oldest first,
    zero before the sequence; the last boxes (N, history, 4), newest first, zero before it."""

    frames: Tensor
    boxes: Tensor


class ConvTracker(nn.Module):
    """ConvTracker (§5, Appendix A): φ = tanh(conv(4 most recent frames as channels)),
    h = tanh(W_φ φ + W_z [z̃_{t−1} … z̃_{t−4}] + b) with 200 units, box = tanh(W h + b').

    The code's variant (``conv_pool`` 4, ``box_branch``, hidden 256): h = [tanh(W_φ φ + b) ‖
    tanh(W_z z + b_z)]. The previous boxes are the given one, then the tracker's own
    predictions (gradients flow through them), zero before the sequence.
    """

    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        history, hidden = config.history, config.hidden
        self.encoder = FrameEncoder(history, config, pool=config.conv_pool)
        # the FC layer on [φ ‖ boxes] as two parts: the features' part runs on all frames at once
        self.feature_fc = _dense(self.encoder.out_features, hidden)
        self.box_fc = _dense(4 * history, hidden, bias=config.box_branch)
        self.box_head = _box_head((2 if config.box_branch else 1) * hidden, config.zero_tail)

    def initial_state(self, first_box: Tensor) -> ConvState:
        n, size, history = first_box.shape[0], self.config.frame_size, self.config.history
        frames = first_box.new_zeros(n, history, size, size)
        boxes = first_box.new_zeros(n, history, 4)
        boxes[:, 0] = first_box
        return ConvState(frames, boxes)

    def _predict(self, projected: Tensor, previous_boxes: Tensor) -> Tensor:
        """Box (N, 4) from the projected conv features ``feature_fc(φ)`` (N, H) and the previous
        boxes (N, history, 4)."""
        from_boxes = self.box_fc(previous_boxes.flatten(1))
        if self.config.box_branch:
            hidden = torch.cat([torch.tanh(projected), torch.tanh(from_boxes)], 1)
        else:
            hidden = torch.tanh(projected + from_boxes)
        return torch.tanh(self.box_head(hidden))

    @staticmethod
    def _push_box(boxes: Tensor, box: Tensor) -> Tensor:
        return torch.cat([box[:, None], boxes[:, :-1]], 1)

    def step(self, frame: Tensor, state: ConvState) -> tuple[Tensor, ConvState]:
        """Box (N, 4) of frame (N, 1, K, K) and the updated state."""
        frames = torch.cat([state.frames[:, 1:], frame], 1)
        box = self._predict(self.feature_fc(self.encoder(frames)), state.boxes)
        return box, ConvState(frames, self._push_box(state.boxes, box))

    def forward(self, frames: Tensor, first_box: Tensor) -> Tensor:
        """Boxes (N, T, 4) of frames (N, T, 1, K, K); the conv runs on all windows at once."""
        n, length = frames.shape[:2]
        history = self.config.history
        padded = F.pad(frames[:, :, 0], (0, 0, 0, 0, history - 1, 0))  # zeros before frame 0
        windows = padded.unfold(1, history, 1).permute(0, 1, 4, 2, 3)  # (N, T, history, K, K)
        projected = self.feature_fc(self.encoder(windows.flatten(0, 1))).unflatten(0, (n, length))
        boxes = self.initial_state(first_box).boxes
        predicted = []
        for t in range(length):
            box = self._predict(projected[:, t], boxes)
            boxes = self._push_box(boxes, box)
            predicted.append(box)
        return torch.stack(predicted, 1)


class RecState(NamedTuple):
    """RecTracker's memory: GRU state (N, H), previous box (N, 4) and attention parameters
    (N, 3) (s, r, a of eq. 7; None without attention)."""

    hidden: Tensor
    box: Tensor
    attention: Tensor | None


class RecTracker(nn.Module):
    """RecTracker-ID and RecTracker-Att-N (§3.1, eqs 2–7, Appendix A).

    φ(x_t) = tanh(conv(m(x_t, z̃_{t−1}))) (eq. 2; conv 32 x 10 x 10 stride 5, 19 x 19 x 32),
    h_t = GRU(h_{t−1}, [φ(x_t) ‖ z̃_{t−1}]) (eq. 3), z̃_t = tanh(W h_t + b) (eqs 4–5) with W
    zero-initialised; z̃_0 = the first frame's ground truth, h_0 = 0. RecTracker-ID uses the
    identity m (eq. 6); RecTracker-Att-N multiplies the whole frame by the mask of eq. 7 whose
    parameters (s, r, a) = W_a h_{t−1} + b_a (at t = 1 ``config.initial_attention``).

    The mask is centred on the box's centre (``attention_centre`` "box"), or where the released
    code centres it ("code": rows and columns swapped, ``attention_mask``).
    """

    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        self.grid = config.attention_grid
        self.encoder = FrameEncoder(1, config)
        self.gru = GRU(self.encoder.out_features, config.hidden)
        self.box_head = _box_head(config.hidden, config.zero_tail)
        self.attention_head = _dense(config.hidden, 3) if self.grid else None

    def initial_state(self, first_box: Tensor) -> RecState:
        hidden = first_box.new_zeros(first_box.shape[0], self.config.hidden)
        attention = None
        if self.grid:
            attention = first_box.new_tensor(self.config.initial_attention).expand(
                len(first_box), 3
            )
        return RecState(hidden, first_box, attention)

    def mask(self, state: RecState) -> Tensor:
        """The eq. 7 mask (N, K, K) this state puts on the next frame."""
        config = self.config
        return attention_mask(
            state.box,
            state.attention,
            self.grid,
            config.frame_size,
            config.stride_scale,
            config.normalise_filters,
            config.attention_centre,
        )

    def _advance(self, projected: Tensor, state: RecState) -> tuple[Tensor, RecState]:
        """One GRU step on projected frame features (N, 3H): the box (N, 4) and the next state."""
        hidden = self.gru(projected, state.box, state.hidden)
        box = torch.tanh(self.box_head(hidden))
        attention = self.attention_head(hidden) if self.grid else None
        return box, RecState(hidden, box, attention)

    def step(
        self, frame: Tensor, state: RecState, steps: dict | None = None
    ) -> tuple[Tensor, RecState]:
        """Box (N, 4) of frame (N, 1, K, K) and the updated state (``steps``: ``GRU.project``)."""
        if self.grid:
            frame = frame * self.mask(state)[:, None]
        return self._advance(self.gru.project(self.encoder(frame), steps), state)

    def forward(self, frames: Tensor, first_box: Tensor) -> Tensor:
        """Boxes (N, T, 4) of frames (N, T, 1, K, K); without attention the conv and the GRU's
        input projection run on all frames at once, with it the projection's weight gradient
        does (``_StepProjection``)."""
        state = self.initial_state(first_box)
        predicted = []
        if self.grid:
            steps: dict = {"features": [], "grads": {}}
            for t in range(frames.shape[1]):
                box, state = self.step(frames[:, t], state, steps)
                predicted.append(box)
        else:
            features = self.encoder(frames.flatten(0, 1))
            projected = self.gru.project(features).unflatten(0, frames.shape[:2])
            for t in range(frames.shape[1]):
                box, state = self._advance(projected[:, t], state)
                predicted.append(box)
        return torch.stack(predicted, 1)


def build_model(config: GanConfig) -> ConvTracker | RecTracker:
    """The network ``config.model`` names."""
    return ConvTracker(config) if config.model == "ConvTracker" else RecTracker(config)


def tracking_loss(predicted: Tensor, target: Tensor, kind: str = "paper", given: int = 1) -> Tensor:
    """Training cost of boxes (N, T, 4) against ground truth (N, T, 4).

    "paper": the Gaussian log-likelihoods with identity covariance reduce to squared errors:
    the last frame's (eq. 8) plus the auxiliary cost of eq. 9 over frames k + 1..T (k = ``given``),
    each summed over coordinates and averaged over the batch. "code": Σ squared error / N / T
    over every frame.
    """
    error = ((predicted - target) ** 2).sum(-1)  # (N, T)
    if kind == "code":
        return error.mean()
    return (error[:, -1] + error[:, given:].sum(1)).mean()
