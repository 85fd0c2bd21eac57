"""Small convolution blocks shared by the segmentation and matting networks."""
from torch import nn


class ConvBNReLU(nn.Sequential):
    """Conv -> BatchNorm -> ReLU (or ReLU6). `(N, C_in, H, W) -> (N, C_out, H / stride, W / stride)`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 dilation: int = 1, groups: int = 1, relu6: bool = False):
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True) if relu6 else nn.ReLU(inplace=True),
        )


class SeparableConv(nn.Sequential):
    """Depthwise (optionally atrous) conv + pointwise conv, each with BatchNorm and ReLU: the "atrous separable
    convolution" of DeepLabV3+, also used by the matting decoder. `(N, C_in, H, W) -> (N, C_out, H, W)`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1,
                 relu6: bool = False):
        super().__init__(
            ConvBNReLU(in_channels, in_channels, kernel_size, dilation=dilation, groups=in_channels, relu6=relu6),
            ConvBNReLU(in_channels, out_channels, 1, relu6=relu6),
        )


def kaiming_init(module: nn.Module) -> None:
    """He initialisation for every convolution, unit scale and zero shift for every normalisation layer (the
    paper initialises its new layers this way; there are no ImageNet weights to start from here)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
