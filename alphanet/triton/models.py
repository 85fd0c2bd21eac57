"""The models AlphaNet serves on Triton and their tensors: names, data types, shapes.

The exported file's forward() takes an optional trimap, and Triton's PyTorch backend accepts no optional inputs
(Triton server issue #6523), so the graph is served under two names (alphanet.triton.repo wraps it once for
each): `alphanet` (image -> alpha, trimap) and `alphanet_trimap` (image + the user's trimap -> alpha, trimap).
`alphanet_cutout` takes encoded files and answers an encoded image, like the TorchServe API; it needs Python
around the graph (alphanet.serving.imageio), so only the Python-backend server (alphanet.triton.server) has it.

Names follow the PyTorch backend's `<name>__<index>` convention: the index is the position in forward()'s
arguments or in the returned tuple (the <name> part repeats the argument's name, for readers).

Plain data, no torch: the server's launcher reads it without loading a deep-learning stack.
"""
from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class TensorSpec:
    name: str
    data_type: str  # as config.pbtxt writes it: TYPE_UINT8, TYPE_FP32, TYPE_STRING (Triton's BYTES)
    dims: Tuple[int, ...]  # -1: any size
    optional: bool = False


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]


IMAGE = TensorSpec("image__0", "TYPE_UINT8", (-1, -1, 3))  # RGB, as the exported forward() takes it
USER_TRIMAP = TensorSpec("user_trimap__1", "TYPE_UINT8", (-1, -1))  # 0 background, 255 foreground, else unknown
ALPHA = TensorSpec("alpha__0", "TYPE_FP32", (-1, -1))
TRIMAP = TensorSpec("trimap__1", "TYPE_FP32", (-1, -1))  # the trimap used: 0, 0.5 or 1

AUTO_TRIMAP_MODEL = ModelSpec(
    "alphanet", "AlphaNet with the trimap it predicts itself: image -> (alpha, trimap).",
    inputs=(IMAGE,), outputs=(ALPHA, TRIMAP))
USER_TRIMAP_MODEL = ModelSpec(
    "alphanet_trimap", "AlphaNet with the user's trimap: (image, user_trimap) -> (alpha, trimap).",
    inputs=(IMAGE, USER_TRIMAP), outputs=(ALPHA, TRIMAP))
TENSOR_MODELS = (AUTO_TRIMAP_MODEL, USER_TRIMAP_MODEL)

# One encoded value each (Triton's BYTES): the same parts and options as a TorchServe request.
CUTOUT_MODEL = ModelSpec(
    "alphanet_cutout", "AlphaNet on image files: (image file, options) -> (encoded answer, its content type).",
    inputs=(TensorSpec("image", "TYPE_STRING", (1,)),
            TensorSpec("trimap", "TYPE_STRING", (1,), optional=True),
            TensorSpec("output", "TYPE_STRING", (1,), optional=True),  # cutout, alpha, composite or trimap
            TensorSpec("bg", "TYPE_STRING", (1,), optional=True),
            TensorSpec("format", "TYPE_STRING", (1,), optional=True)),
    outputs=(TensorSpec("body", "TYPE_STRING", (1,)),
             TensorSpec("content_type", "TYPE_STRING", (1,))))


def tensor_model(model_name: str) -> ModelSpec:
    return next(spec for spec in TENSOR_MODELS if spec.name == model_name)
