"""The matting net in the form inference runs: `inference_form(net)` rebuilds a trained MattingNet from modules
that compute the same alpha in the trimap's unknown band, the only alpha the fusion uses, up to float rounding,
with far less memory and time (BENCHMARKS.md).

- Full- and half-resolution work goes through strips of rows, each with its convolutions' radius of
  neighbouring rows as context, so temporaries are strip-sized (RowStrips, and the loops below).
- Decoder stages never concatenate their two inputs (SplitDecoderStage).
- The stem's 32-channel features, 290 MB at 1500 px, are freed as soon as the stem has pooled them instead of
  being held until the last decoder stage (StemStage, StemHead).
- The last stage, full resolution's costliest after the stem, computes only the column blocks of each strip that
  hold unknown pixels, with their context, and gives the trimap's 0 or 1 elsewhere (StemHead).
- Each attention module after the stem runs its four branches as one (MergedAttention).
- Each ConvBNReLU is one oneDNN convolution applying its activation on output (ConvActivation).
- Optionally (`precision="bf16"`) the net computes in bfloat16 (alphanet/nets/bfloat16.py): the one change that
  is not exact, and the one that halves the time or better on CPUs with native bfloat16.
"""
import copy
from typing import List, Tuple

import torch
from torch import Tensor, nn

from alphanet.nets.attention import attention_pool, attention_unpool
from alphanet.nets.band_tiles import occupied_cells
from alphanet.nets.bfloat16 import Bfloat16Matting
from alphanet.nets.conv_activation import fold_batchnorm, fuse_conv_activations
from alphanet.nets.layers import ConvBNReLU
from alphanet.nets.merged_attention import MergedAttention
from alphanet.nets.matting_net import DecoderStage, EncoderStage, MattingNet

STRIP_ROWS = 64  # rows per strip: at 1024 px 64 rows ran 0.91 s, 128 rows 0.94-1.14 s (BENCHMARKS.md)
HALO_ROWS = 2  # the decoder's 5x5 depthwise convolution's radius
BAND_BLOCK = 32  # StemHead's column blocks: a strip's blocks that hold band pixels are computed, the others not
KNOWN_LOGIT = 30.0  # StemHead's logit outside the band's blocks: sigmoid(+-30) is the trimap's 1 or 0 in float32


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
        weight, bias = fold_batchnorm(pointwise[0].weight, pointwise[1])
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
        out = empty_channels_last(skip, self.pointwise_x.out_channels, height, skip.shape[3])
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


def empty_channels_last(like: Tensor, channels: int, height: int, width: int) -> Tensor:
    """An uninitialised `(N, channels, height, width)` tensor with `like`'s batch size, dtype and device, in the
    channels-last layout the convolutions write. Made in that layout: converting an empty NCHW tensor would copy
    its garbage, which cost 9% of the call at 1024 px (docs/deployment.md)."""
    return torch.empty([like.shape[0], channels, height, width], dtype=like.dtype, device=like.device,
                       memory_format=torch.channels_last)


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
                out = empty_channels_last(part, part.shape[1], height, x.shape[3])
            out[:, :, start:stop] = part
        return out


