"""The matting stage: RGB + trimap -> raw alpha, a MobileNetV2 encoder-decoder whose every 2x2 downsampling and
the matching upsampling are guided by an attention module (the IndexNet layout, with AlphaNet's module)."""
import copy
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from .aspp import ASPP
from .attention import AttentionModule, attention_pool, attention_unpool
from .layers import ConvBNReLU, SeparableConv, kaiming_init
from .mobilenetv2 import MOBILENETV2_STAGES, mobilenetv2_stage
from .normalize import Normalize

OUTPUT_STRIDE = 32  # five attention poolings: inputs must be padded to a multiple of this
STEM_CHANNELS = 32
POOLED_STAGES = (1, 2, 3, 5)  # MobileNetV2 stages that originally start with stride 2 (the stem is the fifth)
CONTEXT_RATES = (2, 4, 8)  # ASPP at output stride 32 on 320 px crops, as IndexNet
# Output channels of the decoder stage fed by each encoder stage's skip, stem first. The full-resolution stages
# (decoder and prediction) are kept narrow: at 1024 px a 3x3 32->32 convolution there would cost a third of the net.
DECODER_CHANNELS = (16, 32, 16, 24, 32, 64, 96)
# The inference form's decoder (SplitDecoderStage) works through rows in strips, each with the 5x5 depthwise
# convolution's radius of neighbouring rows as context.
STRIP_ROWS = 128
HALO_ROWS = 2


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


