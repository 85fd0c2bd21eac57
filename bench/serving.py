"""Serving benchmark: one photo over HTTP vs the same work in-process, as a throughput a platform team can plan with.

    python -m bench.serving --layout 2x1 [--side 1024] [--trimap] --requests 5
                                                (from the repo root, after `make mar`; one JSON line)

`--layout WxT` starts TorchServe (development profile, free loopback ports) with W workers of T threads and
reports the cold start (launch to first answer), the median latency of sequential requests, the throughput of
2 clients and that throughput per core (W x T cores busy). `--layout in-process` runs the same decode, scripted
call and encode in this process on one thread (one core): its photos per second per core is one over its median.
The request is the demo photo at `--side` px in automatic mode, as a catalog client sends it (the segmenter's
band decides how much the matting net runs); with `--trimap`, a trimap whose middle half is unknown, so that the
matting net runs on every request whatever the segmenter finds.
"""
import argparse
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import torch

from alphanet.serving.imageio import DEFAULT_MAX_PIXELS, decode_request, encode_answer, matte
from bench.workload import request_files, workload
from tests.torchserve import running_torchserve

REPO = Path(__file__).resolve().parents[1]


def in_process(files: dict, count: int) -> dict:
    torch.set_num_threads(1)
    model = torch.jit.load(str(REPO / "model_store" / "alphanet.pt"))
    totals, model_calls = [], []
    with torch.inference_mode():
        for _ in range(count + 1):  # the first call also optimises the graph: not counted
            start = time.perf_counter()
            request = decode_request(files["image"], files.get("trimap"), "cutout", None, None, DEFAULT_MAX_PIXELS)
            called = time.perf_counter()
            alpha, trimap = matte(model, request)
            model_calls.append(time.perf_counter() - called)
            encode_answer(request, alpha, trimap)
            totals.append(time.perf_counter() - start)
    median = statistics.median(totals[1:])
    return {"median_s": median, "model_call_median_s": statistics.median(model_calls[1:]),
            "photos_per_s_per_core": 1 / median}


def over_http(files: dict, count: int, workers: int, threads: int) -> dict:
    """TorchServe with the archive's workers, rescaled to `workers` of `threads` threads, then measure()."""
    start = time.perf_counter()  # the cold start counts from here: launch, workers READY, rescaling, first answer
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as root, \
            running_torchserve("config.properties", REPO / "model_store", Path(root),
                               environment={"ALPHANET_THREADS": str(threads)}) as server:
        requests.put(f"{server.management}/models/alphanet", timeout=300,
                     params={"min_worker": workers, "max_worker": workers, "synchronous": "true"})
        result = measure(f"{server.inference}/predictions/alphanet", files, count, start)
    return {**result, "photos_per_s_per_core": result["throughput_2_clients_per_s"] / (workers * threads)}


def measure(url: str, files: dict, count: int, start: float) -> dict:
    """Cold start (from `start` to the first answer), then sequential latency, then 2 clients' throughput."""
    def post(_=None) -> requests.Response:
        return requests.post(url, files=files, timeout=600)

    while post().status_code != 200:
        time.sleep(0.2)
    cold_start = time.perf_counter() - start
    latencies = []
    for _ in range(count):
        sent = time.perf_counter()
        assert post().status_code == 200
        latencies.append(time.perf_counter() - sent)
    sent = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert all(r.status_code == 200 for r in pool.map(post, range(2 * count)))
    throughput = 2 * count / (time.perf_counter() - sent)
    return {"cold_start_to_first_answer_s": cold_start, "median_s": statistics.median(latencies),
            "throughput_2_clients_per_s": throughput}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default="2x1", help="WORKERSxTHREADS, or in-process")
    parser.add_argument("--side", type=int, default=1024, help="the photo's side in pixels")
    parser.add_argument("--trimap", action="store_true",
                        help="send a trimap with a wide unknown band (default: automatic mode)")
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args()
    image, trimap = workload(args.side)
    files = request_files(image, trimap if args.trimap else None)
    if args.layout == "in-process":
        result = in_process(files, args.requests)
    else:
        workers, threads = (int(n) for n in args.layout.split("x"))
        result = over_http(files, args.requests, workers, threads)
    print(json.dumps({"layout": args.layout, "side": args.side, "mode": "trimap" if args.trimap else "automatic",
                      "load_average": os.getloadavg()[0],
                      **{key: round(value, 3) for key, value in result.items()}}))


if __name__ == "__main__":
    main()
