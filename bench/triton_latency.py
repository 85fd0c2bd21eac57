"""Triton latency: one 1024 px photo through `alphanet_trimap` over HTTP (binary data) vs the same scripted call
in this process.

    .venv-triton/bin/python bench/triton_latency.py --requests 5     (after `make mar`; prints one JSON line)

Starts `python -m alphanet.triton_server` on ports 18100-18102 and reports the cold start (launch to every model
ready) and median latencies. The two sides take turns, never overlapping, on 1 thread each. The request
carries a trimap with an unknown band, so the matting network runs as it will with trained weights (with the
seeded random weights the automatic trimap has nothing unknown and the graph skips the matting network).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import torch
import tritonclient.http as triton_http
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SIDE = 1024
HTTP_PORT = 18100
THREADS = 1  # the served models' INTRA_OP_THREAD_COUNT
MODELS = ("alphanet", "alphanet_trimap", "alphanet_cutout")


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
    torch.set_num_threads(THREADS)
    model = torch.jit.load(str(args.scripted))
    process, cold_start = start_server(args.scripted)
    client = triton_http.InferenceServerClient(f"127.0.0.1:{HTTP_PORT}", network_timeout=600)
    times = {"http": [], "in_process": []}
    try:
        for _ in range(args.requests + 1):  # the first of each also optimises the graph: not counted
            sent = time.perf_counter()
            served = over_http(client, image, trimap)
            times["http"].append(time.perf_counter() - sent)
            called = time.perf_counter()
            with torch.inference_mode():
                local = model(torch.from_numpy(image), torch.from_numpy(trimap))[0].numpy()
            times["in_process"].append(time.perf_counter() - called)
        difference = float(np.abs(served - local).max())
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
    medians = {side: statistics.median(values[1:]) for side, values in times.items()}
    print(json.dumps({"side": SIDE, "requests": args.requests, "cold_start_s": round(cold_start, 2),
                      "http_median_s": round(medians["http"], 3), "in_process_median_s": round(medians["in_process"], 3),
                      "http_overhead_s": round(medians["http"] - medians["in_process"], 3),
                      "max_alpha_difference": difference, "load_average": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
