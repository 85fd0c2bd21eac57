"""AlphaNet as Triton Python-backend models: what runs inside the server `make serve-triton` starts.

The tritonserver that nvidia-pytriton ships has the Python backend but not the PyTorch one. So the repository
alphanet.triton.server serves holds, for each model, the config.pbtxt of alphanet.triton.config with
`backend: "python"` and a one-line model.py naming a class: TensorModel from here, or CutoutModel
(alphanet.triton.cutout). Each model instance is a process of its own (Triton's Python stub, running
.venv-triton's interpreter) that loads the exported file its config names.

Errors: a request that cannot be answered gets an error response with code INVALID_ARG, which Triton answers
with HTTP 400 (gRPC INVALID_ARGUMENT) and the message; anything unexpected is INTERNAL (HTTP 500), with the
message a model gives it (ServerFault) or else the exception's.
"""
import gc
import json
from pathlib import Path
from typing import List

import torch
import triton_python_backend_utils as pb_utils  # the stub provides it; it exists nowhere else

from alphanet.triton.models import tensor_model
from alphanet.triton.repo import load_scripted, wrap_for_triton

_SCRIPT_VALUE_ERROR = "builtins.ValueError: "


class InvalidInput(Exception):
    """A request the model cannot answer, for a reason the client can fix: HTTP 400 with this message."""


class ServerFault(Exception):
    """A request the model failed on through a fault of its own (a bug): HTTP 500 with this message."""


class AlphaNetModel:
    """Threads and the graph, from the model's config.pbtxt parameters; one response per request."""

    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.parameters = {key: value["string_value"] for key, value in config["parameters"].items()}
        self.threads = int(self.parameters["INTRA_OP_THREAD_COUNT"])
        torch.set_num_threads(self.threads)
        torch.set_num_interop_threads(int(self.parameters["INTER_OP_THREAD_COUNT"]))
        self.inference_mode = self.parameters["INFERENCE_MODE"] == "true"
        self.alphanet = load_scripted(Path(self.parameters["SCRIPTED_FILE"]))
        self.load(args)
        # What is loaded now lives as long as the process: frozen, it is skipped by every garbage collection,
        # the one at exit included, which otherwise took seconds with torch loaded and slowed every stop.
        gc.freeze()

    def load(self, args: dict) -> None:
        """What a model prepares besides the graph."""

    def execute(self, requests: list) -> list:
        return [self._respond(request) for request in requests]

    def _respond(self, request):
        try:
            with torch.inference_mode(self.inference_mode):
                return pb_utils.InferenceResponse(output_tensors=self.answer(request))
        except InvalidInput as invalid:
            return _invalid_argument(str(invalid))
        except ServerFault as fault:
            return _error_response(str(fault), pb_utils.TritonError.INTERNAL)
        except torch.jit.Error as error:
            if _SCRIPT_VALUE_ERROR not in str(error):
                raise
            return _invalid_argument(_script_value_error(error))

    def answer(self, request) -> List["pb_utils.Tensor"]:
        raise NotImplementedError


class TensorModel(AlphaNetModel):
    """`alphanet` or `alphanet_trimap`: tensors in, tensors out, through the same wrapper as the PyTorch-backend
    repository's model.pt."""

    def load(self, args: dict) -> None:
        self.spec = tensor_model(args["model_name"])
        self.wrapper = wrap_for_triton(self.alphanet, self.spec.name)

    def answer(self, request) -> list:
        # A copy: Triton's input buffers are read-only, and torch wants to own what it wraps.
        inputs = [torch.tensor(pb_utils.get_input_tensor_by_name(request, tensor.name).as_numpy())
                  for tensor in self.spec.inputs]
        results = self.wrapper(*inputs)
        return [pb_utils.Tensor(tensor.name, result.numpy()) for tensor, result in zip(self.spec.outputs, results)]


def _invalid_argument(message: str):
    return _error_response(message, pb_utils.TritonError.INVALID_ARG)


def _error_response(message: str, code):
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message, code))


def _script_value_error(error: torch.jit.Error) -> str:
    """The message of a ValueError the graph raised about its inputs: TorchScript rethrows it as a
    torch.jit.Error whose text is the script's traceback, then 'builtins.ValueError: <message>'."""
    return str(error).split(_SCRIPT_VALUE_ERROR, 1)[1].strip()
