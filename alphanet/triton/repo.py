"""Write a Triton model repository for the PyTorch backend: `python -m alphanet.triton.repo --out model_repository/
[--scripted model_store/alphanet.pt] [--cores 2]`.

Layout, as Triton documents it: <out>/<model>/config.pbtxt and <out>/<model>/1/model.pt, for `alphanet` and
`alphanet_trimap` (alphanet.triton.models). Each model.pt is the exported graph as a submodule of a tiny scripted
module with a fixed signature, the same wrapper the Python-backend server calls. A Triton model directory must
be self-contained, so each file holds its own copy of the weights.
"""
import argparse
from pathlib import Path
from typing import Tuple

import torch
from torch import Tensor, nn

from alphanet.quiet_jit import quiet_jit
from alphanet.triton.config import DEFAULT_CORES, cpu_plan, render_config, write_model_dir
from alphanet.triton.models import AUTO_TRIMAP_MODEL, TENSOR_MODELS, USER_TRIMAP_MODEL

LIBTORCH_PLATFORM = 'platform: "pytorch_libtorch"'


class AutoTrimapMatting(nn.Module):
    def __init__(self, alphanet: torch.jit.ScriptModule):
        super().__init__()
        self.alphanet = alphanet

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor]:
        return self.alphanet(image, None)


class UserTrimapMatting(nn.Module):
    def __init__(self, alphanet: torch.jit.ScriptModule):
        super().__init__()
        self.alphanet = alphanet

    def forward(self, image: Tensor, user_trimap: Tensor) -> Tuple[Tensor, Tensor]:
        return self.alphanet(image, user_trimap)


_WRAPPERS = {AUTO_TRIMAP_MODEL.name: AutoTrimapMatting, USER_TRIMAP_MODEL.name: UserTrimapMatting}


def wrap_for_triton(alphanet: torch.jit.ScriptModule, model_name: str) -> torch.jit.ScriptModule:
    """The exported graph (as torch.jit.load gives it) -> the scripted module served as `model_name`."""
    with quiet_jit():
        return torch.jit.script(_WRAPPERS[model_name](alphanet))


def load_scripted(path: Path) -> torch.jit.ScriptModule:
    with quiet_jit():
        return torch.jit.load(str(path))


def write_libtorch_repository(out: Path, scripted: Path, cores: int = DEFAULT_CORES) -> None:
    alphanet = load_scripted(scripted)
    for spec in TENSOR_MODELS:
        version_dir = write_model_dir(out, spec, render_config(spec, LIBTORCH_PLATFORM, cpu_plan(cores)))
        wrap_for_triton(alphanet, spec.name).save(str(version_dir / "model.pt"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("model_repository"), help="the repository's folder")
    parser.add_argument("--scripted", type=Path, default=Path("model_store/alphanet.pt"),
                        help="the exported TorchScript file (python -m alphanet.export, or `make mar`)")
    parser.add_argument("--cores", type=int, default=DEFAULT_CORES, help="CPU cores of a server")
    args = parser.parse_args()
    if not args.scripted.is_file():
        parser.error(f"{args.scripted} does not exist: export it first (`make mar` or python -m alphanet.export)")
    write_libtorch_repository(args.out, args.scripted, args.cores)
    print(f"wrote {', '.join(spec.name for spec in TENSOR_MODELS)} to {args.out}/")


if __name__ == "__main__":
    main()
