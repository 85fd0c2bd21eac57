"""TorchServe handler for AlphaNet: decode the upload, run the scripted model, encode the answer.

All pixel work lives in the TorchScript file; all decoding and encoding in `alphanet.serving.imageio` (shared with
Triton). This file only speaks TorchServe: where the request's parts are, thread counts, per-request status.

Each request in a batch is answered on its own: a bad one gets its 4xx JSON answer through the per-request
status (`context.set_response_status`) while the others get their images. Raising PredictionException would
fail the whole batch, and TorchServe would wrap our JSON inside its own error's "message" string. Nothing
escapes the handler either: TorchServe answers an exception with a generic 503, which clients take for
overload and retry elsewhere. An unexpected failure of one request is logged with its traceback and answered
500 with a JSON body instead.
"""
import logging
import os

import torch
from ts.torch_handler.base_handler import BaseHandler

from alphanet.errors import BadRequest, internal_error
from alphanet.serving.imageio import DEFAULT_MAX_PIXELS, configure_process, decode_request, encode_answer, matte
from alphanet.serving.worker import TRIM_ABOVE_PIXELS, TrimWhenIdle, release_free_memory, trim_before_call, warm_up

logger = logging.getLogger(__name__)


class AlphaNetHandler(BaseHandler):

    def initialize(self, context):
        """Threads and limits first (torch's inter-op pool can only be sized before it is used), then the
        model, from the archive's serialized file (BaseHandler loads it with torch.jit.load), warmed up."""
        settings = context.model_yaml_config.get("handler", {})
        workers = int(context.model_yaml_config.get("minWorkers", 1))
        threads = _setting("threads", settings, 0)
        threads = threads or max(1, (os.cpu_count() or 1) // workers)  # workers x threads = cores
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(threads)
        self.max_pixels = _setting("max_pixels", settings, DEFAULT_MAX_PIXELS)
        self.trim_above_pixels = _setting("trim_above_pixels", settings, TRIM_ABOVE_PIXELS)
        configure_process(threads, self.max_pixels)
        super().initialize(context)
        warm_up(self.model)  # the graph's optimisation happens here, not in the first requests
        release_free_memory()  # what loading and warming up freed (about 600 MiB, alphanet/serving/worker.py)
        self.trim_when_idle = TrimWhenIdle()  # and what each photo freed, once the worker rests
        logger.info("AlphaNet handler: %d thread(s) per worker, at most %d pixels, heap trimmed before photos of "
                    "more than %d", threads, self.max_pixels, self.trim_above_pixels)

    def preprocess(self, data):
        """Each request -> a DecodedRequest, or the BadRequest that answers it. The image is the multipart
        `image` part or the whole body; see _option for where the output options come from."""
        self.trim_when_idle.request_started()
        requests = []
        for idx, request in enumerate(data):
            headers = {name.lower(): value for name, value in self.context.get_all_request_header(idx).items()}
            requests.append(_answered_or_refused(
                decode_request,
                image=request.get("image", request.get("body")),
                trimap=request.get("trimap"),
                output=_option("output", request, headers),
                bg=_option("bg", request, headers),
                file_format=_option("format", request, headers),
                max_pixels=self.max_pixels))
        return requests

    def inference(self, requests):
        """One model call per image (photos differ in size, so a batch cannot be one tensor)."""
        with torch.inference_mode():
            return [request if isinstance(request, BadRequest) else _answered_or_refused(self._matte, request)
                    for request in requests]

    def _matte(self, request):
        """A decoded request -> what encode_answer takes: the request, the alpha and the trimap used. A large
        photo's call starts from a trimmed heap, which keeps a busy worker's peak down (trim_before_call)."""
        trim_before_call(request.image.shape[0] * request.image.shape[1], self.trim_above_pixels)
        return (request, *matte(self.model, request))

    def postprocess(self, results):
        bodies = []
        for idx, result in enumerate(results):
            answer = result if isinstance(result, BadRequest) else _answered_or_refused(encode_answer, *result)
            if isinstance(answer, BadRequest):
                logger.info("refused (%d): %s", answer.status, answer.message)
                self.context.set_response_status(answer.status, answer.phrase, idx)
                self.context.set_response_content_type(idx, "application/json")
                bodies.append(answer.json_body())
            else:
                self.context.set_response_content_type(idx, answer.content_type)
                bodies.append(answer.body)
        self.trim_when_idle.answered()  # a resting worker holds its model, not the last photo's temporaries
        return bodies


def _setting(name, settings, default):
    """A whole-number handler setting: the environment's ALPHANET_<NAME>, else model-config.yaml's
    `handler: {name: ...}` (`settings`), else `default`."""
    return int(os.environ.get(f"ALPHANET_{name.upper()}", settings.get(name, default)))


def _answered_or_refused(step, *args, **kwargs):
    """`step(...)`, or the BadRequest that answers the request instead: the step's own, or a 500 for anything
    unexpected (a bug), logged with its traceback, so that one request's failure is not the whole batch's."""
    try:
        return step(*args, **kwargs)
    except BadRequest as bad_request:
        return bad_request
    except Exception as error:
        logger.exception("request failed unexpectedly")
        return internal_error(error)


def _option(name, request, headers):
    """Option `name` from a query parameter or multipart form field (TorchServe hands both over as request
    fields, as bytes), else from the header X-<name>; None when neither is there. TorchServe 0.12 drops the
    query string of /predictions/ URLs (it keeps it for /invocations), so headers are the way there."""
    value = request.get(name)
    if value is None:
        return headers.get(f"x-{name}")
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    return str(value)  # a form field the server decoded as text or JSON
