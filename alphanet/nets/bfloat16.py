"""The two large networks computing in bfloat16, for CPUs with native bfloat16 arithmetic (AVX512-BF16, AMX):
there oneDNN's convolutions run two to four times as fast, elsewhere bfloat16 is emulated and slower. Each wrapper
takes and returns float32, so the rest of the graph (resizing, the ED layer, the fusion, the guided filter) stays
float32. Not exact: alpha and the mask move a little (measured in MODEL_CARD.md)."""
import torch
from torch import Tensor, nn

from alphanet.nets.segmenter import DeepLabSegmenter


class Bfloat16Matting(nn.Module):
    """A matting net in bfloat16. `(N, 3, H, W), (N, 1, H, W)` float32 -> `(N, 1, H, W)` float32."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.to(torch.bfloat16)

    def forward(self, rgb: Tensor, trimap: Tensor) -> Tensor:
        # trimap levels 0, 0.5 and 1 are exact in bfloat16
        return self.net(rgb.to(torch.bfloat16), trimap.to(torch.bfloat16)).float()


class Bfloat16Segmentation(nn.Module):
    """DeepLabV3+ in bfloat16. `(N, 3, h, w)` float32 -> `(N, 1, h, w)` float32 logits."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.to(torch.bfloat16)

    def forward(self, rgb: Tensor) -> Tensor:
        return self.net(rgb.to(torch.bfloat16)).float()


def bfloat16_segmenter(segmenter: nn.Module) -> nn.Module:
    """`segmenter` with each DeepLab network inside it (alone or in the fused stage) computing in bfloat16, in
    place; the person segmenter, a thirtieth of DeepLab's work, stays float32."""
    for deeplab in [module for module in segmenter.modules() if isinstance(module, DeepLabSegmenter)]:
        deeplab.net = Bfloat16Segmentation(deeplab.net)
    return segmenter
