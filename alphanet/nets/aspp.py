"""Atrous spatial pyramid pooling (DeepLabV3), with separable atrous convolutions as in DeepLabV3+."""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alphanet.nets.layers import ConvBNReLU, SeparableConv


class ImagePooling(nn.Module):
    """Global average pooling branch, broadcast back. `(N, C_in, H, W) -> (N, C_out, H, W)`.

    No BatchNorm here: its 1x1 map would make batch statistics degenerate for a batch of one.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.project = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.project(F.adaptive_avg_pool2d(x, 1))
        return pooled.expand(-1, -1, x.shape[2], x.shape[3])


class ASPP(nn.Module):
    """A 1x1 branch, one separable atrous branch per rate, image pooling; concatenated and projected.
    `(N, C_in, H, W) -> (N, C_out, H, W)`."""

    def __init__(self, in_channels: int, out_channels: int, rates: Sequence[int]):
        super().__init__()
        branches: List[nn.Module] = [ConvBNReLU(in_channels, out_channels, 1)]
        branches += [SeparableConv(in_channels, out_channels, 3, dilation=r) for r in rates]
        branches.append(ImagePooling(in_channels, out_channels))
        self.branches = nn.ModuleList(branches)
        self.project = ConvBNReLU(out_channels * len(branches), out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.project(torch.cat([branch(x) for branch in self.branches], dim=1))
