"""`alphanet_cutout` on Triton's Python backend: the TorchServe API's request parts in (image file, optional
trimap file and output options, each a BYTES value), its answer out (the encoded image and its content type).
Decoding, limits, the model's call and encoding are alphanet.serving.imageio's, as in the TorchServe handler; a
BadRequest (alphanet.errors) comes back as HTTP 400 whose message is the TorchServe error body (its JSON with
code, type and message), and an unexpected failure, logged with its traceback, as HTTP 500 whose message is the
handler's JSON for it.

A module of its own so that only this model's process loads imageio's stack (Pillow, pymatting, numba).
"""
import logging
import os
from typing import Optional

import numpy as np
import triton_python_backend_utils as pb_utils  # the stub provides it; it exists nowhere else

from alphanet.errors import BadRequest, internal_error
from alphanet.serving.imageio import DEFAULT_MAX_PIXELS, configure_process, decode_request, encode_answer, matte
from alphanet.triton.backend import AlphaNetModel, InvalidInput, ServerFault
from alphanet.triton.models import CUTOUT_MODEL

logger = logging.getLogger(__name__)


class CutoutModel(AlphaNetModel):

    def load(self, args: dict) -> None:
        self.max_pixels = int(os.environ.get("ALPHANET_MAX_PIXELS", DEFAULT_MAX_PIXELS))  # as for TorchServe
        configure_process(self.threads, self.max_pixels)

    def answer(self, request) -> list:
        try:
            answer = self._encoded_answer(request)
        except BadRequest as bad_request:
            raise InvalidInput(bad_request.json_body().decode()) from None
        except Exception as error:
            logger.exception("alphanet_cutout: request failed unexpectedly")
            raise ServerFault(internal_error(error).json_body().decode()) from None
        body, content_type = (tensor.name for tensor in CUTOUT_MODEL.outputs)
        return [pb_utils.Tensor(body, np.array([answer.body], dtype=np.object_)),
                pb_utils.Tensor(content_type, np.array([answer.content_type.encode()], dtype=np.object_))]

    def _encoded_answer(self, request):
        """The request's parts -> the Answer, as the TorchServe handler makes it; BadRequest if it cannot be."""
        decoded = decode_request(image=_bytes(request, "image"), trimap=_bytes(request, "trimap"),
                                 output=_text(request, "output"), bg=_text(request, "bg"),
                                 file_format=_text(request, "format"), max_pixels=self.max_pixels)
        return encode_answer(decoded, *matte(self.alphanet, decoded))


def _bytes(request, name: str) -> Optional[bytes]:
    """The single value of BYTES input `name` (Triton checked its shape, [1]); None when it was not sent."""
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return None if tensor is None else bytes(tensor.as_numpy()[0])


def _text(request, name: str) -> Optional[str]:
    value = _bytes(request, name)
    return None if value is None else value.decode("utf-8", errors="replace")
