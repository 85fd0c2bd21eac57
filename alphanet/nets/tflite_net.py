"""A converted TFLite network (MediaPipe's selfie segmenters, BlazePose's detector and landmark net) as a plain,
scriptable PyTorch module.

The network is rebuilt op by op from the TFLite graph (see `alphanet.nets.convert_tflite`): `TfliteNet`
runs a fixed list of small op modules. Each op reads some earlier values ("slots": slot 0 is the input image,
slot k + 1 the output of op k) and its output becomes the next slot; the graph's outputs are some of the slots. The
list and every op's sizes are plain data (`op_specs`), so the module is rebuilt from a checkpoint without the .tflite
file.

Image tensors (rank 4) are NCHW here where TFLite is NHWC; the converter permutes weights and axes accordingly.
`Reshape` leaves that layout: it flattens in TFLite's NHWC order, and what follows it is plain. Spatial padding, crops,
pool windows and resize sizes are fixed at conversion time for the model's input size, as in the TFLite graph.
"""
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class GraphOp(nn.Module):
    """One op of the graph. `input_slots` are the indices of the values it reads, in the TFLite input order."""

    def __init__(self, input_slots: List[int]):
        super().__init__()
        self.input_slots = input_slots


FUSED_ACTIVATIONS = ("none", "relu", "relu6")


def fused_activation(x: Tensor, kind: str) -> Tensor:
    """TFLite's fused activation of CONV_2D, DEPTHWISE_CONV_2D and ADD: none, RELU or RELU6."""
    if kind == "relu":
        return F.relu(x)
    if kind == "relu6":
        return F.relu6(x)
    return x


class Conv2d(GraphOp):
    """CONV_2D (groups=1) and DEPTHWISE_CONV_2D (groups=channels) with bias, then the fused activation.

    TFLite 'SAME' padding puts the odd pixel at the bottom/right (for stride 2 often 0 before, 1 after), which
    PyTorch's symmetric `padding` cannot express, so the converter computes explicit `padding` =
    [left, right, top, bottom] and it is applied with F.pad.
    `(N, in_channels, H, W) -> (N, out_channels, H_out, W_out)`.
    """

    def __init__(self, input_slots: List[int], in_channels: int, out_channels: int, kernel_size: List[int],
                 stride: List[int], padding: List[int], groups: int, activation: str = "none"):
        super().__init__(input_slots)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kernel_size[0], kernel_size[1]))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.stride = stride
        self.padding = padding
        self.needs_padding = any(p != 0 for p in padding)
        self.groups = groups
        self.activation = activation

    def forward(self, inputs: List[Tensor]) -> Tensor:
        x = inputs[0]
        if self.needs_padding:
            x = F.pad(x, self.padding)
        return fused_activation(F.conv2d(x, self.weight, self.bias, self.stride, 0, 1, self.groups), self.activation)


class TransposedConv2dBias(GraphOp):
    """MediaPipe's custom op `Convolution2DTransposeBias`: a transposed convolution plus bias.

    The op computes the full transposed convolution (size `stride * (in - 1) + kernel`) and, for 'SAME' padding,
    drops `padding_total // 2` rows/columns at the top/left and the rest at the bottom/right; the converter turns that
    into `crop` = [top, bottom, left, right]. `(N, in_channels, H, W) -> (N, out_channels, H_out, W_out)`.
    """

    def __init__(self, input_slots: List[int], in_channels: int, out_channels: int, kernel_size: List[int],
                 stride: List[int], crop: List[int]):
        super().__init__(input_slots)
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels, kernel_size[0], kernel_size[1]))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.stride = stride
        self.crop = crop

    def forward(self, inputs: List[Tensor]) -> Tensor:
        full = F.conv_transpose2d(inputs[0], self.weight, self.bias, self.stride)
        top, bottom, left, right = self.crop[0], self.crop[1], self.crop[2], self.crop[3]
        return full[:, :, top:full.shape[2] - bottom, left:full.shape[3] - right]


