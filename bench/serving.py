"""Serving benchmark: one 1024 px photo over HTTP vs the same work in-process.

    python bench/serving.py --layout 2x1 --requests 5     (after `make mar`; prints one JSON line)

`--layout WxT` starts TorchServe (development profile, ports 18080-18082 and 17070-17071) with W workers of
T threads and reports the cold start (launch to first answer), the median latency of sequential requests and
the throughput of 2 clients. `--layout in-process` runs the same decode, scripted call and encode in this
process on one thread. The request carries a trimap with an unknown band, so the matting network runs as it
will with trained weights (the seeded random segmenter finds no foreground, and with nothing unknown the
graph skips the matting network).
"""
import argparse
import io
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests
import torch
from PIL import Image

from alphanet.healthcheck import worker_statuses
from alphanet.imageio import DEFAULT_MAX_PIXELS, decode_request, encode_answer
from alphanet.launch_torchserve import start_torchserve, stop_torchserve

REPO = Path(__file__).resolve().parents[1]
SIDE = 1024
PORTS = {"8080": "18080", "8081": "18081", "8082": "18082", "7070": "17070", "7071": "17071"}


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def workload() -> dict:
    """The demo photo at SIDE px with a trimap: background on top, foreground at the bottom, unknown between."""
    photo = Image.open(REPO / "alphanet" / "assets" / "demo.jpg").resize((SIDE, SIDE), Image.BICUBIC)
    trimap = np.full((SIDE, SIDE), 128, dtype=np.uint8)
    trimap[: SIDE // 4], trimap[-SIDE // 4:] = 0, 255
    return {"image": png(photo), "trimap": png(Image.fromarray(trimap))}


def in_process(files: dict, count: int) -> dict:
    torch.set_num_threads(1)
    model = torch.jit.load(str(REPO / "model_store" / "alphanet.pt"))
    totals, model_calls = [], []
    with torch.inference_mode():
        for _ in range(count + 1):  # the first call also optimises the graph: not counted
            start = time.perf_counter()
            request = decode_request(files["image"], files["trimap"], "cutout", None, None, DEFAULT_MAX_PIXELS)
            called = time.perf_counter()
            alpha, trimap = model(torch.from_numpy(request.image), torch.from_numpy(request.trimap))
            model_calls.append(time.perf_counter() - called)
            encode_answer(request, alpha.numpy(), trimap.numpy())
            totals.append(time.perf_counter() - start)
    return {"median_s": statistics.median(totals[1:]), "model_call_median_s": statistics.median(model_calls[1:])}


def over_http(files: dict, count: int, workers: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as folder:
        root = Path(folder)
        config = (REPO / "config" / "config.properties").read_text()
        for port, replacement in PORTS.items():
            config = config.replace(port, replacement)
        (root / "config.properties").write_text(config.replace("model_store=model_store",
                                                               f"model_store={REPO / 'model_store'}"))
        env = {**os.environ, "ALPHANET_THREADS": str(threads), "LOG_LOCATION": str(root),
               "METRICS_LOCATION": str(root)}
        start = time.perf_counter()
        with open(root / "stdout.log", "w") as log:
            process = start_torchserve(root / "config.properties", root, root, env=env, log=log)
        try:
            while not worker_statuses("http://127.0.0.1:18081", "alphanet", root / "key_file.json"):
                time.sleep(0.2)
            requests.put("http://127.0.0.1:18081/models/alphanet", timeout=300,
                         params={"min_worker": workers, "max_worker": workers, "synchronous": "true"})
            return measure(files, count, start)
        finally:
            stop_torchserve(process)


def measure(files: dict, count: int, start: float) -> dict:
    """Cold start (from `start` to the first answer), then sequential latency, then 2 clients' throughput."""
    def post(_=None) -> requests.Response:
        return requests.post("http://127.0.0.1:18080/predictions/alphanet", files=files, timeout=600)

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
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args()
    files = workload()
    if args.layout == "in-process":
        result = in_process(files, args.requests)
    else:
        workers, threads = (int(n) for n in args.layout.split("x"))
        result = over_http(files, args.requests, workers, threads)
    print(json.dumps({"layout": args.layout, "side": SIDE, "load_average": os.getloadavg()[0],
                      **{key: round(value, 3) for key, value in result.items()}}))


if __name__ == "__main__":
    main()
