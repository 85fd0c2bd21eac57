"""Convert a MediaPipe .tflite (the selfie segmenters, BlazePose's detector and landmark net) into a `TfliteNet`
checkpoint, and load one back.

    python -m alphanet.nets.convert_tflite --tflite selfie_segmentation.tflite \
        [--out alphanet/weights/selfie_segmentation.pt]

The graph is read with the `tflite` flatbuffer reader: fp16 weights behind DEQUANTIZE ops become fp32 tensors (sparse
ones, behind DENSIFY, are expanded first), NHWC weight layouts become PyTorch's, and each remaining op becomes one op
spec of `alphanet.nets.tflite_net` (op types it does not know are refused rather than approximated). The checkpoint
holds the input size, the op specs, the output slots and the weights in fp16, which is lossless because the .tflite
stores them in fp16.
"""
import argparse
import hashlib
import struct
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import tflite
import torch

from alphanet.nets.tflite_net import TfliteNet

DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
TRANSPOSED_CONV_CUSTOM_CODE = "Convolution2DTransposeBias"
# The custom op's options are a raw C struct TfLiteTransposeConvParams {TfLitePadding padding; int stride_width;
# int stride_height;}, where TfLitePadding counts kTfLitePaddingSame = 1, kTfLitePaddingValid = 2.
TFLITE_C_PADDING_SAME = 1
NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}
ACTIVATION_KINDS = {"RELU": "relu", "HARD_SWISH": "hard_swish", "LOGISTIC": "logistic"}
FUSED_ACTIVATION_KINDS = {tflite.ActivationFunctionType.NONE: "none", tflite.ActivationFunctionType.RELU: "relu",
                          tflite.ActivationFunctionType.RELU6: "relu6"}
# DimensionMetadata's array_segments / array_indices union types -> the flatbuffer vector class that reads them.
SPARSE_INDEX_VECTORS = {tflite.SparseIndexVector.Int32Vector: tflite.Int32Vector,
                        tflite.SparseIndexVector.Uint16Vector: tflite.Uint16Vector,
                        tflite.SparseIndexVector.Uint8Vector: tflite.Uint8Vector}
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

    def graph_outputs(self) -> List[int]:
        return [self.subgraph.Outputs(i) for i in range(self.subgraph.OutputsLength())]

    def _read_constants(self) -> Dict[int, np.ndarray]:
        """Tensor index -> value for tensors stored in the file, with DEQUANTIZE outputs already decoded to fp32."""
        dtypes = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
                  tflite.TensorType.INT32: np.int32}
        constants = {}
        for index in range(self.subgraph.TensorsLength()):
            tensor = self.subgraph.Tensors(index)
            buffer = self.model.Buffers(tensor.Buffer())
            if buffer.DataLength() > 0:
                values = np.frombuffer(buffer.DataAsNumpy().tobytes(), dtypes[tensor.Type()])
                sparsity = tensor.Sparsity()
                constants[index] = (values.reshape(self.shape(index)) if sparsity is None
                                    else densify(values, self.shape(index), sparsity))
        for op in self.ops:
            if self.op_name(op) in ("DENSIFY", "DEQUANTIZE"):
                constants[op.Outputs(0)] = constants[op.Inputs(0)].astype(np.float32)
        return constants


def sparse_index_vector(dimension, which: str) -> np.ndarray:
    """A sparse dimension's `array_segments` or `array_indices` as integers."""
    vector_class = SPARSE_INDEX_VECTORS[getattr(dimension, which + "Type")()]
    table = getattr(dimension, which)()
    vector = vector_class()
    vector.Init(table.Bytes, table.Pos)
    return vector.ValuesAsNumpy().astype(np.int64)


def densify(values: np.ndarray, shape: List[int], sparsity) -> np.ndarray:
    """The dense array of a sparse constant stored as TFLite does for pruned weights: dense leading dimensions and
    a compressed (CSR) last one, no blocks, e.g. a 1x1 convolution's `(O, 1, 1, I)` kernel; other layouts are
    refused. Row r's non-zeros are `values[segments[r]:segments[r + 1]]`, at columns `indices[...]`."""
    dimensions = [sparsity.DimMetadata(d) for d in range(sparsity.DimMetadataLength())]
    traversal = sparsity.TraversalOrderAsNumpy().tolist()
    formats = [d.Format() for d in dimensions]
    if (traversal != list(range(len(shape))) or sparsity.BlockMapLength() > 0
            or formats != [tflite.DimensionType.DENSE] * (len(shape) - 1) + [tflite.DimensionType.SPARSE_CSR]):
        raise NotImplementedError(f"sparse tensor layout {formats}, order {traversal} is not supported")
    segments = sparse_index_vector(dimensions[-1], "ArraySegments")
    indices = sparse_index_vector(dimensions[-1], "ArrayIndices")
    dense = np.zeros((int(np.prod(shape[:-1])), shape[-1]), values.dtype)
    rows = np.repeat(np.arange(len(segments) - 1), np.diff(segments))
    dense[rows, indices] = values
    return dense.reshape(shape)


