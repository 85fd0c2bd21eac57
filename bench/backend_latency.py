"""Backend latency in one run: one 1024 px photo over Triton HTTP (`alphanet_trimap`, binary data), over
TorchServe HTTP (`/predictions/alphanet`, `output=alpha`) and as the same scripted call in this process.

    .venv-triton/bin/python bench/backend_latency.py --requests 5     (after `make mar`; prints one JSON line)

Starts `python -m alphanet.triton_server` on ports 18100-18102 and, from the main virtualenv, TorchServe
(`alphanet.launch_torchserve`, the development profile moved to ports 18110-18114), and reports each one's cold
start (launch to ready) and median latencies. The three sides take turns, never overlapping, on 1 thread each
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

REPO = Path(__file__).resolve().parents[1]
SIDE = 1024
HTTP_PORT = 18100
THREADS = 1  # the served models' INTRA_OP_THREAD_COUNT
MODELS = ("alphanet", "alphanet_trimap", "alphanet_cutout")
TORCHSERVE_PORT = 18110  # inference; +1 management, +2 metrics, +3 and +4 gRPC
MAIN_PYTHON = REPO / ".venv" / "bin" / "python"


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


def over_http(client, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    inputs = [triton_http.InferInput("image__0", list(image.shape), "UINT8"),
              triton_http.InferInput("user_trimap__1", list(trimap.shape), "UINT8")]
    inputs[0].set_data_from_numpy(image, binary_data=True)
    inputs[1].set_data_from_numpy(trimap, binary_data=True)
    outputs = [triton_http.InferRequestedOutput(name, binary_data=True) for name in ("alpha__0", "trimap__1")]
    return client.infer("alphanet_trimap", inputs, outputs=outputs).as_numpy("alpha__0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripted", type=Path, default=REPO / "model_store" / "alphanet.pt")
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args()
    image, trimap = workload()
    image_png, trimap_png = png_bytes(image), png_bytes(trimap)
    torch.set_num_threads(THREADS)
    model = torch.jit.load(str(args.scripted))
    with tempfile.TemporaryDirectory() as workdir:
        process, cold_start = start_server(args.scripted)
        torchserve, torchserve_cold_start = start_torchserve(args.scripted.parent, Path(workdir))
        client = triton_http.InferenceServerClient(f"127.0.0.1:{HTTP_PORT}", network_timeout=600)
        times = {"triton_http": [], "torchserve_http": [], "in_process": []}
        try:
            for _ in range(args.requests + 1):  # the first of each also optimises the graph: not counted
                sent = time.perf_counter()
                served = over_http(client, image, trimap)
                times["triton_http"].append(time.perf_counter() - sent)
                sent = time.perf_counter()
                torchserve_png = over_torchserve(image_png, trimap_png)
                times["torchserve_http"].append(time.perf_counter() - sent)
                called = time.perf_counter()
                with torch.inference_mode():
                    local = model(torch.from_numpy(image), torch.from_numpy(trimap))[0].numpy()
                times["in_process"].append(time.perf_counter() - called)
            difference = float(np.abs(served - local).max())
            torchserve_alpha = np.asarray(Image.open(io.BytesIO(torchserve_png)), dtype=np.float32) / 255.0
            torchserve_difference = float(np.abs(torchserve_alpha - local).max())  # 8-bit rounding: <= 0.5 / 255
        finally:
            for group in (process, torchserve):
                os.killpg(group.pid, signal.SIGTERM)
                group.wait()
    medians = {side: statistics.median(values[1:]) for side, values in times.items()}
    print(json.dumps({"side": SIDE, "requests": args.requests, "triton_cold_start_s": round(cold_start, 2),
                      "torchserve_cold_start_s": round(torchserve_cold_start, 2),
                      **{f"{side}_median_s": round(value, 3) for side, value in medians.items()},
                      "triton_over_in_process": round(medians["triton_http"] / medians["in_process"] - 1, 3),
                      "torchserve_over_in_process": round(medians["torchserve_http"] / medians["in_process"] - 1, 3),
                      "max_alpha_difference_triton": difference,
                      "max_alpha_difference_torchserve": torchserve_difference,
                      "load_average": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