class Activation(GraphOp):
    """Element-wise RELU, HARD_SWISH (x * relu6(x + 3) / 6) or LOGISTIC (sigmoid). Shape unchanged."""

    kinds = ("relu", "hard_swish", "logistic")

    def __init__(self, input_slots: List[int], kind: str):
        super().__init__(input_slots)
        if kind not in self.kinds:
            raise ValueError(f"unknown activation {kind!r}, expected one of {self.kinds}")
        self.kind = kind

    def forward(self, inputs: List[Tensor]) -> Tensor:
        if self.kind == "relu":
            return F.relu(inputs[0])
        if self.kind == "hard_swish":
            return F.hardswish(inputs[0])
        return torch.sigmoid(inputs[0])


class Binary(GraphOp):
    """Element-wise ADD or MUL of two values with broadcasting, e.g. `(N, C, H, W) * (N, C, 1, 1)` (squeeze-excite),
    then the fused activation."""

    kinds = ("add", "mul")

    def __init__(self, input_slots: List[int], kind: str, activation: str = "none"):
        super().__init__(input_slots)
        if kind not in self.kinds:
            raise ValueError(f"unknown binary op {kind!r}, expected one of {self.kinds}")
        self.kind = kind
        self.activation = activation

    def forward(self, inputs: List[Tensor]) -> Tensor:
        if self.kind == "add":
            return fused_activation(inputs[0] + inputs[1], self.activation)
        return fused_activation(inputs[0] * inputs[1], self.activation)


class AveragePool(GraphOp):
    """AVERAGE_POOL_2D with 'VALID' padding (in these models the window is the whole feature map).
    `(N, C, H, W) -> (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)`."""

    def __init__(self, input_slots: List[int], kernel_size: List[int], stride: List[int]):
        super().__init__(input_slots)
        self.kernel_size = kernel_size
        self.stride = stride

    def forward(self, inputs: List[Tensor]) -> Tensor:
        return F.avg_pool2d(inputs[0], self.kernel_size, self.stride)


class Mean(GraphOp):
    """MEAN over `dims` (NCHW axes), the landscape model's global average pool: `(N, C, H, W) -> (N, C, 1, 1)`."""

    def __init__(self, input_slots: List[int], dims: List[int], keepdim: bool):
        super().__init__(input_slots)
        self.dims = dims
        self.keepdim = keepdim

    def forward(self, inputs: List[Tensor]) -> Tensor:
        return inputs[0].mean(self.dims, self.keepdim)


class ResizeBilinear(GraphOp):
    """RESIZE_BILINEAR to a fixed `size` = [H_out, W_out]. TFLite's half_pixel_centers=True is PyTorch's
    align_corners=False (both sample at (i + 0.5) * scale - 0.5, clamped at 0); align_corners=True is the same in
    both. `(N, C, H, W) -> (N, C, H_out, W_out)`."""

    def __init__(self, input_slots: List[int], size: List[int], align_corners: bool):
        super().__init__(input_slots)
        self.size = size
        self.align_corners = align_corners

    def forward(self, inputs: List[Tensor]) -> Tensor:
        return F.interpolate(inputs[0], size=self.size, mode="bilinear", align_corners=self.align_corners)


