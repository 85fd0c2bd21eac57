"""`alphanet_cutout`'s answers, in this process: the module Triton's Python stub provides
(triton_python_backend_utils) stood in for by a small fake, and a stand-in graph, so that a failure can be
provoked where no real upload provokes one. tests/test_triton_live.py runs the real server."""
import importlib
import io
import json
import logging
import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image

from tests.stand_ins import failing, half_transparent, png

INVALID_ARG, INTERNAL = "INVALID_ARG", "INTERNAL"
BOUND_TO_THE_FAKE = ("alphanet.triton.backend", "alphanet.triton.cutout")  # forgotten after each test


class FakeTensor:
    def __init__(self, name: str, values: np.ndarray):
        self.name, self.values = name, values

    def as_numpy(self) -> np.ndarray:
        return self.values


class FakeTritonError:
    INVALID_ARG, INTERNAL = INVALID_ARG, INTERNAL

    def __init__(self, message: str, code: str):
        self.message, self.code = message, code


class FakeResponse:
    def __init__(self, output_tensors=None, error=None):
        self.output_tensors, self.error = output_tensors, error


def fake_pb_utils() -> types.ModuleType:
    module = types.ModuleType("triton_python_backend_utils")
    module.Tensor, module.TritonError, module.InferenceResponse = FakeTensor, FakeTritonError, FakeResponse
    module.get_input_tensor_by_name = lambda request, name: request.get(name)
    return module


@pytest.fixture
def cutout_model(monkeypatch):
    """A CutoutModel as `initialize` leaves it (limits set, inference mode on), without a scripted file."""
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", fake_pb_utils())
    cutout = importlib.import_module("alphanet.triton.cutout")
    model = cutout.CutoutModel()
    model.threads, model.inference_mode = 1, True
    model.load({})
    yield model
    for name in BOUND_TO_THE_FAKE:
        sys.modules.pop(name)


def request(image: bytes, output: str = "alpha") -> dict:
    return {"image": FakeTensor("image", np.array([image], dtype=np.object_)),
            "output": FakeTensor("output", np.array([output.encode()], dtype=np.object_))}


def test_a_one_pixel_photo_is_answered_in_every_mode(cutout_model):
    cutout_model.alphanet = half_transparent
    for output in ("cutout", "alpha", "composite", "trimap"):
        (response,) = cutout_model.execute([request(png(1, 1), output)])
        body = response.output_tensors[0].values[0]
        assert response.error is None and Image.open(io.BytesIO(body)).size == (1, 1)


def test_a_broken_file_is_invalid_argument_with_the_json_error(cutout_model):
    cutout_model.alphanet = half_transparent
    (response,) = cutout_model.execute([request(b"BM" + bytes(60))])
    assert response.error.code == INVALID_ARG
    assert json.loads(response.error.message)["code"] == 400


def test_a_model_failure_is_internal_with_a_json_500_and_a_logged_traceback(cutout_model, caplog):
    cutout_model.alphanet = failing
    with caplog.at_level(logging.ERROR):
        failed, refused = cutout_model.execute([request(png(2, 2)), request(b"not an image")])
    assert failed.error.code == INTERNAL
    assert json.loads(failed.error.message) == {"code": 500, "type": "internal_error", "message": (
        "the server failed on this request (RuntimeError: the graph broke); its log has the traceback")}
    assert refused.error.code == INVALID_ARG  # the next request of the batch is answered on its own
    (record,) = caplog.records
    assert record.exc_info[0] is RuntimeError
