"""Backend latency in one run: one 1024 px photo over Triton HTTP (`alphanet_trimap`, binary data), over
TorchServe HTTP (`/predictions/alphanet`, `output=alpha`) and as the same scripted call in this process.

    .venv-triton/bin/python -m bench.backend_latency --requests 7     (after `make mar`; prints one JSON line)

Starts `python -m alphanet.triton.server` on ports 18100-18102 and TorchServe (the development profile on free
loopback ports, run from the main virtualenv by bench.hold_torchserve), and reports each one's cold start (launch
to every model or worker ready) and median latencies. One server runs at a time, its requests taking turns with
in-process calls (never overlapping; 1 thread each), and each server's overhead is the ratio of the two medians
(TorchServe's answer is an 8-bit PNG of the alpha, which Triton's float tensor is not: about 20 ms of encoding). The
request carries a trimap with an unknown band, so the matting network runs on every request, whatever the
segmenter finds.
"""
import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import requests
import torch
import tritonclient.http as triton_http
from PIL import Image

from alphanet.serving.process_group import stop_process_group
from alphanet.triton.server import STOP_GRACE_S, wait_until_ready
from alphanet.serving.worker import WARM_UP_CALLS, warm_up
from bench.workload import request_files, workload

REPO = Path(__file__).resolve().parents[1]
SIDE = 1024
HTTP_PORT = 18100
THREADS = 1  # the served models' INTRA_OP_THREAD_COUNT
MAIN_PYTHON = REPO / ".venv" / "bin" / "python"  # TorchServe is installed there, not in .venv-triton


@contextmanager
def running_triton(scripted: Path) -> Iterator[float]:
    """Triton serving `scripted` on HTTP_PORT..+2, in a process group of its own; yields the seconds from launch to
    every model ready, and stops the whole group on exit."""
    command = [sys.executable, "-m", "alphanet.triton.server", "--scripted", str(scripted),
               "--http-port", str(HTTP_PORT), "--grpc-port", str(HTTP_PORT + 1), "--metrics-port", str(HTTP_PORT + 2)]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        if not wait_until_ready(process, HTTP_PORT):
            raise SystemExit(f"Triton did not get ready (exit status {process.poll()})")
        yield time.perf_counter() - started
    finally:
        stop_process_group(process, STOP_GRACE_S)


@contextmanager
def held_torchserve(store: Path) -> Iterator[tuple]:
    """TorchServe serving `store`, held by bench.hold_torchserve in the main virtualenv; yields
    ({"inference": URL, "management": URL}, seconds from launch to every worker READY). On exit, closing the
    holder's standard input makes it stop the server."""
    command = [str(MAIN_PYTHON), "-m", "bench.hold_torchserve", str(store), "--threads", str(THREADS)]
    started = time.perf_counter()
    holder = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = holder.stdout.readline()  # written once every worker is READY
        if not line:
            raise SystemExit(f"TorchServe did not get ready (exit status {holder.wait()})")
        yield json.loads(line), time.perf_counter() - started
    finally:
        holder.stdin.close()
        holder.wait()


def over_torchserve(inference: str, files: dict) -> bytes:
    """The answer's PNG. The photo and trimap go as the files a client has, already encoded: encoding them is
    the client's cost, not the server's."""
    answer = requests.post(f"{inference}/predictions/alphanet", timeout=600, files=files,
                           headers={"X-Output": "alpha"})
    answer.raise_for_status()
    return answer.content


def torchserve_workers(management: str) -> int:
    answer = requests.get(f"{management}/models/alphanet", timeout=10)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripted", type=Path, default=REPO / "model_store" / "alphanet.pt")
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args()
    image, trimap = workload(SIDE)
    files = request_files(image, trimap)
    torch.set_num_threads(THREADS)
    model = torch.jit.load(str(args.scripted))
    warm_up(model)
    local_call = lambda: in_process(model, image, trimap)  # noqa: E731
    report = {"side": SIDE, "requests": args.requests, "warm_up_calls_per_instance": WARM_UP_CALLS}
    # One server at a time, each against in-process calls interleaved with its requests: an idle second server
    # alongside still takes CPU from whatever runs.
    with running_triton(args.scripted) as cold_start:
        report["triton_cold_start_s"] = round(cold_start, 2)
        client = triton_http.InferenceServerClient(f"127.0.0.1:{HTTP_PORT}", network_timeout=600)
        report["triton_instances"] = triton_instances(client)
        served, local_times, triton_alpha, local = timed_turns(
            lambda: over_http(client, image, trimap), local_call, report["triton_instances"], args.requests)
    report.update(side_report("triton_http", served, local_times))
    report["max_alpha_difference_triton"] = float(np.abs(triton_alpha - local).max())
    # TorchServe serves the archive beside the scripted file.
    with held_torchserve(args.scripted.parent) as (server, cold_start):
        report["torchserve_cold_start_s"] = round(cold_start, 2)
        report["torchserve_workers"] = torchserve_workers(server["management"])
        served, local_times, answer, local = timed_turns(
            lambda: over_torchserve(server["inference"], files), local_call, report["torchserve_workers"],
            args.requests)
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
