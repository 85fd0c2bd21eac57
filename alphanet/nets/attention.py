"""AlphaNet's attention module and the attention-guided 2x2 pooling and unpooling it drives.

The module (paper, Sec. III-B.2, Fig. 3) maps an encoder feature map to one attention weight per pixel:
four parallel, unshared 4x4 group convolutions (stride 2, padding 1, 2 groups) each look at the whole map and
score one position of every 2x2 window; GroupNorm, ReLU and two pointwise convolutions reduce each branch to one
channel; pixel shuffle puts the four half-resolution scores back at full resolution.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AttentionBranch(nn.Module):
    """Scores one of the four positions of each 2x2 window. `(N, C, H, W) -> (N, 1, H/2, W/2)` (logits).

    The four branches together produce 2C channels after the group convolution, as the paper describes, so each
    has C/2. A ReLU sits between the two pointwise convolutions: without it they would collapse into one.
    """

    def __init__(self, channels: int):
        super().__init__()
        hidden = channels // 2
        self.body = nn.Sequential(
            nn.Conv2d(channels, hidden, kernel_size=4, stride=2, padding=1, groups=2, bias=False),
            nn.GroupNorm(num_groups=2, num_channels=hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, 1, 1),
        )

    def forward(self, features: Tensor) -> Tensor:
        return self.body(features)


class AttentionModule(nn.Module):
    """`(N, C, H, W)` features, H and W even -> `(encoder_map, decoder_map)`, each `(N, 1, H, W)`.

    encoder_map: sigmoid, then softmax over each 2x2 window (it sums to 1 there), for pooling.
    decoder_map: sigmoid alone (each weight in [0, 1]), for unpooling.
    """

    def __init__(self, channels: int):
        super().__init__()
        if channels % 4 != 0:
            raise ValueError(f"attention needs a channel count divisible by 4, got {channels}")
        self.branches = nn.ModuleList([AttentionBranch(channels) for _ in range(4)])

    def forward(self, features: Tensor) -> Tuple[Tensor, Tensor]:
        return attention_maps(torch.cat([branch(features) for branch in self.branches], dim=1))


def attention_maps(logits: Tensor) -> Tuple[Tensor, Tensor]:
    """The four branches' scores -> (encoder_map, decoder_map). `(N, 4, H/2, W/2) -> 2 x (N, 1, H, W)`."""
    scores = torch.sigmoid(logits)
    # Channel k of `scores` is position (k // 2, k % 2) of each 2x2 window once pixel-shuffled.
    encoder_map = F.pixel_shuffle(torch.softmax(scores, dim=1), 2)
    decoder_map = F.pixel_shuffle(scores, 2)
    return encoder_map, decoder_map


def attention_pool(features: Tensor, encoder_map: Tensor) -> Tensor:
    """Sum over each 2x2 window of features x encoder_map. `(N, C, H, W), (N, 1, H, W) -> (N, C, H/2, W/2)`.

    Summed position by position, each a strided view: no full-resolution product is made and the map is never
    broadcast over the channels at full resolution, which made the 1024 px call 2-3 % slower (docs/deployment.md)."""
    pooled = features[:, :, 0::2, 0::2] * encoder_map[:, :, 0::2, 0::2]
    for row, column in ((0, 1), (1, 0), (1, 1)):
        pooled.addcmul_(features[:, :, row::2, column::2], encoder_map[:, :, row::2, column::2])
    return pooled


def attention_unpool(features: Tensor, decoder_map: Tensor) -> Tensor:
    """Nearest 2x upsampling times decoder_map. `(N, C, H/2, W/2), (N, 1, H, W) -> (N, C, H, W)`."""
    return F.interpolate(features, scale_factor=2.0, mode="nearest") * decoder_map
