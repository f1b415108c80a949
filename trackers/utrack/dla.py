"""DLA-34 at output stride 4 from plain torch modules: the released code's ``dlaconv_34``
(liuqk3/OUTrack src/lib/models/networks/pose_dla_conv.py, ``--arch dlaconv_34``), which is its
default ``dla_34`` (pose_dla_dcn.py) with every deformable convolution of the upsampling path a
plain 3x3 convolution. No weights are downloaded: the network starts from PyTorch's
initialisation (the code starts from CenterNet's COCO model, ``ctdet_coco_dla_2x.pth``).

The base (pose_dla_conv.py:224-291, ``dla34``: levels 1, 1, 1, 2, 2, 1 of widths 16, 32, 64,
128, 256, 512, BasicBlocks) gives six maps at strides 1 to 32; ``DLAUp`` merges strides 32 ... 4
(lines 390-413) and a last ``IDAUp`` merges the stride-4, 8 and 16 maps into one 64-channel map
at stride 4 (DLASeg, lines 427-475), which the heads read.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

WIDTHS = (16, 32, 64, 128, 256, 512)
"""The base's channels per level (strides 1, 2, 4, 8, 16, 32)."""
FEATURES = WIDTHS[2]
"""Channels of the stride-4 map the heads read."""
COARSEST = 32
"""The coarsest level's stride: input sides must be multiples of it."""


