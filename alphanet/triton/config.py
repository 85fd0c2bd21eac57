"""config.pbtxt for AlphaNet's Triton models, shared by the PyTorch-backend repository (alphanet.triton.repo) and
the Python-backend one the server runs (alphanet.triton.server), so both agree on names, data types, shapes,
instances and threads. Plain text, no torch.
"""
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple

from alphanet.triton.models import ModelSpec, TensorSpec

# The CPU the Kubernetes manifests give a pod (config/k8s-triton-deployment.yaml): this machine's size too.
DEFAULT_CORES = 2
VERSION = "1"

Parameter = Tuple[str, str, str]  # key, value, why (written as a comment above it)


@dataclass(frozen=True)
class CpuPlan:
    """How a server's cores are spent: `instances` copies of each model, each running one request at a time on
    the threads its parameters say."""
    instances: int
    parameters: List[Parameter]


def cpu_plan(cores: int) -> CpuPlan:
    """One single-threaded instance per core (the PyTorch backend's parameter keys; the Python-backend models
    read the same ones)."""
    return CpuPlan(instances=cores, parameters=[
        ("INTRA_OP_THREAD_COUNT", "1",
         "One thread per instance, so two requests use both cores without sharing them. Measured on the 2-core "
         "development machine (busy, load 8 to 10), a 1024 px photo with an unknown band took 9 to 12 s on 1 "
         "thread and 18 to 23 s on 2 (OpenMP threads wait for each other whenever a core is taken). TorchServe "
         "runs 2 workers x 1 thread for the same reason."),
        ("INTER_OP_THREAD_COUNT", "1",
         "The graph is one chain (segmentation, trimap, matting, fusion): an inter-op pool would find no "
         "independent ops to run side by side and would only take cores from the instances."),
        ("INFERENCE_MODE", "true", "No autograd bookkeeping: less memory and time per request."),
    ])


def render_config(spec: ModelSpec, runtime: str, plan: CpuPlan, extra: Sequence[Parameter] = ()) -> str:
    """config.pbtxt text for `spec`; `runtime` is its platform or backend line."""
    lines = [
        f"# {spec.description}",
        "# Written by alphanet.triton.repo / alphanet.triton.server: change them, not this file.",
        f'name: "{spec.name}"',
        runtime,
        "# Photos differ in size and Triton batches only tensors of one shape: one image per request, height",
        "# and width variable (-1).",
        "max_batch_size: 0",
        *_tensors("input", spec.inputs),
        *_tensors("output", spec.outputs),
        f"# {plan.instances} CPU instances, one per core: {plan.instances} requests run side by side, each on its "
        "own core.",
        "# The models of a server share its cores: alphanet and alphanet_trimap are two doors to one graph.",
        f"instance_group [ {{ count: {plan.instances} kind: KIND_CPU }} ]",
    ]
    for key, value, why in [*plan.parameters, *extra]:
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
