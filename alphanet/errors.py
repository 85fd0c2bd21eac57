"""What answers a request that cannot be answered with an image: `BadRequest`, with its HTTP status and JSON body.

Raised by the option parsing (alphanet.options), the decoding (alphanet.serving.imageio) and the library call
(alphanet.engine); the TorchServe handler and Triton's alphanet_cutout turn it into their error answers. Plain
Python, so that the bulk client, which loads no torch, can use it too.
"""
import json
from http import HTTPStatus


class BadRequest(Exception):
    """A request that cannot be answered with an image: `status` is the HTTP status (4xx, or 500 for the
    server's own failure, see `internal_error`), `kind` a stable name for the problem."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message

    @property
    def phrase(self) -> str:
        return HTTPStatus(self.status).phrase

    def json_body(self) -> bytes:
        """The answer's body, in the shape of TorchServe's own errors so clients parse one format."""
        return json.dumps({"code": self.status, "type": self.kind, "message": self.message}).encode()


def internal_error(error: Exception) -> BadRequest:
    """The answer to an unexpected failure after decoding, a bug rather than the request's fault: 500 with a
    JSON body, which clients can tell from the 503 of an overloaded server and need not retry elsewhere."""
    return BadRequest(500, "internal_error", f"the server failed on this request ({type(error).__name__}: "
                                             f"{error}); its log has the traceback")
