"""MobileNetV2 (Sandler et al., 2018) building blocks, width multiplier 1.0, in plain PyTorch."""
from typing import List

from torch import Tensor, nn

from alphanet.nets.layers import ConvBNReLU

# (expansion t, output channels c, repeats n) of each MobileNetV2 stage after the 32-channel stem.
# Stages 2, 3, 4 and 6 (0-based: 1, 2, 3, 5) are the ones that originally start with stride 2.
MOBILENETV2_STAGES = ((1, 16, 1), (6, 24, 2), (6, 32, 3), (6, 64, 4), (6, 96, 3), (6, 160, 3), (6, 320, 1))


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise 3x3 -> linear project (1x1), residual when shapes allow.
    `(N, C_in, H, W) -> (N, C_out, H, W)` (always stride 1 here: AlphaNet downsamples with attention pooling)."""

    def __init__(self, in_channels: int, out_channels: int, expansion: int):
        super().__init__()
        hidden = in_channels * expansion
        layers: List[nn.Module] = []
        if expansion != 1:
            layers.append(ConvBNReLU(in_channels, hidden, 1, relu6=True))
        layers += [
            ConvBNReLU(hidden, hidden, 3, groups=hidden, relu6=True),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.block = nn.Sequential(*layers)
        self.use_residual = in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        if self.use_residual:
            return x + self.block(x)
        return self.block(x)


def mobilenetv2_stage(in_channels: int, expansion: int, out_channels: int, repeats: int) -> nn.Sequential:
    """One MobileNetV2 stage of `repeats` inverted residual blocks. `(N, C_in, H, W) -> (N, C_out, H, W)`."""
    blocks = [InvertedResidual(in_channels if i == 0 else out_channels, out_channels, expansion)
              for i in range(repeats)]
    return nn.Sequential(*blocks)