def same_padding(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """TFLite 'SAME' padding (before, after) of one axis: the output has ceil(size / stride) pixels and an odd total
    padding puts the extra pixel after, e.g. size 256, kernel 3, stride 2 -> (0, 1)."""
    output = -(-size // stride)
    total = max((output - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def window_padding(options, input_shape: List[int], kernel_size: List[int], stride: List[int]) -> List[int]:
    """A convolution's or pool's padding [left, right, top, bottom] of an NHWC input: TFLite's 'SAME' or none."""
    if options.Padding() != tflite.Padding.SAME:
        return [0, 0, 0, 0]
    top, bottom = same_padding(input_shape[1], kernel_size[0], stride[0])
    left, right = same_padding(input_shape[2], kernel_size[1], stride[1])
    return [left, right, top, bottom]


def builtin_options(op, options_class):
    options = options_class()
    table = op.BuiltinOptions()
    options.Init(table.Bytes, table.Pos)
    return options


def require_no_fused_activation(options, op_name: str) -> None:
    if options.FusedActivationFunction() != tflite.ActivationFunctionType.NONE:
        raise NotImplementedError(f"{op_name} with a fused activation is not supported")


def with_fused_activation(spec: OpSpec, options, op_name: str) -> OpSpec:
    """`spec` with its op's fused activation, named only where there is one (so that the specs of graphs without,
    such as the selfie nets' committed checkpoints, stay as they were)."""
    kind = FUSED_ACTIVATION_KINDS.get(options.FusedActivationFunction())
    if kind is None:
        raise NotImplementedError(f"{op_name} with fused activation {options.FusedActivationFunction()} "
                                  "is not supported")
    return spec if kind == "none" else {**spec, "activation": kind}


def convert_conv(graph: TfliteGraph, op, op_name: str, input_slots: List[int]) -> Tuple[OpSpec, Weights]:
    """CONV_2D (weights OHWI -> OIHW) or DEPTHWISE_CONV_2D (weights 1HW(C*M) -> (C*M)1HW, one group per input
    channel)."""
    input_shape = graph.shape(op.Inputs(0))  # N, H, W, C
    kernel = graph.constants[op.Inputs(1)]
    bias = graph.constants[op.Inputs(2)]
    depthwise = op_name == "DEPTHWISE_CONV_2D"
    options = builtin_options(op, tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
    if options.DilationHFactor() != 1 or options.DilationWFactor() != 1:
        raise NotImplementedError(f"dilated {op_name} is not supported")
    kernel_size = [kernel.shape[1], kernel.shape[2]]
    stride = [options.StrideH(), options.StrideW()]
    weight = kernel.transpose(3, 0, 1, 2) if depthwise else kernel.transpose(0, 3, 1, 2)
    spec = {"type": "conv2d", "input_slots": input_slots, "in_channels": input_shape[3],
            "out_channels": weight.shape[0], "kernel_size": kernel_size, "stride": stride,
            "padding": window_padding(options, input_shape, kernel_size, stride),
            "groups": input_shape[3] if depthwise else 1}
    weights = {"weight": torch.from_numpy(weight.copy()), "bias": torch.from_numpy(bias.copy())}
    return with_fused_activation(spec, options, op_name), weights


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
    return with_fused_activation({"type": "binary", "input_slots": input_slots, "kind": BINARY_KINDS[op_name]},
                                 options, op_name)


def convert_max_pool(graph: TfliteGraph, op, input_slots: List[int]) -> OpSpec:
    options = builtin_options(op, tflite.Pool2DOptions)
    require_no_fused_activation(options, "MAX_POOL_2D")
    input_shape = graph.shape(op.Inputs(0))  # N, H, W, C
    kernel_size = [options.FilterHeight(), options.FilterWidth()]
    stride = [options.StrideH(), options.StrideW()]
    return {"type": "max_pool", "input_slots": input_slots, "kernel_size": kernel_size, "stride": stride,
            "padding": window_padding(options, input_shape, kernel_size, stride)}


def convert_pad(graph: TfliteGraph, op, input_slots: List[int]) -> OpSpec:
    """PAD's (4, 2) NHWC paddings -> F.pad's NCHW list, last axis first: W, H, then C."""
    paddings = graph.constants[op.Inputs(1)].tolist()
    if paddings[0] != [0, 0]:
        raise NotImplementedError("PAD along the batch axis is not supported")
    return {"type": "pad", "input_slots": input_slots, "padding": [*paddings[2], *paddings[1], *paddings[3]]}


def convert_reshape(graph: TfliteGraph, op, input_slots: List[int]) -> OpSpec:
    shape = graph.shape(op.Outputs(0))
    if len(shape) == 4:
        # An NHWC-ordered rank 4 result would be misread by every image op after it.
        raise NotImplementedError("RESHAPE to rank 4 is not supported")
    return {"type": "reshape", "input_slots": input_slots, "shape": shape}


def convert_concatenation(graph: TfliteGraph, op, input_slots: List[int]) -> OpSpec:
    if len(input_slots) != op.InputsLength():
        raise NotImplementedError("CONCATENATION with a constant operand is not supported")
    options = builtin_options(op, tflite.ConcatenationOptions)
    rank = len(graph.shape(op.Outputs(0)))
    axis = options.Axis() % rank
    spec = {"type": "concatenation", "input_slots": input_slots, "dim": NHWC_TO_NCHW_AXIS[axis] if rank == 4 else axis}
    return with_fused_activation(spec, options, "CONCATENATION")


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
    if op_name == "MAX_POOL_2D":
        return convert_max_pool(graph, op, input_slots), {}
    if op_name == "PAD":
        return convert_pad(graph, op, input_slots), {}
    if op_name == "RESHAPE":
        return convert_reshape(graph, op, input_slots), {}
    if op_name == "DEPTH_TO_SPACE":
        block_size = builtin_options(op, tflite.DepthToSpaceOptions).BlockSize()
        return {"type": "depth_to_space", "input_slots": input_slots, "block_size": block_size}, {}
    if op_name == "CONCATENATION":
        return convert_concatenation(graph, op, input_slots), {}
    raise NotImplementedError(f"TFLite op {op_name} is not supported")


def convert_tflite(path: Path) -> TfliteNet:
    """Read a .tflite and return the equivalent module (fp32, eval mode), its outputs in the file's order."""
    graph = TfliteGraph(Path(path))
    _, height, width, _ = graph.shape(graph.graph_input())
    # Value slot of every activation tensor; constants (weights, sizes, axes) are folded into the op specs.
    slot_of_tensor = {graph.graph_input(): 0}
    op_specs, state_dict = [], {}
    for op in graph.ops:
        op_name = graph.op_name(op)
        if op_name in ("DENSIFY", "DEQUANTIZE"):
            continue
        tensor_inputs = [op.Inputs(i) for i in range(op.InputsLength())]
        input_slots = [slot_of_tensor[t] for t in tensor_inputs if t not in graph.constants]
        spec, weights = convert_op(graph, op, op_name, input_slots)
        state_dict.update({f"ops.{len(op_specs)}.{name}": value for name, value in weights.items()})
        op_specs.append(spec)
        slot_of_tensor[op.Outputs(0)] = len(op_specs)
    output_slots = [slot_of_tensor[tensor] for tensor in graph.graph_outputs()]
    net = TfliteNet((height, width), op_specs, output_slots)
    net.load_state_dict(state_dict)
    return net.eval()


def save_tflite_net(net: TfliteNet, path: Path, source: Path) -> None:
    """Save input size, op specs and fp16 weights, plus the name and SHA-256 of the source .tflite."""
    half_weights = {name: value.detach().half() for name, value in net.state_dict().items()}
    for name, value in net.state_dict().items():
        if not torch.equal(half_weights[name].float(), value):
            raise ValueError(f"{name} is not exactly representable in fp16; refusing to save it lossy")
    checkpoint = {
        "input_size": list(net.input_size),
        "op_specs": net.op_specs,
        "output_slots": net.output_slots,
        "state_dict": half_weights,
        "source": {"file": source.name, "sha256": hashlib.sha256(source.read_bytes()).hexdigest()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


def load_tflite_net(path: Path) -> TfliteNet:
    """Rebuild a converted network from a checkpoint written by `save_tflite_net` (fp32, eval mode); the .tflite file
    is not needed. Checkpoints without output slots (the selfie nets') output their last op."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    net = TfliteNet(tuple(checkpoint["input_size"]), checkpoint["op_specs"], checkpoint.get("output_slots"))
    net.load_state_dict({name: value.float() for name, value in checkpoint["state_dict"].items()})
    return net.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflite", type=Path, required=True,
                        help="selfie_segmentation[_landscape].tflite, pose_detection.tflite or "
                        "pose_landmark_full.tflite")
    parser.add_argument("--out", type=Path, help="checkpoint path (default: alphanet/weights/<tflite name>.pt)")
    args = parser.parse_args()
    out = args.out or DEFAULT_WEIGHTS_DIR / f"{args.tflite.stem}.pt"
    net = convert_tflite(args.tflite)
    save_tflite_net(net, out, args.tflite)
    parameters = sum(p.numel() for p in net.parameters())
    print(f"{args.tflite.name}: {len(net.ops)} ops, {parameters} weights, input {net.input_size} -> {out} "
          f"({out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