class StemStage(nn.Module):
    """The stem's EncoderStage in the form inference runs. The stem convolution and its attention run on the whole
    image (the attention branches' GroupNorm takes statistics over the whole map), the pooling strip by strip,
    and the skip handed to the decoder is the stage's 4-channel input, not its 32 features: StemHead recomputes
    those per strip, so the net's largest tensor is freed when this stage returns instead of being held through
    the whole encoder and decoder. The attention stays an AttentionModule: at full resolution MergedAttention
    measured slower (docs/deployment.md). `(N, 4, H, W) -> (input, (N, 32, H/2, W/2), decoder_map (N, 1, H, W))`.
    """

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
        pooled = empty_channels_last(features, features.shape[1], height // 2, x.shape[3] // 2)
        for start in range(0, height, self.strip_rows):  # even bounds: STRIP_ROWS and H are even
            stop = min(height, start + self.strip_rows)
            pooled[:, :, start // 2:stop // 2] = attention_pool(features[:, :, start:stop],
                                                                encoder_map[:, :, start:stop])
        return x, pooled, decoder_map


class StemHead(nn.Module):
    """The last decoder stage (a SplitDecoderStage) and the 3x3 prediction in the form inference runs, strip by
    strip, and in each strip only on the column runs that hold unknown pixels: the stem features recomputed from
    the net's input rows (StemStage hands over the input, not them), the stage's fusion, then the prediction.

    The fusion copies the trimap wherever it is known, so only the band's alpha is ever used; at full resolution,
    where this stage is the net's costliest after the stem, it computes little else. Each strip's columns go in
    blocks of `block` pixels, and each run of blocks holding a band pixel is computed with the convolutions'
    context on every side: exact in the band (and on the rest of its blocks). Elsewhere the logits are the
    trimap's 0 or 1 (KNOWN_LOGIT), as band-only matting leaves them. No tensor of more than one channel exists at
    full resolution for the whole image.
    `(N, C, H/2, W/2), input (N, 4, H, W) whose last channel is the trimap, decoder_map (N, 1, H, W)
    -> (N, 1, H, W)` alpha logits."""

    def __init__(self, stage: SplitDecoderStage, stem: nn.Module, predict: nn.Conv2d):
        super().__init__()
        self.stage, self.stem, self.predict = stage, stem, predict
        self.halo = receptive_radius(stem) + stage.halo_rows + receptive_radius(predict)
        self.strip_rows = STRIP_ROWS
        self.block = BAND_BLOCK
        self.known_logit = KNOWN_LOGIT

    def forward(self, x: Tensor, net_input: Tensor, decoder_map: Tensor) -> Tensor:
        height, width = net_input.shape[2], net_input.shape[3]
        trimap = net_input[:, 3:]
        out = (trimap - 0.5) * (2 * self.known_logit)  # the band's pixels are all overwritten below
        # (strips, blocks): which blocks hold band pixels of any image in the batch
        band_columns = occupied_cells((trimap == 0.5).any(dim=0, keepdim=True), self.strip_rows, self.block)
        for strip in range(band_columns.shape[0]):
            start = strip * self.strip_rows
            stop = min(height, start + self.strip_rows)
            low, high = max(0, start - self.halo), min(height, stop + self.halo)
            low, high = low - low % 2, high + high % 2  # whole rows of the half-resolution input (H is even)
            for first, last in block_runs(band_columns[strip]):
                left, right = first * self.block, min(width, last * self.block)
                window_left, window_right = max(0, left - self.halo), min(width, right + self.halo)
                window_left, window_right = window_left - window_left % 2, window_right + window_right % 2
                x_window = attention_unpool(x[:, :, low // 2:high // 2, window_left // 2:window_right // 2],
                                            decoder_map[:, :, low:high, window_left:window_right])
                fused = self.stage.fuse(x_window, self.stem(net_input[:, :, low:high, window_left:window_right]))
                out[:, :, start:stop, left:right] = self.predict(fused)[:, :, start - low:stop - low,
                                                                        left - window_left:right - window_left]
        return out


def block_runs(occupied: Tensor) -> List[Tuple[int, int]]:
    """`(B,)` bool -> each run of consecutive True entries as [first, last) indices."""
    runs: List[Tuple[int, int]] = []
    first = -1
    for index in range(occupied.shape[0] + 1):
        inside = index < occupied.shape[0] and bool(occupied[index])
        if inside and first < 0:
            first = index
        elif not inside and first >= 0:
            runs.append((first, index))
            first = -1
    return runs


def receptive_radius(module: nn.Module) -> int:
    """How many rows away an output of a chain of `module`'s convolutions can look: the sum of their radii
    (an upper bound where a residual path skips some)."""
    return sum(m.dilation[0] * (m.kernel_size[0] - 1) // 2 for m in module.modules() if isinstance(m, nn.Conv2d))


PRECISIONS = ("fp32", "bf16")


def inference_form(net: MattingNet, precision: str = "fp32") -> nn.Module:
    """A copy of a trained MattingNet, in eval mode, computing the same alpha in the trimap's unknown band up to
    float rounding (the trimap's 0 or 1 elsewhere, where the fusion uses the trimap) with less memory and time: the
    stem as StemStage, the other encoder stage bodies in RowStrips, decoder stages as SplitDecoderStages, the last
    one and the prediction as StemHead (BENCHMARKS.md), each attention module after the stem as a MergedAttention
    and each ConvBNReLU as a ConvActivation; with `precision="bf16"` wrapped in Bfloat16Matting."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    net = copy.deepcopy(net).eval()
    stem = net.encoder[0].body
    net.encoder[0] = StemStage(net.encoder[0])
    for stage in net.encoder[1:]:
        stage.body = RowStrips(stage.body, receptive_radius(stage.body))
        if stage.attention is not None:
            stage.attention = MergedAttention(stage.attention)
    decoder = [SplitDecoderStage(stage) for stage in net.decoder]
    decoder[-1] = StemHead(decoder[-1], stem, net.predict)
    net.decoder = nn.ModuleList(decoder)
    net.predict = nn.Identity()  # StemHead predicts
    fuse_conv_activations(net)  # after the halos above were taken from the nn.Conv2d modules
    return Bfloat16Matting(net) if precision == "bf16" else net
