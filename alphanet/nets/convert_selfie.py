"""Convert a MediaPipe selfie segmentation .tflite into a `SelfieSegmentationNet` checkpoint, and load one back.

    python -m alphanet.nets.convert_selfie --tflite selfie_segmentation.tflite \
        [--out alphanet/weights/selfie_segmentation.pt]

The graph is read with the `tflite` flatbuffer reader: fp16 weights behind DEQUANTIZE ops become fp32 tensors, NHWC
weight layouts become PyTorch's, and each remaining op becomes one op spec of `alphanet.nets.selfie_net` (op types it
does not know are refused rather than approximated). The checkpoint holds the input size, the op specs and the weights
in fp16, which is lossless because the .tflite stores them in fp16.
"""
import argparse
import hashlib
import struct
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import tflite
import torch

from alphanet.nets.selfie_net import SelfieSegmentationNet

DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
TRANSPOSED_CONV_CUSTOM_CODE = "Convolution2DTransposeBias"
# The custom op's options are a raw C struct TfLiteTransposeConvParams {TfLitePadding padding; int stride_width;
# int stride_height;}, where TfLitePadding counts kTfLitePaddingSame = 1, kTfLitePaddingValid = 2.
TFLITE_C_PADDING_SAME = 1
NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}
ACTIVATION_KINDS = {"RELU": "relu", "HARD_SWISH": "hard_swish", "LOGISTIC": "logistic"}
BINARY_KINDS = {"ADD": "add", "MUL": "mul"}

OpSpec = Dict[str, Any]
Weights = Dict[str, torch.Tensor]


class TfliteGraph:
    """The first subgraph of a .tflite file: its ops in execution order, tensor shapes and constant tensors."""

    def __init__(self, path: Path):
        self.model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
        self.subgraph = self.model.Subgraphs(0)
        self.ops = [self.subgraph.Operators(i) for i in range(self.subgraph.OperatorsLength())]
        self.constants = self._read_constants()

    def op_name(self, op) -> str:
        """'CONV_2D', ... for builtin ops, the custom code (e.g. 'Convolution2DTransposeBias') for custom ones."""
        code = self.model.OperatorCodes(op.OpcodeIndex())
        # Builtin codes above 127 live in BuiltinCode, older files only fill DeprecatedBuiltinCode.
        name = tflite.opcode2name(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        return code.CustomCode().decode() if name == "CUSTOM" else name

    def shape(self, tensor_index: int) -> List[int]:
        return self.subgraph.Tensors(tensor_index).ShapeAsNumpy().tolist()

    def graph_input(self) -> int:
        return self.subgraph.Inputs(0)

    def graph_output(self) -> int:
        return self.subgraph.Outputs(0)

    def _read_constants(self) -> Dict[int, np.ndarray]:
        """Tensor index -> value for tensors stored in the file, with DEQUANTIZE outputs already decoded to fp32."""
        dtypes = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
                  tflite.TensorType.INT32: np.int32}
        constants = {}
        for index in range(self.subgraph.TensorsLength()):
            tensor = self.subgraph.Tensors(index)
            buffer = self.model.Buffers(tensor.Buffer())
            if buffer.DataLength() > 0:
                data = buffer.DataAsNumpy().tobytes()
                constants[index] = np.frombuffer(data, dtypes[tensor.Type()]).reshape(self.shape(index))
        for op in self.ops:
            if self.op_name(op) == "DEQUANTIZE":
                constants[op.Outputs(0)] = constants[op.Inputs(0)].astype(np.float32)
        return constants


