"""End to end on Triton: `python -m alphanet.triton.server` (what `make serve-triton` runs) in .venv-triton, a real
tritonserver, real HTTP with the v2 binary-data extension (plain requests, since tritonclient needs numpy<2), and
gRPC through tritonclient in .venv-triton. One server for the session, serving the scripted file of the archive
`make mar` builds (conftest's model_store), on free ports, in its own process group and workspace; one more for
the test of stopping."""
import io
import itertools
import json
import signal
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Union

import numba
import numpy as np
import pytest
import requests
import torch
import yaml
from PIL import Image

from alphanet.serving.imageio import DEFAULT_MAX_PIXELS, decode_request, encode_answer
from alphanet.options import OUTPUT_MODES
from alphanet.triton.config import DEFAULT_CORES, cpu_plan
from alphanet.triton.models import CUTOUT_MODEL, TENSOR_MODELS
from alphanet.serving.process_group import stop_process_group, wait_for_group_end
from tests.broken_images import encoded, random_image, refused_headers
from tests.torchserve import free_ports
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
TRITON_PYTHON = REPO / ".venv-triton" / "bin" / "python"
MODEL_NAMES = [spec.name for spec in TENSOR_MODELS] + [CUTOUT_MODEL.name]
V2_DATATYPES = {np.dtype(np.uint8): "UINT8", np.dtype(np.float32): "FP32"}
READY_TIMEOUT_S = 300
REQUEST_TIMEOUT_S = 120
STOP_LIMIT_S = 15  # measured: about 4 to 6 s on a busy 2-core machine
SERVED_THREADS = int({key: value for key, value, _ in cpu_plan(DEFAULT_CORES).parameters}["INTRA_OP_THREAD_COUNT"])

pytestmark = pytest.mark.slow


@dataclass
class TritonServer:
    process: subprocess.Popen
    http: str
    grpc_port: int
    metrics: str
    log: Path


def start_triton(scripted: Path, root: Path) -> TritonServer:
    """The server as `make serve-triton` runs it, on free ports, in a new process group, logging to root/."""
    assert TRITON_PYTHON.exists(), "no .venv-triton: `make install` creates it"
    http, grpc, metrics = free_ports(3)
    log = root / "triton.log"
    command = [str(TRITON_PYTHON), "-m", "alphanet.triton.server", "--scripted", str(scripted),
               "--http-port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(metrics),
               "--workspace", str(root / "workspace")]
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = TritonServer(process, f"http://127.0.0.1:{http}", grpc, f"http://127.0.0.1:{metrics}", log)
    wait_until_every_model_is_ready(server)
    return server


def wait_until_every_model_is_ready(server: TritonServer) -> None:
    """/v2/health/ready alone can say 200 before a model is loaded: ask each model."""
    try:
        wait_until(lambda: all(answers_200(f"{server.http}/v2/models/{name}/ready") for name in MODEL_NAMES),
                   READY_TIMEOUT_S, lambda: f"models not ready after {READY_TIMEOUT_S} s\n{server.log.read_text()}",
                   hopeless=lambda: server.process.poll() is not None and
                   f"the Triton server exited with {server.process.returncode}\n{server.log.read_text()}")
    except pytest.fail.Exception:
        stop_process_group(server.process, STOP_LIMIT_S)
        raise