class SplitDecoderStage(nn.Module):
    """A trained DecoderStage in the form inference runs: the 5x5 depthwise convolution applied to the unpooled
    input and to the skip separately, and their pointwise convolutions summed. That equals the separable
    convolution of the concatenation (a depthwise convolution works per channel, a pointwise one sums over
    channels), but never makes the concatenation or its depthwise output, the largest tensors of the whole net
    at full resolution. It also works through the rows in strips of STRIP_ROWS, each with HALO_ROWS of its
    neighbours' rows as context, so its temporaries are strip-sized: exact, because only the depthwise
    convolution looks at other rows, HALO_ROWS (its radius) away at most. The pointwise BatchNorm is folded
    into the pointwise weights; eval mode only. Same signature and shapes as DecoderStage."""


    def __init__(self, stage: DecoderStage):
        super().__init__()
        in_channels = stage.in_channels
        depthwise, pointwise = stage.fuse[0], stage.fuse[1]
        self.depthwise_x = _depthwise_channels(depthwise, 0, in_channels)
        self.depthwise_skip = _depthwise_channels(depthwise, in_channels, depthwise[0].in_channels)
        weight, bias = _fold_batchnorm(pointwise[0].weight, pointwise[1])
        self.pointwise_x = nn.Conv2d(in_channels, weight.shape[0], 1)
        self.pointwise_skip = nn.Conv2d(weight.shape[1] - in_channels, weight.shape[0], 1, bias=False)
        with torch.no_grad():
            self.pointwise_x.weight.copy_(weight[:, :in_channels])
            self.pointwise_x.bias.copy_(bias)
            self.pointwise_skip.weight.copy_(weight[:, in_channels:])
        self.activation = pointwise[2]
        self.strip_rows, self.halo_rows = STRIP_ROWS, HALO_ROWS

    def forward(self, x: Tensor, skip: Tensor, decoder_map: Tensor) -> Tensor:
        unpooled = decoder_map.numel() > 0
        height = skip.shape[2]
        out = torch.empty([skip.shape[0], self.pointwise_x.out_channels, height, skip.shape[3]],
                          dtype=skip.dtype, device=skip.device).contiguous(memory_format=torch.channels_last)
        for start in range(0, height, self.strip_rows):
            stop = min(height, start + self.strip_rows)
            low, high = max(0, start - self.halo_rows), min(height, stop + self.halo_rows)
            if unpooled:  # whole rows of the half-resolution input: even bounds (height is even when pooled)
                low, high = low - low % 2, high + high % 2
                x_rows = attention_unpool(x[:, :, low // 2:high // 2], decoder_map[:, :, low:high])
            else:
                x_rows = x[:, :, low:high]
            fused = self.fuse(x_rows, skip[:, :, low:high])
            out[:, :, start:stop] = fused[:, :, start - low:stop - low]
        return out

    def fuse(self, x: Tensor, skip: Tensor) -> Tensor:
        """The stage's separable convolution of the unpooled input rows and the skip rows, same rows out."""
        x = self.pointwise_x(self.depthwise_x(x))  # frees the unpooled input before the skip's half runs
        return self.activation(x + self.pointwise_skip(self.depthwise_skip(skip)))


def _depthwise_channels(block: nn.Sequential, start: int, stop: int) -> ConvBNReLU:
    """Channels [start, stop) of a depthwise ConvBNReLU, as a ConvBNReLU of their own (eval mode)."""
    conv, norm, activation = block
    part = ConvBNReLU(stop - start, stop - start, conv.kernel_size[0], dilation=conv.dilation[0],
                      groups=stop - start, relu6=isinstance(activation, nn.ReLU6)).eval()
    with torch.no_grad():
        part[0].weight.copy_(conv.weight[start:stop])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(part[1], name).copy_(getattr(norm, name)[start:stop])
    part[1].eps = norm.eps
    return part


def _fold_batchnorm(weight: Tensor, norm: nn.BatchNorm2d) -> Tuple[Tensor, Tensor]:
    """Convolution weight `(C_out, C_in, k, k)` and the eval-mode BatchNorm after it -> (weight, bias) of the
    one convolution computing both."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    return weight * scale[:, None, None, None], norm.bias - norm.running_mean * scale


class RowStrips(nn.Module):
    """Runs `body`, whose every output row depends on input rows at most `halo` away (stride-1 convolutions
    and per-pixel operations, BatchNorm in eval mode), strip by strip: each strip of STRIP_ROWS rows with `halo`
    rows of context on each side, cropped back. Exact, and the body's temporaries (MobileNetV2's 6x expanded
    features) are strip-sized. `(N, C, H, W) -> (N, C_out, H, W)`."""

    def __init__(self, body: nn.Module, halo: int):
        super().__init__()
        self.body = body
        self.halo, self.strip_rows = halo, STRIP_ROWS

    def forward(self, x: Tensor) -> Tensor:
        height = x.shape[2]
        out = torch.empty(0)
        for start in range(0, height, self.strip_rows):
            stop = min(height, start + self.strip_rows)
            low, high = max(0, start - self.halo), min(height, stop + self.halo)
            part = self.body(x[:, :, low:high])[:, :, start - low:stop - low]
            if start == 0:
                out = part.new_empty([x.shape[0], part.shape[1], height, x.shape[3]])
                out = out.contiguous(memory_format=torch.channels_last)
            out[:, :, start:stop] = part
        return out


class StemStage(nn.Module):
    """The stem's EncoderStage in the form inference runs. The stem convolution and its attention run on the whole
    image (the attention branches' GroupNorm takes statistics over the whole map), the pooling strip by strip,
    and the skip handed to the decoder is the stage's 4-channel input, not its 32 features: StemHead recomputes
    those per strip, so the net's largest tensor is freed when this stage returns instead of being held through
    the whole encoder and decoder. `(N, 4, H, W) -> (input, (N, 32, H/2, W/2), decoder_map (N, 1, H, W))`."""

    def __init__(self, stage: EncoderStage):
        super().__init__()
        assert stage.attention is not None, "the stem pools"
        self.stem = stage.body
        self.attention = stage.attention
        self.strip_rows = STRIP_ROWS

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        features = self.stem(x)
        encoder_map, decoder_map = self.attention(features)
        height = x.shape[2]
        pooled = features.new_empty([x.shape[0], features.shape[1], height // 2, x.shape[3] // 2])
        pooled = pooled.contiguous(memory_format=torch.channels_last)
        for start in range(0, height, self.strip_rows):  # even bounds: STRIP_ROWS and H are even
            stop = min(height, start + self.strip_rows)
            pooled[:, :, start // 2:stop // 2] = attention_pool(features[:, :, start:stop],
                                                                encoder_map[:, :, start:stop])
        return x, pooled, decoder_map


class StemHead(nn.Module):
    """The last decoder stage (a SplitDecoderStage) and the 3x3 prediction in the form inference runs, strip by
    strip: the stem features recomputed from the net's input rows (StemStage hands over the input, not them),
    the stage's fusion, then the prediction. No tensor of more than one channel exists at full resolution for the
    whole image. Exact: each strip carries the radius of all three convolutions' context.
    `(N, C, H/2, W/2), input (N, 4, H, W), decoder_map (N, 1, H, W) -> (N, 1, H, W)` alpha logits."""

    def __init__(self, stage: SplitDecoderStage, stem: nn.Module, predict: nn.Conv2d):
        super().__init__()
        self.stage, self.stem, self.predict = stage, stem, predict
        self.halo = receptive_radius(stem) + stage.halo_rows + receptive_radius(predict)
        self.strip_rows = STRIP_ROWS

    def forward(self, x: Tensor, net_input: Tensor, decoder_map: Tensor) -> Tensor:
        height = net_input.shape[2]
        out = net_input.new_empty([net_input.shape[0], 1, height, net_input.shape[3]])
        for start in range(0, height, self.strip_rows):
            stop = min(height, start + self.strip_rows)
            low, high = max(0, start - self.halo), min(height, stop + self.halo)
            low, high = low - low % 2, high + high % 2  # whole rows of the half-resolution input (H is even)
            x_rows = attention_unpool(x[:, :, low // 2:high // 2], decoder_map[:, :, low:high])
            fused = self.stage.fuse(x_rows, self.stem(net_input[:, :, low:high]))
            out[:, :, start:stop] = self.predict(fused)[:, :, start - low:stop - low]
        return out


def receptive_radius(module: nn.Module) -> int:
    """How many rows away an output of a chain of `module`'s convolutions can look: the sum of their radii
    (an upper bound where a residual path skips some)."""
    return sum(m.dilation[0] * (m.kernel_size[0] - 1) // 2 for m in module.modules() if isinstance(m, nn.Conv2d))


def inference_form(net: "MattingNet") -> "MattingNet":
    """A copy of a trained MattingNet, in eval mode, computing the same alpha up to float rounding with less
    memory: the stem as StemStage, the other encoder stage bodies in RowStrips, decoder stages as
    SplitDecoderStages, the last one and the prediction as StemHead (BENCHMARKS.md)."""
    net = copy.deepcopy(net).eval()
    stem = net.encoder[0].body
    net.encoder[0] = StemStage(net.encoder[0])
    for stage in net.encoder[1:]:
        stage.body = RowStrips(stage.body, receptive_radius(stage.body))
    decoder = [SplitDecoderStage(stage) for stage in net.decoder]
    decoder[-1] = StemHead(decoder[-1], stem, net.predict)
    net.decoder = nn.ModuleList(decoder)
    net.predict = nn.Identity()  # StemHead predicts
    return net


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
