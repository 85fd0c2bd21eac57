"""The matting stage: RGB + trimap -> raw alpha, a MobileNetV2 encoder-decoder whose every 2x2 downsampling and
the matching upsampling are guided by an attention module (the IndexNet layout, with AlphaNet's module)."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from alphanet.nets.aspp import ASPP
from alphanet.nets.attention import AttentionModule, attention_pool, attention_unpool
from alphanet.nets.layers import ConvBNReLU, SeparableConv, kaiming_init
from alphanet.nets.mobilenetv2 import MOBILENETV2_STAGES, mobilenetv2_stage
from alphanet.nets.normalize import Normalize

OUTPUT_STRIDE = 32  # five attention poolings: inputs must be padded to a multiple of this
STEM_CHANNELS = 32
POOLED_STAGES = (1, 2, 3, 5)  # MobileNetV2 stages that originally start with stride 2 (the stem is the fifth)
CONTEXT_RATES = (2, 4, 8)  # ASPP at output stride 32 on 320 px crops, as IndexNet
# Output channels of the decoder stage fed by each encoder stage's skip, stem first. The full-resolution stages
# (decoder and prediction) are kept narrow: at 1024 px a 3x3 32->32 convolution there would cost a third of the net.
DECODER_CHANNELS = (16, 32, 16, 24, 32, 64, 96)


class EncoderStage(nn.Module):
    """A body, then (for a downsampling stage) attention pooling.

    `(N, C_in, H, W) -> (skip (N, C, H, W), output (N, C, H/2, W/2) or the skip, decoder_map (N, 1, H, W) or
    an empty tensor when the stage does not downsample)`.
    """

    def __init__(self, body: nn.Module, channels: int, pooled: bool):
        super().__init__()
        self.body = body
        self.attention: Optional[AttentionModule] = AttentionModule(channels) if pooled else None

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        features = self.body(x)
        attention = self.attention
        if attention is None:
            return features, features, torch.empty(0)
        encoder_map, decoder_map = attention(features)
        return features, attention_pool(features, encoder_map), decoder_map


class DecoderStage(nn.Module):
    """Attention unpooling (when the matching encoder stage pooled), concatenation with that stage's skip, a 5x5
    separable convolution. `(N, C_in, H/2 or H, W/2 or W), skip (N, C_skip, H, W) -> (N, C_out, H, W)`."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.in_channels = in_channels
        self.fuse = SeparableConv(in_channels + skip_channels, out_channels, kernel_size=5, relu6=True)

    def forward(self, x: Tensor, skip: Tensor, decoder_map: Tensor) -> Tensor:
        if decoder_map.numel() > 0:
            x = attention_unpool(x, decoder_map)
        return self.fuse(torch.cat([x, skip], dim=1))


class MattingNet(nn.Module):
    """`(N, 3, H, W)` RGB in [0, 1] and `(N, 1, H, W)` trimap in {0, 0.5, 1}, H and W multiples of 32
    -> `(N, 1, H, W)` raw alpha in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.normalize = Normalize()
        # The stem keeps stride 1 and every MobileNetV2 stage runs at stride 1: attention pooling downsamples.
        encoder = [EncoderStage(ConvBNReLU(4, STEM_CHANNELS, 3, relu6=True), STEM_CHANNELS, pooled=True)]
        in_channels = STEM_CHANNELS
        for index, (expansion, out_channels, repeats) in enumerate(MOBILENETV2_STAGES[:-1]):
            body = mobilenetv2_stage(in_channels, expansion, out_channels, repeats)
            encoder.append(EncoderStage(body, out_channels, pooled=index in POOLED_STAGES))
            in_channels = out_channels
        self.encoder = nn.ModuleList(encoder)
        expansion, out_channels, repeats = MOBILENETV2_STAGES[-1]
        self.bottleneck = mobilenetv2_stage(in_channels, expansion, out_channels, repeats)
        self.context = ASPP(out_channels, 160, CONTEXT_RATES)

        skip_channels = [STEM_CHANNELS] + [c for _, c, _ in MOBILENETV2_STAGES[:-1]]
        decoders, in_channels = [], 160
        for skip, out in zip(reversed(skip_channels), reversed(DECODER_CHANNELS)):
            decoders.append(DecoderStage(in_channels, skip, out))
            in_channels = out
        self.decoder = nn.ModuleList(decoders)
        self.predict = nn.Conv2d(in_channels, 1, 3, padding=1)
        kaiming_init(self)

    def forward(self, rgb: Tensor, trimap: Tensor) -> Tensor:
        # Channels-last lets oneDNN run every convolution, the depthwise ones included, on its fast NHWC kernels:
        # 2.3x faster at 1024 px on 2 cores than NCHW (bench/bench_model.py, BENCHMARKS.md).
        x = torch.cat([self.normalize(rgb), trimap], dim=1).contiguous(memory_format=torch.channels_last)
        skips: List[Tensor] = []
        decoder_maps: List[Tensor] = []
        for stage in self.encoder:
            skip, x, decoder_map = stage(x)
            skips.append(skip)
            decoder_maps.append(decoder_map)
        x = self.context(self.bottleneck(x))
        for offset, stage in enumerate(self.decoder):
            index = len(skips) - 1 - offset
            x = stage(x, skips[index], decoder_maps[index])
        return torch.sigmoid(self.predict(x))