def answers_200(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture(scope="session")
def scripted(model_store) -> Path:
    return model_store / "alphanet.pt"


@pytest.fixture(scope="session")
def astronaut_file(shared_data) -> Path:
    return shared_data / "photos" / "astronaut.png"


@pytest.fixture(scope="session")
def astronaut(astronaut_file) -> np.ndarray:
    return np.array(Image.open(astronaut_file).convert("RGB"))


@pytest.fixture(scope="session")
def in_process(scripted):
    """The exported file called in this process: the reference the server must match."""
    model = torch.jit.load(str(scripted))

    def call(image: np.ndarray, trimap: np.ndarray = None):
        with torch.inference_mode(), served_threads():
            alpha, used = model(torch.from_numpy(image), None if trimap is None else torch.from_numpy(trimap))
        return alpha.numpy(), used.numpy()
    return call


@contextmanager
def served_threads():
    """Compute as a served instance does: float results depend on how the work is split among threads."""
    torch_threads, numba_threads = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(SERVED_THREADS)
    numba.set_num_threads(SERVED_THREADS)  # pymatting's parallel loops
    try:
        yield
    finally:
        torch.set_num_threads(torch_threads)
        numba.set_num_threads(numba_threads)


@pytest.fixture(scope="session")
def triton(scripted, tmp_path_factory):
    server = start_triton(scripted, tmp_path_factory.mktemp("triton"))
    yield server
    stop_process_group(server.process, STOP_LIMIT_S)


# --- the v2 protocol with the binary-data extension ----------------------------------------------------

Value = Union[np.ndarray, bytes]  # a tensor, or the one element of a BYTES input of shape [1]


def infer(server: TritonServer, model: str, inputs: Dict[str, Value]) -> requests.Response:
    """POST /v2/models/<model>/infer with every input and output as raw bytes after the JSON header."""
    descriptions, blobs = [], []
    for name, value in inputs.items():
        if isinstance(value, bytes):
            blob, shape, datatype = struct.pack("<I", len(value)) + value, [1], "BYTES"  # length-prefixed
        else:
            blob, shape, datatype = np.ascontiguousarray(value).tobytes(), list(value.shape), V2_DATATYPES[value.dtype]
        descriptions.append({"name": name, "shape": shape, "datatype": datatype,
                             "parameters": {"binary_data_size": len(blob)}})
        blobs.append(blob)
    header = json.dumps({"inputs": descriptions, "parameters": {"binary_data_output": True}}).encode()
    return requests.post(f"{server.http}/v2/models/{model}/infer", data=b"".join([header, *blobs]),
                         headers={"Inference-Header-Content-Length": str(len(header)),
                                  "Content-Type": "application/octet-stream"}, timeout=REQUEST_TIMEOUT_S)


def outputs(response: requests.Response) -> Dict[str, Value]:
    assert response.status_code == 200, response.text
    header_length = int(response.headers["Inference-Header-Content-Length"])
    offset, results = header_length, {}
    for output in json.loads(response.content[:header_length])["outputs"]:
        blob = response.content[offset:offset + output["parameters"]["binary_data_size"]]
        offset += len(blob)
        if output["datatype"] == "BYTES":
            (length,) = struct.unpack("<I", blob[:4])
            results[output["name"]] = blob[4:4 + length]
        else:
            dtype = next(t for t, name in V2_DATATYPES.items() if name == output["datatype"])
            results[output["name"]] = np.frombuffer(blob, dtype).reshape(output["shape"])
    return results


def encoded_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def assert_still_ready(server: TritonServer) -> None:
    assert answers_200(f"{server.http}/v2/health/ready")
    assert all(answers_200(f"{server.http}/v2/models/{name}/ready") for name in MODEL_NAMES)


# --- health, metadata, metrics, gRPC --------------------------------------------------------------------

def test_server_and_each_model_are_live_and_ready(triton):
    assert answers_200(f"{triton.http}/v2/health/live")
    assert_still_ready(triton)
    assert requests.get(f"{triton.http}/v2/models/no_such_model/ready", timeout=5).status_code != 200


@pytest.mark.parametrize("spec", [*TENSOR_MODELS, CUTOUT_MODEL], ids=lambda spec: spec.name)
def test_metadata_has_the_repository_names_types_and_shapes(triton, spec):
    metadata = requests.get(f"{triton.http}/v2/models/{spec.name}", timeout=5).json()
    v2_type = {"TYPE_UINT8": "UINT8", "TYPE_FP32": "FP32", "TYPE_STRING": "BYTES"}
    for kind, tensors in (("inputs", spec.inputs), ("outputs", spec.outputs)):
        expected = [{"name": t.name, "datatype": v2_type[t.data_type], "shape": list(t.dims)} for t in tensors]
        assert metadata[kind] == expected


def test_grpc_answers_on_its_port(triton):
    probe = ("import sys, tritonclient.grpc as grpc\n"
             f"client = grpc.InferenceServerClient('127.0.0.1:{triton.grpc_port}')\n"
             f"print(client.is_server_ready() and all(client.is_model_ready(m) for m in {MODEL_NAMES!r}))\n")
    result = subprocess.run([str(TRITON_PYTHON), "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "True", result.stderr


def test_metrics_count_the_requests_of_each_model(triton):
    def successes() -> float:
        text = requests.get(f"{triton.metrics}/metrics", timeout=5).text
        line = next(line for line in text.splitlines()
                    if line.startswith('nv_inference_request_success{model="alphanet",version="1"}'))
        return float(line.split()[-1])

    before = successes()
    outputs(infer(triton, "alphanet", {"image__0": np.zeros((16, 24, 3), np.uint8)}))
    # The Python backend reports a request's statistics once its answer has gone out: the count may lag it.
    wait_until(lambda: successes() == before + 1, timeout_s=10,
               failure=lambda: f"success count {successes()}, expected {before + 1}")


def test_the_deployments_readiness_probe_passes_on_a_ready_server_only(triton):
    """config/k8s-triton-deployment.yaml's probe script, pointed at this server instead of port 8000."""
    deployment = next(yaml.safe_load_all((REPO / "config" / "k8s-triton-deployment.yaml").read_text()))
    script = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"][-1]
    (closed_port,) = free_ports(1)
    for port, expected_exit_code in ((triton.http.rsplit(":", 1)[1], 0), (closed_port, 1)):
        probe = subprocess.run([sys.executable, "-c", script.replace("127.0.0.1:8000/", f"127.0.0.1:{port}/")],
                               capture_output=True, text=True, timeout=60)
        assert probe.returncode == expected_exit_code, probe.stderr


# --- answers: the same as the scripted file in process, and as TorchServe's encoding ----------------------

def test_alphanet_matches_the_in_process_call_on_a_real_photo(triton, in_process, astronaut):
    image = astronaut
    answer = outputs(infer(triton, "alphanet", {"image__0": image}))
    alpha, used_trimap = in_process(image)
    assert answer["alpha__0"].shape == image.shape[:2] and answer["alpha__0"].dtype == np.float32
    assert np.abs(answer["alpha__0"] - alpha).max() <= 1e-5
    np.testing.assert_array_equal(answer["trimap__1"], used_trimap)


def test_alphanet_trimap_honours_the_users_trimap(triton, in_process, astronaut):
    image = astronaut
    trimap = np.full(image.shape[:2], 255, np.uint8)
    trimap[:, :200] = 0
    trimap[:, 200:240] = 128
    answer = outputs(infer(triton, "alphanet_trimap", {"image__0": image, "user_trimap__1": trimap}))
    assert (answer["alpha__0"][trimap == 0] == 0).all() and (answer["alpha__0"][trimap == 255] == 1).all()
    np.testing.assert_array_equal(answer["trimap__1"], np.select([trimap == 0, trimap == 255], [0.0, 1.0], 0.5))
    alpha, _ = in_process(image, trimap)
    assert np.abs(answer["alpha__0"] - alpha).max() <= 1e-5


@pytest.mark.parametrize("options", [{}, {"output": b"composite", "format": b"jpeg", "bg": b"00ff00"}],
                         ids=["cutout", "composite-jpeg"])
def test_cutout_answers_what_the_torchserve_handler_encodes(triton, in_process, astronaut_file, options):
    photo = astronaut_file.read_bytes()
    answer = outputs(infer(triton, "alphanet_cutout", {"image": photo, **options}))
    text = {name: value.decode() for name, value in options.items()}
    request = decode_request(photo, None, text.get("output"), text.get("bg"), text.get("format"), DEFAULT_MAX_PIXELS)
    with served_threads():
        expected = encode_answer(request, *in_process(request.image))
    assert answer["content_type"].decode() == expected.content_type
    assert answer["body"] == expected.body


def test_cutout_with_a_trimap_file_honours_it(triton, astronaut):
    image = astronaut[::4, ::4].copy()
    trimap = np.full(image.shape[:2], 255, np.uint8)
    trimap[:, :50] = 0
    answer = outputs(infer(triton, "alphanet_cutout", {"image": encoded_png(image), "trimap": encoded_png(trimap),
                                                       "output": b"alpha"}))
    alpha = np.array(Image.open(io.BytesIO(answer["body"])))
    np.testing.assert_array_equal(alpha, trimap)  # nothing unknown: alpha is the trimap


def test_concurrent_requests_each_get_their_own_answer(triton, in_process):
    images = [np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8) for seed in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda image: outputs(infer(triton, "alphanet", {"image__0": image})), images))
    for image, answer in zip(images, answers):
        assert np.abs(answer["alpha__0"] - in_process(image)[0]).max() <= 1e-5


# --- bad requests: 4xx with a message, and the server stays ready -------------------------------------

IMAGE = np.zeros((8, 8, 3), np.uint8)
BAD_REQUESTS = {
    "wrong dtype": ("alphanet", {"image__0": IMAGE.astype(np.float32)}, "data-type"),
    "wrong rank": ("alphanet", {"image__0": IMAGE[:, :, 0]}, "unexpected shape"),
    "trimap of the wrong size": ("alphanet_trimap", {"image__0": IMAGE, "user_trimap__1": np.zeros((4, 8), np.uint8)},
                                 "trimap must have the image's size"),
    "empty image bytes": ("alphanet_cutout", {"image": b""}, "empty_body"),
    "garbage image bytes": ("alphanet_cutout", {"image": b"this is not an image"}, "not_an_image"),
    "trimap file of the wrong size": ("alphanet_cutout", {"image": encoded_png(IMAGE),
                                                          "trimap": encoded_png(np.zeros((4, 8), np.uint8))},
                                      "trimap_size"),
    "unknown output mode": ("alphanet_cutout", {"image": encoded_png(IMAGE), "output": b"sketch"}, "unknown_output"),
}
GOOD_REQUESTS = {"alphanet": {"image__0": IMAGE},
                 "alphanet_trimap": {"image__0": IMAGE, "user_trimap__1": IMAGE[:, :, 0]},
                 "alphanet_cutout": {"image": encoded_png(IMAGE)}}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_bad_request_gets_4xx_with_a_message_and_the_server_stays_ready(triton, name):
    model, inputs, message = BAD_REQUESTS[name]
    response = infer(triton, model, inputs)
    assert 400 <= response.status_code < 500, response.text
    assert message in response.json()["error"]
    assert_still_ready(triton)
    assert infer(triton, model, GOOD_REQUESTS[model]).status_code == 200


@pytest.mark.parametrize("file_format", ["JPEG2000", "TGA", "GIF", "TIFF", "PNG"])
def test_cutout_answers_a_one_pixel_photo_in_every_mode_and_with_a_trimap(triton, file_format):
    """The smallest photos once failed in encoding (pymatting divided by zero) and got no answer."""
    photo = encoded(random_image("RGB", 1, 1, seed=0), file_format)
    trimap = encoded_png(np.full((1, 1), 128, np.uint8))
    for output, extra in itertools.product(OUTPUT_MODES, [{}, {"trimap": trimap}]):
        answer = outputs(infer(triton, "alphanet_cutout", {"image": photo, "output": output.encode(), **extra}))
        assert Image.open(io.BytesIO(answer["body"])).size == (1, 1)
    assert_still_ready(triton)


@pytest.mark.parametrize("name", refused_headers())
def test_cutout_refuses_a_file_its_decoder_raises_on_with_4xx_json(triton, name):
    response = infer(triton, "alphanet_cutout", {"image": refused_headers()[name]})
    assert response.status_code == 400, response.text
    assert json.loads(response.json()["error"])["type"] in ("undecodable_image", "not_an_image")
    assert_still_ready(triton)


# --- stopping -------------------------------------------------------------------------------------------

def test_sigterm_to_the_launcher_stops_every_process_promptly(scripted, tmp_path):
    """As `docker stop` or Kubernetes do: the signal goes to the launcher only."""
    server = start_triton(scripted, tmp_path)
    outputs(infer(server, "alphanet", {"image__0": IMAGE}))  # a server that has served stops the same
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        ended = wait_for_group_end(server.process, STOP_LIMIT_S)
        elapsed = time.monotonic() - started
    finally:
        stop_process_group(server.process, STOP_LIMIT_S)
    assert ended, f"processes left after {STOP_LIMIT_S} s\n{server.log.read_text()[-4000:]}"
    assert server.process.returncode == 0
    print(f"stopped in {elapsed:.1f} s")
