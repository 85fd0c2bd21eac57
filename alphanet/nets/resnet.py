"""ResNet18 (He et al., 2016) in plain PyTorch, with the dilated last stage DeepLabV3+ uses for output stride 16."""
from typing import Tuple

from torch import Tensor, nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection. `(N, C_in, H, W) -> (N, C_out, H / stride, W / stride)`."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, dilation, dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def _stage(in_channels: int, out_channels: int, stride: int, dilation: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(in_channels, out_channels, stride, dilation),
                         BasicBlock(out_channels, out_channels, 1, dilation))


class ResNet18(nn.Module):
    """ResNet18 feature extractor.

    `(N, 3, H, W) -> (low_level (N, 64, H/4, W/4), high_level (N, 512, H/16, W/16))`: the last stage keeps
    stride 1 and uses dilation 2 instead, so the high-level map has output stride 16 as in DeepLabV3+.
    """

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1))
        self.layer1 = _stage(64, 64, stride=1, dilation=1)
        self.layer2 = _stage(64, 128, stride=2, dilation=1)
        self.layer3 = _stage(128, 256, stride=2, dilation=1)
        self.layer4 = _stage(256, 512, stride=1, dilation=2)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        low_level = self.layer1(self.stem(x))
        high_level = self.layer4(self.layer3(self.layer2(low_level)))
        return low_level, high_level
