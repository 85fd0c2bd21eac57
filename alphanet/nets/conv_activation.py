"""Convolutions that apply their ReLU or ReLU6 as they write their output, for the archive's graph.

A ConvBNReLU in eval mode is one convolution (its BatchNorm folds into the weights) followed by an activation
that reads and writes the whole output once more; in the matting net those clamps took 10% of the call at 1024 px
(docs/deployment.md, "Where the call's time goes"). oneDNN, which runs PyTorch's CPU convolutions, can apply the
activation inside the convolution (a "post-op"), and PyTorch exposes that as
`torch.ops.mkldnn._convolution_pointwise`. Exact up to float rounding. Used where the exporting PyTorch has oneDNN
(every x86 build), otherwise the graph keeps its modules as they are; the archive then needs a PyTorch with oneDNN
where it runs too.
"""
from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from alphanet.nets.layers import ConvBNReLU


class ConvActivation(nn.Module):
    """A trained ConvBNReLU as one oneDNN convolution with its BatchNorm folded into the weights and its ReLU or
    ReLU6 applied on output. Eval mode only. `(N, C_in, H, W) -> (N, C_out, H / stride, W / stride)`."""

    def __init__(self, block: ConvBNReLU):
        super().__init__()
        conv, norm, activation = block
        weight, bias = fold_batchnorm(conv.weight, norm)
        self.weight = nn.Parameter(weight.detach(), requires_grad=False)
        self.bias = nn.Parameter(bias.detach(), requires_grad=False)
        self.padding: List[int] = list(conv.padding)
        self.stride: List[int] = list(conv.stride)
        self.dilation: List[int] = list(conv.dilation)
        self.groups = conv.groups
        self.relu6 = isinstance(activation, nn.ReLU6)

    def forward(self, x: Tensor) -> Tensor:
        # TorchScript types the operator's `Scalar?[]` only from a list declared with this element type
        bounds = torch.jit.annotate(List[Optional[Union[int, float, complex]]], [])
        if self.relu6:  # ReLU6 is oneDNN's "hardtanh" (clip) between 0 and 6
            bounds.append(0.0)
            bounds.append(6.0)
        return torch.ops.mkldnn._convolution_pointwise(x, self.weight, self.bias, self.padding, self.stride,
                                                       self.dilation, self.groups,
                                                       "hardtanh" if self.relu6 else "relu", bounds, None)


def fold_batchnorm(weight: Tensor, norm: nn.BatchNorm2d) -> Tuple[Tensor, Tensor]:
    """Convolution weight `(C_out, C_in, k, k)` and the eval-mode BatchNorm after it -> (weight, bias) of the
    one convolution computing both."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    return weight * scale[:, None, None, None], norm.bias - norm.running_mean * scale


def fuse_conv_activations(module: nn.Module) -> nn.Module:
    """`module` with every ConvBNReLU inside it replaced by a ConvActivation, in place, where PyTorch has oneDNN;
    call it on an eval-mode model whose convolutions' receptive fields were already taken (the row strips' halos
    count nn.Conv2d modules)."""
    if not torch.backends.mkldnn.is_available():
        return module
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if isinstance(child, ConvBNReLU):
                setattr(parent, name, ConvActivation(child))
    return module
