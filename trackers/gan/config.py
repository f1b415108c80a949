"""Hyper-parameters of the Gan et al. (2015) neural trackers (paper §3, §5, Appendix A).

The defaults follow the paper. Where the released code (BarclayII/tracking-with-rnn) differs, a
field offers the code's choice and ``code_choices`` switches all of them at once:

- ConvTracker: the paper has no pooling and one FC layer of 200 tanh units fed with the conv
  features and the four previous boxes; the code max-pools 4x4 and feeds Dense 256 tanh on the
  features and a separate Dense 256 tanh on the boxes, concatenated;
- GRU size: the paper 200; the code 256 for RecTracker-ID (200 for the attention model);
- attention stride (eq. 7): the paper exp(r)·K; the code exp(r)·(K − 1)/(N − 1), and it divides
  each 1-D Gaussian by its sum over the frame (DRAW's filterbank) where the paper weights pixels
  by the Gaussians themselves (peak = amplitude);
- attention centre: the paper the box centre; the code swaps its rows and columns, so the mask
  sits at the centre's mirror image in the frame's diagonal (``attention_mask``);
- loss: the paper the last frame (eq. 8) plus the auxiliary cost of eq. 9; the code the squared
  error of every frame / batch / sequence length.

The initial attention parameters (log σ, log stride, log amplitude) = (10, 1, 0) are the code's;
the paper does not give them. They weight only the first frame, whose box is given: σ = e¹⁰·K/2 is
a flat window there (a gain of 1/K² per pixel with the code's normalised filters). From the second
frame on the parameters are the attention head's output, W_a h + b_a with b_a = 0, so a fresh
model's σ is about K/2.

The paper's numbers came from the code, so the registry's default variant is "code"
(``code_choices``) and "paper" is the named option.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.checkpoints import NetworkConfig
from harness.errors import ConfigError, did_you_mean

ATTENTION_GRIDS = {
    "ConvTracker": 0,
    "RecTracker-ID": 0,
    "RecTracker-Att-1": 1,
    "RecTracker-Att-3": 3,
}
"""The paper's model names and their attention grid N (0: identity preprocessing, eq. 6)."""

LOSSES = ("paper", "code")
STRIDE_SCALES = ("paper", "code")
ATTENTION_CENTRES = ("box", "code")


@dataclass(frozen=True)
class GanConfig(NetworkConfig):
    """One Gan et al. tracker; defaults: the paper's RecTracker-ID."""

    model: str = "RecTracker-ID"
    frame_size: int = 100  # K, frames are K x K grey
    conv_filters: int = 32
    conv_kernel: int = 10
    conv_stride: int = 5
    hidden: int = 200  # GRU units; ConvTracker's FC units
    history: int = 4  # ConvTracker: frames stacked as channels and previous boxes
    conv_pool: int = 1  # ConvTracker's max-pool after the conv (code: 4)
    box_branch: bool = False  # ConvTracker: the code's separate Dense on the previous boxes
    zero_tail: bool = True  # box head weights start at zero (the code's --zero_tail_fc)
    stride_scale: str = "paper"  # eq. 7 stride exp(r)·K ("paper") or exp(r)·(K−1)/(N−1)
    normalise_filters: bool = False  # the code's 1-D Gaussians summing to 1 over the frame
    attention_centre: str = "box"  # the mask's centre: the box's ("box"), or the code's (swapped)
    initial_attention: tuple[float, float, float] = (10.0, 1.0, 0.0)
    loss: str = "paper"  # "paper": eqs 8 + 9; "code": every frame
    given_frames: int = 1  # k: frames whose ground truth the tracker is given

    def __post_init__(self) -> None:
        for name, value, known in (
            ("model", self.model, list(ATTENTION_GRIDS)),
            ("loss", self.loss, list(LOSSES)),
            ("stride_scale", self.stride_scale, list(STRIDE_SCALES)),
            ("attention_centre", self.attention_centre, list(ATTENTION_CENTRES)),
        ):
            if value not in known:
                raise ConfigError(
                    f"GanConfig: unknown {name} {value!r}" + did_you_mean(value, known)
                )

    @property
    def attention_grid(self) -> int:
        """N of the N x N attention mask; 0 for the models without attention."""
        return ATTENTION_GRIDS[self.model]

    @property
    def conv_size(self) -> int:
        """Side of the conv output map (valid convolution): 19 for 100 x 100 frames."""
        return (self.frame_size - self.conv_kernel) // self.conv_stride + 1

    def code_choices(self) -> GanConfig:
        """The same model with every choice of the released code (see the module docstring)."""
        changes: dict[str, Any] = {
            "stride_scale": "code",
            "normalise_filters": True,
            "attention_centre": "code",
            "loss": "code",
        }
        if self.model == "ConvTracker":
            changes |= {"conv_pool": 4, "hidden": 256, "box_branch": True}
        elif self.model == "RecTracker-ID":
            changes["hidden"] = 256
        return self.replace(**changes)


PAPER_VS_CODE = (
    "default variant 'code': the released code's choices (normalised 1-D Gaussians, stride"
    " exp(r)(K - 1)/(N - 1), the mask centred where the code centres it, rows and columns"
    " swapped; every-frame squared-error loss; GRU 256 for RecTracker-ID; ConvTracker's pooling"
    " and box branch); the paper's text is the 'paper' ablation",
    "GRU: Cho et al. 2014's, the reset gate applied before U, one bias per gate (the code and"
    " eq. 3)",
    "optimiser: RMSprop dividing by sqrt(a + eps), a from 0 (the code; torch's sqrt(a) + eps is"
    " the optimizer=torch option)",
    "data: velocity noise of standard deviation 0.1 and pixels at or below a quarter of a layer's"
    " maximum not drawn (the code; the paper prints variance 0.1)",
    "data, departing from the code: one initial speed per digit (code: per batch); bouncing"
    " mirrors the overshoot (code: clamps); fresh clutter per sequence (code: a pack of 10,000);"
    " the scale clipped to [0.5, 2] (code: reset to 28 px at the right or bottom border); no"
    " replay buffer (code: 70% of a batch replayed from the last 2,000 sequences)",
    "ConvTracker, departing from the code: one update per sequence of 20 frames (code: one per"
    " frame)",
    "IoU of the boxes' pixel masks (the paper's definition; the code's test script scores the"
    " normalised boxes)",
    "checkpoint: the best validation IoU on the val split (the code keeps every epoch's weights"
    " and names no choice)",
)
"""Where the default follows the released code rather than the paper's text, and where it
departs from the code; checkpoint cards carry the list."""