class MaxPool(GraphOp):
    """MAX_POOL_2D; `padding` = [left, right, top, bottom] for 'SAME' (padded pixels never win: -inf).
    `(N, C, H, W) -> (N, C, H_out, W_out)`."""

    def __init__(self, input_slots: List[int], kernel_size: List[int], stride: List[int], padding: List[int]):
        super().__init__(input_slots)
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding

    def forward(self, inputs: List[Tensor]) -> Tensor:
        x = F.pad(inputs[0], self.padding, value=float("-inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride)


class Pad(GraphOp):
    """PAD with zeros; `padding` in F.pad's order for NCHW: [left, right, top, bottom, front, back] (channels too:
    BlazePose's blocks widen their shortcut that way)."""

    def __init__(self, input_slots: List[int], padding: List[int]):
        super().__init__(input_slots)
        self.padding = padding

    def forward(self, inputs: List[Tensor]) -> Tensor:
        return F.pad(inputs[0], self.padding)


class DepthToSpace(GraphOp):
    """DEPTH_TO_SPACE in TFLite's channel order (block row, block column, channel: not pixel_shuffle's, which puts
    the channel first). `(N, b * b * C, H, W) -> (N, C, b * H, b * W)`."""

    def __init__(self, input_slots: List[int], block_size: int):
        super().__init__(input_slots)
        self.block_size = block_size

    def forward(self, inputs: List[Tensor]) -> Tensor:
        x = inputs[0]
        b = self.block_size
        n, c, h, w = x.shape
        x = x.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2)
        return x.reshape(n, c // (b * b), h * b, w * b)


class Reshape(GraphOp):
    """RESHAPE to `shape` (rank 2 or 3: the converter refuses rank 4), flattening an NCHW image tensor in TFLite's
    NHWC order first, e.g. SSD box regressors `(1, 24, 28, 28) -> (1, 1568, 12)`."""

    def __init__(self, input_slots: List[int], shape: List[int]):
        super().__init__(input_slots)
        self.shape = shape

    def forward(self, inputs: List[Tensor]) -> Tensor:
        x = inputs[0]
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        return x.reshape(self.shape)


class Concatenation(GraphOp):
    """CONCATENATION along `dim` (already an NCHW axis for image tensors), with a fused activation."""

    def __init__(self, input_slots: List[int], dim: int, activation: str = "none"):
        super().__init__(input_slots)
        self.dim = dim
        self.activation = activation

    def forward(self, inputs: List[Tensor]) -> Tensor:
        return fused_activation(torch.cat(inputs, self.dim), self.activation)


OP_TYPES = {
    "conv2d": Conv2d,
    "transposed_conv2d_bias": TransposedConv2dBias,
    "activation": Activation,
    "binary": Binary,
    "average_pool": AveragePool,
    "mean": Mean,
    "resize_bilinear": ResizeBilinear,
    "max_pool": MaxPool,
    "pad": Pad,
    "depth_to_space": DepthToSpace,
    "reshape": Reshape,
    "concatenation": Concatenation,
}


def build_op(spec: Dict[str, Any]) -> GraphOp:
    """`spec` is {"type": one of OP_TYPES, **constructor arguments}; weights are left uninitialised."""
    arguments = {key: value for key, value in spec.items() if key != "type"}
    return OP_TYPES[spec["type"]](**arguments)


class TfliteNet(nn.Module):
    """A converted network: `(N, 3, H, W)` RGB at exactly `input_size` = (H, W), scaled as the model expects (the
    selfie nets and the landmark net [0, 1], the pose detector [-1, 1]) -> its outputs.

    `op_specs` (see `build_op`) lists the ops in execution order; `output_slots` are the slots of the graph's outputs
    in TFLite's order (default: the last op's). `forward` gives the first output (the selfie nets' person
    probability `(N, 1, H, W)`), `outputs` all of them.
    """

    def __init__(self, input_size: Tuple[int, int], op_specs: List[Dict[str, Any]],
                 output_slots: Optional[List[int]] = None):
        super().__init__()
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.op_specs = op_specs
        self.output_slots = output_slots if output_slots is not None else [len(op_specs)]
        self.ops = nn.ModuleList([build_op(spec) for spec in op_specs])

    def forward(self, x: Tensor) -> Tensor:
        return self.outputs(x)[0]

    @torch.jit.export
    def outputs(self, x: Tensor) -> List[Tensor]:
        # Paddings, pool windows and resize sizes were fixed for this size: any other size gives wrong results.
        if x.shape[2] != self.input_size[0] or x.shape[3] != self.input_size[1]:
            raise ValueError("the converted network expects input of height x width " + str(self.input_size)
                             + ", got " + str(x.shape))
        values: List[Tensor] = [x]
        for op in self.ops:
            values.append(op([values[slot] for slot in op.input_slots]))
        return [values[slot] for slot in self.output_slots]
