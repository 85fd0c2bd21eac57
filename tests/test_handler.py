"""The TorchServe handler's answers to a batch, in this process: TorchServe's own Context and request processors
around a stand-in model, so that a failure can be provoked where no real upload provokes one."""
import io
import json
import logging

import pytest
import torch
from PIL import Image
from ts.context import Context, RequestProcessor

from alphanet.options import OUTPUT_MODES
from alphanet.serving import worker
from alphanet.serving.worker import TRIM_ABOVE_PIXELS, TrimWhenIdle
from handlers import alphanet_handler
from handlers.alphanet_handler import AlphaNetHandler
from tests.stand_ins import failing, half_transparent, png


def handler_with(model) -> AlphaNetHandler:
    """A handler as `initialize` leaves it, with `model` in place of the archive's."""
    handler = AlphaNetHandler()
    handler.model = model
    handler.max_pixels = 1_000_000
    handler.trim_above_pixels = TRIM_ABOVE_PIXELS
    handler.trim_when_idle = TrimWhenIdle()
    return handler


def answer(handler: AlphaNetHandler, bodies: list, output: str = "alpha") -> list:
    """(status, content type, body) for each request of one batch, the image as the body."""
    context = Context("alphanet", "", {}, len(bodies), None, "0.12")
    context.request_processor = [RequestProcessor({"X-Output": output}) for _ in bodies]
    handler.context = context
    outputs = handler.postprocess(handler.inference(handler.preprocess([{"body": body} for body in bodies])))
    return [(context.get_response_status(idx)[0], context.get_response_content_type(idx), output)
            for idx, output in enumerate(outputs)]


def test_each_request_of_a_batch_gets_its_own_answer():
    answers = answer(handler_with(half_transparent), [png(3, 2), b"not an image", png(1, 1)])
    assert [(status, content_type) for status, content_type, _ in answers] == [
        (200, "image/png"), (400, "application/json"), (200, "image/png")]
    assert Image.open(io.BytesIO(answers[2][2])).size == (1, 1)


def test_a_model_failure_is_a_logged_500_with_a_json_body_for_that_request_only(caplog):
    with caplog.at_level(logging.ERROR, logger=alphanet_handler.__name__):
        answers = answer(handler_with(failing), [png(3, 2), b"not an image"])
    (status, content_type, body), refused = answers
    assert (status, content_type) == (500, "application/json")
    assert json.loads(body) == {"code": 500, "type": "internal_error", "message": (
        "the server failed on this request (RuntimeError: the graph broke); its log has the traceback")}
    assert refused[0] == 400
    (record,) = caplog.records
    assert record.exc_info[0] is RuntimeError  # the traceback goes to the log


@pytest.mark.parametrize("step", ["decode_request", "encode_answer"])
def test_a_failure_before_or_after_the_model_is_a_500_too(monkeypatch, step):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(alphanet_handler, step, broken)
    ((status, _, body),) = answer(handler_with(half_transparent), [png(2, 2)])
    assert status == 500 and "ZeroDivisionError: division by zero" in json.loads(body)["message"]


@pytest.mark.parametrize("output", OUTPUT_MODES)
def test_a_one_pixel_photo_is_answered_in_every_output_mode(output):
    ((status, _, body),) = answer(handler_with(half_transparent), [png(1, 1)], output)
    assert status == 200 and Image.open(io.BytesIO(body)).size == (1, 1)


def test_the_heap_is_trimmed_before_a_photo_above_the_handlers_threshold_only(monkeypatch):
    trims = []
    monkeypatch.setattr(worker, "release_free_memory", lambda: trims.append("trim") or True)
    handler = handler_with(half_transparent)
    handler.trim_above_pixels = 6
    answer(handler, [png(3, 2), png(2, 2)])  # 6 and 4 pixels
    assert trims == []
    answer(handler, [png(2, 2), png(7, 1), png(3, 3)])  # 4, 7 and 9 pixels
    assert trims == ["trim", "trim"]


def test_a_setting_comes_from_the_environment_then_the_model_config_then_the_default(monkeypatch):
    monkeypatch.delenv("ALPHANET_TRIM_ABOVE_PIXELS", raising=False)
    assert alphanet_handler._setting("trim_above_pixels", {}, 7) == 7
    assert alphanet_handler._setting("trim_above_pixels", {"trim_above_pixels": 5}, 7) == 5
    monkeypatch.setenv("ALPHANET_TRIM_ABOVE_PIXELS", "0")
    assert alphanet_handler._setting("trim_above_pixels", {"trim_above_pixels": 5}, 7) == 0
