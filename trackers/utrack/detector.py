"""The joint detector: a FairMOT/CenterNet-style network with OUTrack's heads (detection heatmap,
ltrb box, centre offset, re-ID embedding, and OccE's occlusion heatmap and offset) at output
stride 4, on one of two backbones (``UTrackConfig.backbone``).

``small`` (``JointDetector``), the CPU tier's: a backbone of a few hundred thousand parameters
for 128x128 frames: stride-2 convolutions to 1/4, 1/8 and 1/16 with a residual block at the two
coarse levels, summed back up to 1/4 the way DLA-up merges levels (upsample, add, 3x3 node).
``dla34`` (``DLAJointDetector``), the paper's size: DLA-34 with its aggregation up to stride 4
(``trackers.utrack.dla``; the code's default runs deformable convolutions there, opts.py:78,
pose_dla_dcn.py). The heads are the code's (pose_dla_dcn.py:445-471).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional

from trackers.utrack.dla import COARSEST as DLA_COARSEST
from trackers.utrack.dla import DLA34
from trackers.utrack.dla import FEATURES as DLA_FEATURES

STRIDE = 4
"""Output stride of every map."""
COARSEST = 16
"""The small backbone's coarsest stride: image sides must be multiples of it."""
HEATMAP_BIAS = -2.19
"""The final bias of heatmap-like heads: sigmoid(-2.19) ~= 0.1 (pose_dla_dcn.py:456-459)."""


def conv_bn_relu(inputs: int, outputs: int, stride: int = 1) -> nn.Sequential:
    """A 3x3 convolution, BatchNorm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """DLA's BasicBlock at one width: two 3x3 conv+BN with the input added before the last ReLU
    (pose_dla_dcn.py:31-59)."""

    def __init__(self, channels: int):
        super().__init__()
        self.first = conv_bn_relu(channels, channels)
        self.second = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        )

    def forward(self, x: Tensor) -> Tensor:
        return functional.relu(x + self.second(self.first(x)))


class UpMerge(nn.Module):
    """One upward step: the coarse map projected to the fine map's width, upsampled x2, added to
    it and passed through a 3x3 node."""

    def __init__(self, coarse: int, fine: int):
        super().__init__()
        self.project = nn.Sequential(
            nn.Conv2d(coarse, fine, 1, bias=False), nn.BatchNorm2d(fine), nn.ReLU(inplace=True)
        )
        self.node = conv_bn_relu(fine, fine)

    def forward(self, coarse: Tensor, fine: Tensor) -> Tensor:
        up = functional.interpolate(self.project(coarse), scale_factor=2.0, mode="nearest")
        return self.node(up + fine)


def head(inputs: int, hidden: int, outputs: int, heatmap: bool) -> nn.Sequential:
    """A head as the code builds it: 3x3 conv + ReLU + 1x1 conv. A head whose name contains 'hm'
    or 'occlusion' (hm, occlusion and occlusion_offset) gets final bias -2.19; the others get
    ``fill_fc_weights``, which in the default DLA-34 zeroes the biases and keeps PyTorch's
    weight init (pose_dla_dcn.py:326-330, 445-461; resnet_dcn.py:121-128 would also draw the
    weights from N(0, 0.001))."""
    first, last = nn.Conv2d(inputs, hidden, 3, padding=1), nn.Conv2d(hidden, outputs, 1)
    if heatmap:
        nn.init.constant_(last.bias, HEATMAP_BIAS)
    else:
        nn.init.zeros_(first.bias)
        nn.init.zeros_(last.bias)
    return nn.Sequential(first, nn.ReLU(inplace=True), last)


class StrideFourDetector(nn.Module):
    """Maps at stride 4 of images (B, H, W, 3) uint8 RGB, H and W multiples of ``coarsest``: "hm"
    (B, 1, h, w) logits, "wh" (B, 4, h, w) ltrb distances, "reg" (B, 2, h, w) centre offsets,
    "id" (B, D, h, w) embeddings and, with OccE's heads, "occlusion" (B, 1, h, w) logits and
    "occlusion_offset" (B, 2, h, w). A backbone supplies ``features`` of ``width`` channels."""

    coarsest: int

    def add_heads(self, width: int, head_channels: int, embedding: int, occlusion: bool) -> None:
        outputs = {"hm": 1, "wh": 4, "reg": 2, "id": embedding}
        if occlusion:
            outputs |= {"occlusion": 1, "occlusion_offset": 2}
        self.heads = nn.ModuleDict(
            {
                name: head(width, head_channels, size, "hm" in name or "occlusion" in name)
                for name, size in outputs.items()
            }
        )

    def features(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        height, width = images.shape[1:3]
        if height % self.coarsest or width % self.coarsest:
            raise ValueError(
                f"{type(self).__name__} needs image sides that are multiples of {self.coarsest},"
                f" got {height}x{width}"
            )
        # RGB / 255 without mean and std, as the code feeds it (jde_json.py:111-114, train.py:69).
        x = images.permute(0, 3, 1, 2).float() / 255.0
        features = self.features(x)
        return {name: layer(features) for name, layer in self.heads.items()}


class JointDetector(StrideFourDetector):
    """The small backbone of ``channels`` c: c at 1/4, 2c at 1/8, 4c at 1/16."""

    coarsest = COARSEST

    def __init__(
        self,
        channels: int = 32,
        head_channels: int = 64,
        embedding: int = 128,
        occlusion: bool = True,
    ):
        super().__init__()
        c = channels
        self.stem = nn.Sequential(conv_bn_relu(3, c, 2), conv_bn_relu(c, c, 2))
        self.down8 = nn.Sequential(conv_bn_relu(c, 2 * c, 2), ResidualBlock(2 * c))
        self.down16 = nn.Sequential(conv_bn_relu(2 * c, 4 * c, 2), ResidualBlock(4 * c))
        self.up8 = UpMerge(4 * c, 2 * c)
        self.up4 = UpMerge(2 * c, c)
        self.add_heads(c, head_channels, embedding, occlusion)

    def features(self, x: Tensor) -> Tensor:
        quarter = self.stem(x)
        eighth = self.down8(quarter)
        return self.up4(self.up8(self.down16(eighth), eighth), quarter)


class DLAJointDetector(StrideFourDetector):
    """DLA-34's 64-channel stride-4 map under the heads (input sides multiples of 32)."""

    coarsest = DLA_COARSEST

    def __init__(self, head_channels: int = 256, embedding: int = 128, occlusion: bool = True):
        super().__init__()
        self.dla = DLA34()
        self.add_heads(DLA_FEATURES, head_channels, embedding, occlusion)

    def features(self, x: Tensor) -> Tensor:
        return self.dla(x)