def conv_bn_relu(inputs: int, outputs: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    """A convolution without bias, BatchNorm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    )


class Block(nn.Module):
    """DLA's BasicBlock: 3x3 conv (stride ``stride``) + BN + ReLU, 3x3 conv + BN, plus the
    residual (the input unless one is given), ReLU."""

    def __init__(self, inputs: int, outputs: int, stride: int = 1):
        super().__init__()
        self.first = conv_bn_relu(inputs, outputs, stride)
        self.second = nn.Sequential(
            nn.Conv2d(outputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs)
        )

    def forward(self, x: Tensor, residual: Tensor | None = None) -> Tensor:
        shortcut = x if residual is None else residual
        return torch.relu(self.second(self.first(x)) + shortcut)


class Root(nn.Module):
    """The aggregation node: its inputs concatenated, 1x1 conv + BN + ReLU (no residual in
    DLA-34)."""

    def __init__(self, inputs: int, outputs: int):
        super().__init__()
        self.merge = conv_bn_relu(inputs, outputs, kernel=1)

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.merge(torch.cat(inputs, dim=1))


class Tree(nn.Module):
    """A hierarchical aggregation tree of ``depth`` (pose_dla_conv.py:168-221): at depth 1 two
    blocks and a root over them (and the outer level's inputs); deeper, two subtrees, the second
    carrying the first's output and the level input to its root. The level input is max-pooled
    by ``stride`` and, where the width changes, projected by a 1x1 conv + BN for the first
    block's residual; ``level_root`` passes the pooled input to the root."""

    def __init__(
        self,
        depth: int,
        inputs: int,
        outputs: int,
        stride: int = 1,
        level_root: bool = False,
        root_inputs: int = 0,
    ):
        super().__init__()
        root_inputs = (root_inputs or 2 * outputs) + (inputs if level_root else 0)
        self.depth, self.level_root = depth, level_root
        self.tree1: nn.Module
        self.tree2: nn.Module
        if depth == 1:
            self.tree1 = Block(inputs, outputs, stride)
            self.tree2 = Block(outputs, outputs)
            self.root = Root(root_inputs, outputs)
        else:
            self.tree1 = Tree(depth - 1, inputs, outputs, stride)
            self.tree2 = Tree(depth - 1, outputs, outputs, root_inputs=root_inputs + outputs)
        self.pool = nn.MaxPool2d(stride, stride) if stride > 1 else None
        self.project = (
            nn.Sequential(nn.Conv2d(inputs, outputs, 1, bias=False), nn.BatchNorm2d(outputs))
            if inputs != outputs
            else None
        )

    def forward(self, x: Tensor, children: list[Tensor] | None = None) -> Tensor:
        children = [] if children is None else children
        bottom = x if self.pool is None else self.pool(x)
        if self.level_root:
            children.append(bottom)
        if self.depth == 1:
            residual = bottom if self.project is None else self.project(bottom)
            first = self.tree1(x, residual)
            return self.root(self.tree2(first), first, *children)
        first = self.tree1(x)
        return self.tree2(first, children=[*children, first])


def bilinear_(weight: Tensor) -> None:
    """Fill a depthwise transposed convolution's (C, 1, k, k) weight with a bilinear kernel
    (``fill_up_weights``, pose_dla_conv.py:333-342)."""
    size = weight.shape[2]
    factor = math.ceil(size / 2)
    centre = (2 * factor - 1 - factor % 2) / (2.0 * factor)
    ramp = 1 - torch.abs(torch.arange(size, dtype=weight.dtype) / factor - centre)
    with torch.no_grad():
        weight.copy_((ramp[:, None] * ramp[None, :]).expand_as(weight))


class Upsample(nn.Module):
    """One IDAUp step for a map ``factor`` times coarser: 3x3 conv + BN + ReLU to ``outputs``
    (the code's DeformConv with a plain conv), a depthwise transposed convolution (kernel
    2 x ``factor``, bilinear init) up to the finer map, then, after the finer map is added, a
    3x3 conv + BN + ReLU node (pose_dla_conv.py:361-387)."""

    def __init__(self, inputs: int, outputs: int, factor: int):
        super().__init__()
        self.project = conv_bn_relu(inputs, outputs)
        self.up = nn.ConvTranspose2d(
            outputs,
            outputs,
            2 * factor,
            stride=factor,
            padding=factor // 2,
            groups=outputs,
            bias=False,
        )
        bilinear_(self.up.weight)
        self.node = conv_bn_relu(outputs, outputs)

    def forward(self, coarse: Tensor, fine: Tensor) -> Tensor:
        return self.node(self.up(self.project(coarse)) + fine)


class Aggregation(nn.Module):
    """Iterative deep aggregation (IDAUp): each map from the second on is upsampled by its
    ``factors`` entry (its stride over the first map's) onto the map before it, already merged,
    and merged with it. ``widths``: the maps' channels; the first map is passed through."""

    def __init__(self, outputs: int, widths: list[int], factors: list[int]):
        super().__init__()
        self.steps = nn.ModuleList(
            Upsample(width, outputs, factor)
            for width, factor in zip(widths[1:], factors[1:], strict=True)
        )

    def forward(self, maps: list[Tensor]) -> list[Tensor]:
        merged = [maps[0]]
        for step, coarse in zip(self.steps, maps[1:], strict=True):
            merged.append(step(coarse, merged[-1]))
        return merged


class DLA34(nn.Module):
    """Images (B, 3, H, W) in [0, 1], H and W multiples of 32 -> features (B, 64, H/4, W/4)."""

    def __init__(self) -> None:
        super().__init__()
        w = WIDTHS
        self.base = conv_bn_relu(3, w[0], kernel=7)
        self.level0 = conv_bn_relu(w[0], w[0])
        self.level1 = conv_bn_relu(w[0], w[1], stride=2)
        self.level2 = Tree(1, w[1], w[2], 2)
        self.level3 = Tree(2, w[2], w[3], 2, level_root=True)
        self.level4 = Tree(2, w[3], w[4], 2, level_root=True)
        self.level5 = Tree(1, w[4], w[5], 2, level_root=True)
        # DLAUp (pose_dla_conv.py:390-413): from the coarsest pair down, an aggregation at each
        # level's width over that level and the maps above it, those already merged two by two
        # at the next level's stride (so each is upsampled x2) and width.
        levels = list(w[2:])
        self.up = nn.ModuleList(
            Aggregation(
                levels[j],
                [levels[j]] + [levels[j + 1]] * (len(levels) - j - 1),
                [1] + [2] * (len(levels) - j - 1),
            )  # fmt: skip
            for j in range(len(levels) - 2, -1, -1)
        )
        # DLASeg's last IDAUp: the merged stride-4, 8 and 16 maps into 64 channels at stride 4.
        self.merge = Aggregation(FEATURES, levels[:3], [1, 2, 4])

    def forward(self, images: Tensor) -> Tensor:
        x = self.level1(self.level0(self.base(images)))
        maps = []
        for level in (self.level2, self.level3, self.level4, self.level5):
            x = level(x)
            maps.append(x)
        # As DLAUp: each aggregation replaces the maps above its level by their merged versions,
        # and its last map (that level's stride) is kept; finest first: strides 4, 8, 16, 32.
        merged = [maps[-1]]
        for start in range(len(maps) - 2, -1, -1):
            maps[start:] = self.up[len(maps) - 2 - start](maps[start:])
            merged.insert(0, maps[-1])
        return self.merge(merged[:3])[-1]
