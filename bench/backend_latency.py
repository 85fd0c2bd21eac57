"""Backend latency in one run: one 1024 px photo over Triton HTTP (`alphanet_trimap`, binary data), over
TorchServe HTTP (`/predictions/alphanet`, `output=alpha`) and as the same scripted call in this process.

    .venv-triton/bin/python -m bench.backend_latency --requests 7     (after `make mar`; prints one JSON line)

Starts `python -m alphanet.triton_server` on ports 18100-18102 and, from the main virtualenv, TorchServe
(`alphanet.launch_torchserve`, the development profile moved to ports 18110-18114), and reports each one's cold
start (launch to ready) and median latencies. One server runs at a time, its requests taking turns with
in-process calls (never overlapping; 1 thread each), and each server's overhead is the ratio of the two medians
(TorchServe's answer is an 8-bit PNG of the alpha, which Triton's float tensor is not: about 20 ms of encoding). The request
carries a trimap with an unknown band, so the matting network runs as it will with trained weights (with the
seeded random weights the automatic trimap has nothing unknown and the graph skips the matting network).
"""
import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import requests
import torch
import tritonclient.http as triton_http
from PIL import Image

from alphanet.worker import warm_up

REPO = Path(__file__).resolve().parents[1]
SIDE = 1024
HTTP_PORT = 18100
THREADS = 1  # the served models' INTRA_OP_THREAD_COUNT
MODELS = ("alphanet", "alphanet_trimap", "alphanet_cutout")
TORCHSERVE_PORT = 18110  # inference; +1 management, +2 metrics, +3 and +4 gRPC
MAIN_PYTHON = REPO / ".venv" / "bin" / "python"
WARM_UP_CALLS = 2  # per instance: the profiling executor's first two calls are slower (alphanet/worker.py)


