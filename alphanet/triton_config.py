"""config.pbtxt for AlphaNet's Triton models, shared by the PyTorch-backend repository (alphanet.triton_repo) and
the Python-backend one the server runs (alphanet.triton_server), so both agree on names, data types, shapes,
instances and threads. Plain text, no torch.
"""
import shutil
import textwrap
from pathlib import Path
from typing import List, Sequence, Tuple

from .triton_models import ModelSpec, TensorSpec

# The CPU the Kubernetes manifests give a pod (config/k8s-triton-deployment.yaml): this machine's size too.
DEFAULT_CORES = 2
VERSION = "1"

Parameter = Tuple[str, str, str]  # key, value, why (written as a comment above it)


def thread_parameters(cores: int) -> List[Parameter]:
    """The PyTorch backend's thread and mode settings (the Python-backend models read the same keys)."""
    return [
        ("INTRA_OP_THREAD_COUNT", str(cores),
         f"One request uses all the cores a server is given ({cores}): latency first, and a photo is a chain "
         "of large convolutions that split well inside each op."),
        ("INTER_OP_THREAD_COUNT", "1",
         "The graph is one chain (segmentation, trimap, matting, fusion): an inter-op pool would find no "
         "independent ops to run side by side and would only take cores from the intra-op threads."),
        ("INFERENCE_MODE", "true", "No autograd bookkeeping: less memory and time per request."),
    ]


def render_config(spec: ModelSpec, runtime: str, parameters: Sequence[Parameter]) -> str:
    """config.pbtxt text for `spec`; `runtime` is its platform or backend line."""
    lines = [
        f"# {spec.description}",
        "# Written by alphanet.triton_repo / alphanet.triton_server: change them, not this file.",
        f'name: "{spec.name}"',
        runtime,
        "# Photos differ in size and Triton batches only tensors of one shape: one image per request, height",
        "# and width variable (-1).",
        "max_batch_size: 0",
        *_tensors("input", spec.inputs),
        *_tensors("output", spec.outputs),
        "# One CPU instance: a second would split the same cores between two requests (each slower) and hold a",
        "# second set of activations. The models of a server share its cores; alphanet and alphanet_trimap are",
        "# two doors to one graph and a client uses one of them.",
        "instance_group [ { count: 1 kind: KIND_CPU } ]",
    ]
    for key, value, why in parameters:
        lines += [f"# {line}" for line in textwrap.wrap(why, 104)]
        lines += [f'parameters: {{ key: "{key}" value: {{ string_value: "{value}" }} }}']
    return "\n".join(lines) + "\n"


def _tensors(kind: str, tensors: Sequence[TensorSpec]) -> List[str]:
    entries = []
    for tensor in tensors:
        optional = " optional: true" if tensor.optional else ""
        dims = ", ".join(str(d) for d in tensor.dims)
        entries.append(f'  {{ name: "{tensor.name}" data_type: {tensor.data_type} dims: [ {dims} ]{optional} }}')
    return [f"{kind} ["] + [",\n".join(entries)] + ["]"]


def write_model_dir(repository: Path, spec: ModelSpec, config: str) -> Path:
    """A fresh <repository>/<model>/ holding config.pbtxt; returns its version folder (created, empty)."""
    model_dir = repository / spec.name
    shutil.rmtree(model_dir, ignore_errors=True)  # no stale files from an earlier build
    (model_dir / VERSION).mkdir(parents=True)
    (model_dir / "config.pbtxt").write_text(config)
    return model_dir / VERSION