def same_padding(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """TFLite 'SAME' padding (before, after) of one axis: the output has ceil(size / stride) pixels and an odd total
    padding puts the extra pixel after, e.g. size 256, kernel 3, stride 2 -> (0, 1)."""
    output = -(-size // stride)
    total = max((output - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def builtin_options(op, options_class):
    options = options_class()
    table = op.BuiltinOptions()
    options.Init(table.Bytes, table.Pos)
    return options


def require_no_fused_activation(options, op_name: str) -> None:
    if options.FusedActivationFunction() != tflite.ActivationFunctionType.NONE:
        raise NotImplementedError(f"{op_name} with a fused activation is not supported")


def convert_conv(graph: TfliteGraph, op, op_name: str, input_slots: List[int]) -> Tuple[OpSpec, Weights]:
    """CONV_2D (weights OHWI -> OIHW) or DEPTHWISE_CONV_2D (weights 1HW(C*M) -> (C*M)1HW, one group per input
    channel)."""
    input_shape = graph.shape(op.Inputs(0))  # N, H, W, C
    kernel = graph.constants[op.Inputs(1)]
    bias = graph.constants[op.Inputs(2)]
    depthwise = op_name == "DEPTHWISE_CONV_2D"
    options = builtin_options(op, tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
    require_no_fused_activation(options, op_name)
    if options.DilationHFactor() != 1 or options.DilationWFactor() != 1:
        raise NotImplementedError(f"dilated {op_name} is not supported")
    kernel_size = [kernel.shape[1], kernel.shape[2]]
    stride = [options.StrideH(), options.StrideW()]
    if options.Padding() == tflite.Padding.SAME:
        top, bottom = same_padding(input_shape[1], kernel_size[0], stride[0])
        left, right = same_padding(input_shape[2], kernel_size[1], stride[1])
    else:
        top = bottom = left = right = 0
    weight = kernel.transpose(3, 0, 1, 2) if depthwise else kernel.transpose(0, 3, 1, 2)
    spec = {"type": "conv2d", "input_slots": input_slots, "in_channels": input_shape[3],
            "out_channels": weight.shape[0], "kernel_size": kernel_size, "stride": stride,
            "padding": [left, right, top, bottom], "groups": input_shape[3] if depthwise else 1}
    return spec, {"weight": torch.from_numpy(weight.copy()), "bias": torch.from_numpy(bias.copy())}


def transposed_same_crop(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """Pixels (before, after) that MediaPipe's Convolution2DTransposeBias with 'SAME' padding removes from one axis of
    the full transposed convolution (stride * (size - 1) + kernel pixels): max(0, kernel - (size - 1) % stride - 1)
    in all, the smaller half before."""
    total = max(0, kernel - (size - 1) % stride - 1)
    return total // 2, total - total // 2


def convert_transposed_conv(graph: TfliteGraph, op, input_slots: List[int]) -> Tuple[OpSpec, Weights]:
    """MediaPipe's Convolution2DTransposeBias: weights OHWI -> PyTorch's (in, out, kh, kw)."""
    input_shape = graph.shape(op.Inputs(0))  # N, H, W, C
    kernel = graph.constants[op.Inputs(1)]
    bias = graph.constants[op.Inputs(2)]
    padding, stride_w, stride_h = struct.unpack("<3i", op.CustomOptionsAsNumpy().tobytes()[:12])
    kernel_size = [kernel.shape[1], kernel.shape[2]]
    if padding == TFLITE_C_PADDING_SAME:
        crop = [*transposed_same_crop(input_shape[1], kernel_size[0], stride_h),
                *transposed_same_crop(input_shape[2], kernel_size[1], stride_w)]
    else:
        crop = [0, 0, 0, 0]
    spec = {"type": "transposed_conv2d_bias", "input_slots": input_slots, "in_channels": input_shape[3],
            "out_channels": kernel.shape[0], "kernel_size": kernel_size, "stride": [stride_h, stride_w],
            "crop": crop}
    weight = kernel.transpose(3, 0, 1, 2)
    return spec, {"weight": torch.from_numpy(weight.copy()), "bias": torch.from_numpy(bias.copy())}


def convert_average_pool(op, input_slots: List[int]) -> OpSpec:
    options = builtin_options(op, tflite.Pool2DOptions)
    require_no_fused_activation(options, "AVERAGE_POOL_2D")
    if options.Padding() != tflite.Padding.VALID:
        # SAME would average over only the valid pixels of border windows; the models here never need it.
        raise NotImplementedError("AVERAGE_POOL_2D with SAME padding is not supported")
    return {"type": "average_pool", "input_slots": input_slots,
            "kernel_size": [options.FilterHeight(), options.FilterWidth()],
            "stride": [options.StrideH(), options.StrideW()]}


def convert_mean(graph: TfliteGraph, op, input_slots: List[int]) -> OpSpec:
    options = builtin_options(op, tflite.ReducerOptions)
    if not options.KeepDims():
        # Dropping axes would leave a tensor whose NHWC -> NCHW correspondence later ops cannot rely on.
        raise NotImplementedError("MEAN without keep_dims is not supported")
    axes = graph.constants[op.Inputs(1)].reshape(-1).tolist()
    dims = sorted(NHWC_TO_NCHW_AXIS[axis % 4] for axis in axes)
    return {"type": "mean", "input_slots": input_slots, "dims": dims, "keepdim": True}


def convert_resize_bilinear(graph: TfliteGraph, op, input_slots: List[int]) -> OpSpec:
    options = builtin_options(op, tflite.ResizeBilinearOptions)
    if options.AlignCorners() == options.HalfPixelCenters():
        # Neither flag is TF1's legacy sampling (src = dst * scale), which F.interpolate cannot reproduce; both
        # flags together is invalid in TFLite.
        raise NotImplementedError("RESIZE_BILINEAR needs exactly one of align_corners / half_pixel_centers")
    size = graph.constants[op.Inputs(1)].tolist()
    return {"type": "resize_bilinear", "input_slots": input_slots, "size": size,
            "align_corners": bool(options.AlignCorners())}


def convert_binary(op, op_name: str, input_slots: List[int]) -> OpSpec:
    if len(input_slots) != 2:
        # A constant operand would need its NHWC layout permuted; these models only combine two activations.
        raise NotImplementedError(f"{op_name} with a constant operand is not supported")
    options = builtin_options(op, tflite.AddOptions if op_name == "ADD" else tflite.MulOptions)
    require_no_fused_activation(options, op_name)
    return {"type": "binary", "input_slots": input_slots, "kind": BINARY_KINDS[op_name]}


def convert_op(graph: TfliteGraph, op, op_name: str, input_slots: List[int]) -> Tuple[OpSpec, Weights]:
    """One TFLite op -> (op spec, its weights by parameter name, empty for weightless ops)."""
    if op_name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return convert_conv(graph, op, op_name, input_slots)
    if op_name == TRANSPOSED_CONV_CUSTOM_CODE:
        return convert_transposed_conv(graph, op, input_slots)
    if op_name in ACTIVATION_KINDS:
        return {"type": "activation", "input_slots": input_slots, "kind": ACTIVATION_KINDS[op_name]}, {}
    if op_name in BINARY_KINDS:
        return convert_binary(op, op_name, input_slots), {}
    if op_name == "AVERAGE_POOL_2D":
        return convert_average_pool(op, input_slots), {}
    if op_name == "MEAN":
        return convert_mean(graph, op, input_slots), {}
    if op_name == "RESIZE_BILINEAR":
        return convert_resize_bilinear(graph, op, input_slots), {}
    raise NotImplementedError(f"TFLite op {op_name} is not supported")


def convert_tflite(path: Path) -> SelfieSegmentationNet:
    """Read a selfie segmentation .tflite and return the equivalent module (fp32, eval mode)."""
    graph = TfliteGraph(Path(path))
    _, height, width, _ = graph.shape(graph.graph_input())
    # Value slot of every activation tensor; constants (weights, sizes, axes) are folded into the op specs.
    slot_of_tensor = {graph.graph_input(): 0}
    op_specs, state_dict = [], {}
    for op in graph.ops:
        op_name = graph.op_name(op)
        if op_name == "DEQUANTIZE":
            continue
        tensor_inputs = [op.Inputs(i) for i in range(op.InputsLength())]
        input_slots = [slot_of_tensor[t] for t in tensor_inputs if t not in graph.constants]
        spec, weights = convert_op(graph, op, op_name, input_slots)
        state_dict.update({f"ops.{len(op_specs)}.{name}": value for name, value in weights.items()})
        op_specs.append(spec)
        slot_of_tensor[op.Outputs(0)] = len(op_specs)
    if slot_of_tensor[graph.graph_output()] != len(op_specs):
        raise NotImplementedError("the graph output must be the output of its last op")
    net = SelfieSegmentationNet((height, width), op_specs)
    net.load_state_dict(state_dict)
    return net.eval()


def save_selfie_net(net: SelfieSegmentationNet, path: Path, source: Path) -> None:
    """Save input size, op specs and fp16 weights, plus the name and SHA-256 of the source .tflite."""
    half_weights = {name: value.detach().half() for name, value in net.state_dict().items()}
    for name, value in net.state_dict().items():
        if not torch.equal(half_weights[name].float(), value):
            raise ValueError(f"{name} is not exactly representable in fp16; refusing to save it lossy")
    checkpoint = {
        "input_size": list(net.input_size),
        "op_specs": net.op_specs,
        "state_dict": half_weights,
        "source": {"file": source.name, "sha256": hashlib.sha256(source.read_bytes()).hexdigest()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


def load_selfie_net(path: Path) -> SelfieSegmentationNet:
    """Rebuild the converted selfie segmenter from a checkpoint written by `save_selfie_net` (fp32, eval mode);
    the .tflite file is not needed."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    net = SelfieSegmentationNet(tuple(checkpoint["input_size"]), checkpoint["op_specs"])
    net.load_state_dict({name: value.float() for name, value in checkpoint["state_dict"].items()})
    return net.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflite", type=Path, required=True, help="selfie_segmentation[_landscape].tflite")
    parser.add_argument("--out", type=Path, help="checkpoint path (default: alphanet/weights/<tflite name>.pt)")
    args = parser.parse_args()
    out = args.out or DEFAULT_WEIGHTS_DIR / f"{args.tflite.stem}.pt"
    net = convert_tflite(args.tflite)
    save_selfie_net(net, out, args.tflite)
    parameters = sum(p.numel() for p in net.parameters())
    print(f"{args.tflite.name}: {len(net.ops)} ops, {parameters} weights, input {net.input_size} -> {out} "
          f"({out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
