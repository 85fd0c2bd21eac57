"""Segmentation stages: an RGB image at the capped resolution -> a foreground probability map of the same size.

Each stage runs its network at its own reduced input size and upsamples the result, so AlphaNet does not depend
on which one it holds (the choice is made at export time).
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .deeplab import DeepLabV3Plus
from .resize import resize_bilinear, scaled_size


class DeepLabSegmenter(nn.Module):
    """The paper's DeepLabV3+ (ResNet18). `(1, 3, H, W)` RGB in [0, 1] -> `(1, 1, H, W)` foreground probability.

    The network sees the image with its long side at `input_size` (aspect kept, sides rounded to its stride).
    Default 384: the mask only has to be right to within the ED layer's band, the matting net recovers the detail
    at full resolution, and 384 costs 0.6x of the paper's 496 training size (22 vs 36 GFLOPs).
    """

    def __init__(self, net: DeepLabV3Plus, input_size: int = 384):
        super().__init__()
        self.net = net
        self.input_size = input_size
        self.stride = 16  # DeepLabV3+'s output stride: its input sides are rounded to multiples of it

    def forward(self, rgb: Tensor) -> Tensor:
        height, width = scaled_size(rgb.shape[2], rgb.shape[3], self.input_size)
        size = [max(self.stride, self.stride * int(round(s / self.stride))) for s in (height, width)]
        logits = self.net(resize_bilinear(rgb, size))
        # Upsample logits, not probabilities: the 0.5 contour then follows the network's own interpolation.
        return torch.sigmoid(F.interpolate(logits, size=rgb.shape[2:], mode="bilinear", align_corners=False))
