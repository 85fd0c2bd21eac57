"""The two large networks computing in bfloat16, for CPUs with native bfloat16 arithmetic (AVX512-BF16, AMX):
there oneDNN's convolutions run two to four times as fast, elsewhere bfloat16 is emulated and slower. Each wrapper
takes and returns float32, so the rest of the graph (resizing, the ED layer, the fusion, the guided filter) stays
float32. Not exact: alpha and the mask move a little (measured in MODEL_CARD.md).

Each wrapper also keeps the network's float32 copy and runs it where the CPU has no bfloat16 convolutions at all
(`mkldnn::_is_mkldnn_bf16_supported`: no AVX512BW/VL/DQ nor AVX-NE-CONVERT, such as AVX2-only CPUs), where torch
refuses them eagerly and a frozen graph crashed the process. The check runs at each call, inside the graph, so a
bf16 archive built on one CPU gives the fp32 archive's exact answers on another (Triton's backend included), for
half as much again in file size."""
import copy

import torch
from torch import Tensor, nn

from alphanet.nets.loop_count import trips
from alphanet.nets.segmenter import DeepLabSegmenter


class _Bfloat16WhereSupported(nn.Module):
    """Holds `net` twice: `net` in bfloat16 and `fp32_net` as given; each subclass's forward picks one."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = copy.deepcopy(net).to(torch.bfloat16)
        self.fp32_net = net


class Bfloat16Matting(_Bfloat16WhereSupported):
    """A matting net in bfloat16 where the CPU has it, else in float32.
    `(N, 3, H, W), (N, 1, H, W)` float32 -> `(N, 1, H, W)` float32."""

    def forward(self, rgb: Tensor, trimap: Tensor) -> Tensor:
        supported = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        alpha = torch.empty(0)
        # Each network in a loop of one trip or none, not an if (trips, alphanet/nets/loop_count.py).
        for _ in range(trips(not supported)):
            alpha = self.fp32_net(rgb, trimap)
        for _ in range(trips(supported)):  # trimap levels 0, 0.5 and 1 are exact in bfloat16
            alpha = self.net(rgb.to(torch.bfloat16), trimap.to(torch.bfloat16)).float()
        return alpha


class Bfloat16Segmentation(_Bfloat16WhereSupported):
    """DeepLabV3+ in bfloat16 where the CPU has it, else in float32. `(N, 3, h, w)` float32 -> `(N, 1, h, w)`
    float32 logits."""

    def forward(self, rgb: Tensor) -> Tensor:
        supported = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        logits = torch.empty(0)
        for _ in range(trips(not supported)):  # as in Bfloat16Matting
            logits = self.fp32_net(rgb)
        for _ in range(trips(supported)):
            logits = self.net(rgb.to(torch.bfloat16)).float()
        return logits


def bfloat16_segmenter(segmenter: nn.Module) -> nn.Module:
    """`segmenter` with each DeepLab network inside it (alone or in the fused stage) computing in bfloat16, in
    place; the person segmenter, a thirtieth of DeepLab's work, stays float32."""
    for deeplab in [module for module in segmenter.modules() if isinstance(module, DeepLabSegmenter)]:
        deeplab.net = Bfloat16Segmentation(deeplab.net)
    return segmenter
