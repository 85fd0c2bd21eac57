"""DeepLabV3+ (Chen et al., 2018) on ResNet18: the segmentation stage that predicts the foreground mask."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alphanet.nets.aspp import ASPP
from alphanet.nets.layers import ConvBNReLU, SeparableConv, kaiming_init
from alphanet.nets.normalize import Normalize
from alphanet.nets.resnet import ResNet18

ASPP_RATES = (6, 12, 18)  # DeepLabV3+'s rates for output stride 16


class DeepLabV3Plus(nn.Module):
    """ResNet18 encoder at output stride 16, ASPP, a decoder fed by the stride-4 low-level features.

    `(N, 3, H, W)` RGB in [0, 1] -> `(N, 1, H, W)` foreground logits.
    """

    def __init__(self):
        super().__init__()
        self.normalize = Normalize()
        self.backbone = ResNet18()
        self.aspp = ASPP(512, 256, ASPP_RATES)
        self.low_level_project = ConvBNReLU(64, 48, 1)
        self.decoder = nn.Sequential(SeparableConv(256 + 48, 256), SeparableConv(256, 256))
        self.classifier = nn.Conv2d(256, 1, 1)
        kaiming_init(self)

    def forward(self, rgb: Tensor) -> Tensor:
        low_level, high_level = self.backbone(self.normalize(rgb))
        context = F.interpolate(self.aspp(high_level), size=low_level.shape[2:], mode="bilinear",
                                align_corners=False)
        features = self.decoder(torch.cat([context, self.low_level_project(low_level)], dim=1))
        return F.interpolate(self.classifier(features), size=rgb.shape[2:], mode="bilinear", align_corners=False)