def workload() -> tuple:
    """The demo photo at SIDE px and a trimap: background on top, foreground at the bottom, unknown between."""
    image = np.array(Image.open(REPO / "alphanet" / "assets" / "demo.jpg").convert("RGB")
                     .resize((SIDE, SIDE), Image.BICUBIC))
    trimap = np.full((SIDE, SIDE), 128, dtype=np.uint8)
    trimap[: SIDE // 4], trimap[-SIDE // 4:] = 0, 255
    return image, trimap


def start_server(scripted: Path) -> tuple:
    """The server in a process group of its own; (process, seconds from launch to every model ready)."""
    command = [sys.executable, "-m", "alphanet.triton_server", "--scripted", str(scripted),
               "--http-port", str(HTTP_PORT), "--grpc-port", str(HTTP_PORT + 1), "--metrics-port", str(HTTP_PORT + 2)]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    while not all(ready(name) for name in MODELS):
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        time.sleep(0.2)
    return process, time.perf_counter() - started


def ready(model: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}/v2/models/{model}/ready", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_torchserve(store: Path, workdir: Path) -> tuple:
    """TorchServe with the development profile on TORCHSERVE_PORT..+4 and `store`; (process, cold start s)."""
    profile = (REPO / "config" / "config.properties").read_text()
    for default, port in ((8080, 0), (8081, 1), (8082, 2), (7070, 3), (7071, 4)):
        profile = profile.replace(f"{default}\n", f"{TORCHSERVE_PORT + port}\n")  # the addresses and gRPC ports
    profile = profile.replace("model_store=model_store", f"model_store={store}")
    (workdir / "config.properties").write_text(profile)
    started = time.perf_counter()
    process = subprocess.Popen([str(MAIN_PYTHON), "-m", "alphanet.launch_torchserve", "--config",
                                str(workdir / "config.properties")], cwd=workdir, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True,
                               env=dict(os.environ, ALPHANET_THREADS=str(THREADS)))
    while not torchserve_ready():
        if process.poll() is not None:
            raise SystemExit(f"TorchServe exited with {process.returncode}")
        time.sleep(0.2)
    return process, time.perf_counter() - started


def torchserve_ready() -> bool:
    try:
        answer = requests.get(f"http://127.0.0.1:{TORCHSERVE_PORT + 1}/models/alphanet", timeout=2)
        return answer.ok and any(w["status"] == "READY" for w in answer.json()[0]["workers"])
    except (requests.RequestException, ValueError, KeyError, IndexError):
        return False


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def over_torchserve(image_png: bytes, trimap_png: bytes) -> bytes:
    """The answer's PNG. The photo and trimap go as the files a client has, already encoded: encoding them is
    the client's cost, not the server's."""
    answer = requests.post(f"http://127.0.0.1:{TORCHSERVE_PORT}/predictions/alphanet", timeout=600,
                           files={"image": image_png, "trimap": trimap_png}, headers={"X-Output": "alpha"})
    answer.raise_for_status()
    return answer.content


def torchserve_workers() -> int:
    answer = requests.get(f"http://127.0.0.1:{TORCHSERVE_PORT + 1}/models/alphanet", timeout=10)
    return len(answer.json()[0]["workers"])


def triton_instances(client) -> int:
    return sum(group["count"] for group in client.get_model_config("alphanet_trimap")["instance_group"])


def in_process(model, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(image), torch.from_numpy(trimap))[0].numpy()


def over_http(client, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    inputs = [triton_http.InferInput("image__0", list(image.shape), "UINT8"),
              triton_http.InferInput("user_trimap__1", list(trimap.shape), "UINT8")]
    inputs[0].set_data_from_numpy(image, binary_data=True)
    inputs[1].set_data_from_numpy(trimap, binary_data=True)
    outputs = [triton_http.InferRequestedOutput(name, binary_data=True) for name in ("alpha__0", "trimap__1")]
    return client.infer("alphanet_trimap", inputs, outputs=outputs).as_numpy("alpha__0")


def timed_turns(server_call, local_call, instances: int, requests: int) -> tuple:
    """Warm up, then alternate a server request and an in-process call `requests` times.
    -> (server seconds, in-process seconds, last server answer, last in-process alpha)."""
    # TorchScript optimises a graph during its first calls, in every process that runs it, and a server spreads
    # requests over its instances: each instance gets WARM_UP_CALLS before anything is timed.
    for _ in range(WARM_UP_CALLS * instances):
        server_call()
    server_times, local_times = [], []
    for _ in range(requests):
        started = time.perf_counter()
        served = server_call()
        server_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        local = local_call()
        local_times.append(time.perf_counter() - started)
    return server_times, local_times, served, local


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripted", type=Path, default=REPO / "model_store" / "alphanet.pt")
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args()
    image, trimap = workload()
    image_png, trimap_png = png_bytes(image), png_bytes(trimap)
    torch.set_num_threads(THREADS)
    model = torch.jit.load(str(args.scripted))
    warm_up(model)
    local_call = lambda: in_process(model, image, trimap)  # noqa: E731
    report = {"side": SIDE, "requests": args.requests, "warm_up_calls_per_instance": WARM_UP_CALLS}
    # One server at a time, each against in-process calls interleaved with its requests: an idle second server
    # alongside still takes CPU from whatever runs.
    process, cold_start = start_server(args.scripted)
    report["triton_cold_start_s"] = round(cold_start, 2)
    try:
        client = triton_http.InferenceServerClient(f"127.0.0.1:{HTTP_PORT}", network_timeout=600)
        report["triton_instances"] = triton_instances(client)
        served, local_times, triton_alpha, local = timed_turns(
            lambda: over_http(client, image, trimap), local_call, report["triton_instances"], args.requests)
    finally:
        stop(process)
    report.update(side_report("triton_http", served, local_times))
    report["max_alpha_difference_triton"] = float(np.abs(triton_alpha - local).max())
    with tempfile.TemporaryDirectory() as workdir:
        process, cold_start = start_torchserve(args.scripted.parent, Path(workdir))
        report["torchserve_cold_start_s"] = round(cold_start, 2)
        try:
            report["torchserve_workers"] = torchserve_workers()
            served, local_times, answer, local = timed_turns(
                lambda: over_torchserve(image_png, trimap_png), local_call, report["torchserve_workers"],
                args.requests)
        finally:
            stop(process)
    report.update(side_report("torchserve_http", served, local_times))
    torchserve_alpha = np.asarray(Image.open(io.BytesIO(answer)), dtype=np.float32) / 255.0
    report["max_alpha_difference_torchserve"] = float(np.abs(torchserve_alpha - local).max())  # <= 0.5 / 255
    report["load_average"] = os.getloadavg()[0]
    print(json.dumps(report))


def side_report(name: str, served: list, local_times: list) -> dict:
    server, local = statistics.median(served), statistics.median(local_times)
    return {f"{name}_median_s": round(server, 3), f"{name}_in_process_median_s": round(local, 3),
            f"{name}_over_in_process": round(server / local - 1, 3)}


if __name__ == "__main__":
    main()
