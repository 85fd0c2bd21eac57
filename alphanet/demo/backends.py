"""Where the page's requests go: TorchServe's inference API, or Triton's `alphanet_cutout` model.

The page sends every request in the form TorchServe takes (multipart: `image`, optional `trimap`, `output`) and
reads every answer in the form TorchServe gives: the image, or a JSON error `{"code", "type", "message"}`.
TorchServe gets the request as it is; for Triton it is rewritten into the v2 protocol and the answer back.
"""
import email.parser
import email.policy
import json
import struct
from dataclasses import dataclass
from typing import Optional

import requests

# Above the archive's 60 s response timeout, so that a slow answer is reported by the server, not cut short here.
REQUEST_TIMEOUT_S = 120
CUTOUT_MODEL = "alphanet_cutout"


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes


def error_reply(status: int, kind: str, message: str) -> Reply:
    """An error in the shape of the API's own, so that the page reads one format."""
    return Reply(status, "application/json", json.dumps({"code": status, "type": kind, "message": message}).encode())


def unreachable(label: str, error: requests.RequestException, start_command: str) -> Reply:
    return error_reply(502, "server_unreachable", f"{label} does not answer ({type(error).__name__}): is it "
                                                  f"running? `{start_command}` starts it")


class TorchServe:
    """TorchServe's inference API at `url` (http://HOST:8080). The page's request goes on unchanged, with the
    inference key it carries (the production profile's token authorization)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.label = f"TorchServe at {self.url}"

    def forward(self, form: bytes, content_type: str, authorization: Optional[str]) -> Reply:
        headers = {"Content-Type": content_type}
        if authorization:
            headers["Authorization"] = authorization
        try:
            answer = requests.post(f"{self.url}/predictions/alphanet", data=form, headers=headers,
                                   timeout=REQUEST_TIMEOUT_S)
        except requests.RequestException as error:
            return unreachable(self.label, error, "make serve")
        # TorchServe's own refusals (413 for a body over max_request_size) may come without a type or body
        return Reply(answer.status_code, answer.headers.get("Content-Type", "text/plain"), answer.content)


class Triton:
    """Triton's `alphanet_cutout` at `url` (http://HOST:8000), which takes the API's request parts as BYTES
    inputs of shape [1] and answers `body` and `content_type`. Requests and answers use the v2 protocol's
    binary-data extension: a JSON header, then each value as a 4-byte little-endian length and its bytes.
    This server has no keys: an `authorization` the page sends is not passed on."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.label = f"Triton's {CUTOUT_MODEL} at {self.url}"

    def forward(self, form: bytes, content_type: str, authorization: Optional[str]) -> Reply:
        header, values = v2_request(form_fields(form, content_type))
        try:
            answer = requests.post(f"{self.url}/v2/models/{CUTOUT_MODEL}/infer", data=header + values,
                                   headers={"Inference-Header-Content-Length": str(len(header)),
                                            "Content-Type": "application/octet-stream"},
                                   timeout=REQUEST_TIMEOUT_S)
        except requests.RequestException as error:
            return unreachable(self.label, error, "make serve-triton")
        if answer.status_code != 200:
            return triton_error(answer)
        outputs = v2_outputs(answer)
        return Reply(200, outputs["content_type"].decode(), outputs["body"])


def form_fields(form: bytes, content_type: str) -> dict:
    """A multipart/form-data body -> {field name: its bytes}."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + form)
    return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in message.iter_parts()}


def v2_request(fields: dict) -> tuple:
    """{input name: bytes} -> (the JSON header, the values after it), each input a BYTES tensor of shape [1]."""
    values = [struct.pack("<I", len(value)) + value for value in fields.values()]
    inputs = [{"name": name, "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": len(value)}}
              for name, value in zip(fields, values)]
    header = {"inputs": inputs, "outputs": [{"name": name, "parameters": {"binary_data": True}}
                                            for name in ("body", "content_type")]}
    return json.dumps(header).encode(), b"".join(values)


def v2_outputs(answer: requests.Response) -> dict:
    """An answer in the binary-data extension -> {output name: the bytes of its one BYTES value}."""
    header_length = int(answer.headers["Inference-Header-Content-Length"])
    offset, outputs = header_length, {}
    for output in json.loads(answer.content[:header_length])["outputs"]:
        size = output["parameters"]["binary_data_size"]
        (length,) = struct.unpack("<I", answer.content[offset:offset + 4])
        outputs[output["name"]] = answer.content[offset + 4:offset + 4 + length]
        offset += size
    return outputs


def triton_error(answer: requests.Response) -> Reply:
    """Triton's error answer -> the API's error. `alphanet_cutout` puts the API's JSON error (with its 400 or 422)
    in Triton's `error` string; Triton's own refusals (an input it does not know) have plain text there."""
    try:
        message = answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        return error_reply(answer.status_code, "triton_error", answer.text[:500] or answer.reason)
    try:
        return Reply(json.loads(message)["code"], "application/json", message.encode())
    except (ValueError, KeyError, TypeError):
        return error_reply(answer.status_code, "triton_error", message)
