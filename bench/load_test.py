"""Load test: many requests at once against a TorchServe on loopback, with the workers' memory before and after.

    python -m bench.load_test --requests 1000 --concurrency 8 --side 256     (after `make mar`; from the repo root)

Starts TorchServe with the development profile on free loopback ports, serving model_store/ with the archive's
2 workers of 1 thread, and sends it `--requests` photos from `--concurrency` threads, stopping early at
`--time-limit`. Each request is the demo photo at `--side` px with a trimap whose middle half is unknown: the user
trimap replaces the segmentation, and the matting network, the closed-form refinement (with the default
`CLOSED_FORM=trimap`) and the foreground estimate run on the unknown half, whatever weights the archive holds
(with a trimap that left nothing unknown, the graph would skip the matting network). The answer is a cutout.

Memory: the RSS of each worker process (psutil) at rest, IDLE_SECONDS_BEFORE_TRIM after a warm-up of 2 x
concurrency requests and again after the load (a worker hands its freed heap back once it rests,
alphanet/serving/worker.py), and the most each worker ever held (VmHWM; with a large --side, what a pod's memory limit
must allow). Prints one JSON line; exit status 1 when a request failed or was not sent, a worker was replaced, or
one grew more than --max-growth.
"""
import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from alphanet.serving.worker import IDLE_SECONDS_BEFORE_TRIM
from bench.workload import request_files, workload
# The tests' TorchServe runner (free ports, own TMPDIR, readiness wait, clean stop): one way to run a server.
from tests.torchserve import running_torchserve

REPO = Path(__file__).resolve().parents[1]
REQUEST_TIMEOUT_S = 300


@dataclass
class Tally:
    """What the sending threads saw; `lock` guards the lists and the count of requests handed out."""
    latencies_s: list = field(default_factory=list)
    failures: list = field(default_factory=list)  # "HTTP 503" or the exception's name, one per failed request
    handed_out: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, total: int) -> bool:
        """Claim one of `total` requests; False once all are claimed."""
        with self.lock:
            if self.handed_out >= total:
                return False
            self.handed_out += 1
            return True


def send_load(url: str, files: dict, total: int, concurrency: int, deadline: float) -> Tally:
    """`total` POSTs from `concurrency` threads, each with its own Session; no new request after `deadline`."""
    tally = Tally()

    def sender() -> None:
        with requests.Session() as session:
            while time.monotonic() < deadline and tally.take(total):
                sent = time.perf_counter()
                try:
                    answer = session.post(url, files=files, timeout=REQUEST_TIMEOUT_S)
                    outcome = None if answer.status_code == 200 else f"HTTP {answer.status_code}"
                except requests.RequestException as error:
                    outcome = type(error).__name__
                with tally.lock:
                    if outcome is None:
                        tally.latencies_s.append(time.perf_counter() - sent)
                    else:
                        tally.failures.append(outcome)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(sender)
    return tally


def worker_rss_at_rest_mib(management: str) -> dict:
    """pid -> resident memory in MiB of each worker of alphanet, as the management API lists them, once they have
    rested long enough to hand their freed heap back."""
    time.sleep(IDLE_SECONDS_BEFORE_TRIM + 1)
    workers = requests.get(f"{management}/models/alphanet", timeout=30).json()[0]["workers"]
    return {worker["pid"]: psutil.Process(worker["pid"]).memory_info().rss / 2**20 for worker in workers}


def peak_rss_mib(pids) -> list:
    """The most resident memory each process has had since it started (Linux's VmHWM), in MiB."""
    peaks = []
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)[1]) / 1024)
    return peaks


def percentile(values: list, fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(args) -> dict:
    files = request_files(*workload(args.side))
    with tempfile.TemporaryDirectory(prefix="load-test-") as root, \
            running_torchserve("config.properties", REPO / "model_store", Path(root)) as server:
        url = f"{server.inference}/predictions/alphanet"
        warm_up = send_load(url, files, 2 * args.concurrency, args.concurrency, time.monotonic() + args.time_limit)
        rss_before = worker_rss_at_rest_mib(server.management)
        started = time.monotonic()
        tally = send_load(url, files, args.requests, args.concurrency, started + args.time_limit)
        elapsed = time.monotonic() - started
        rss_after = worker_rss_at_rest_mib(server.management)
        peaks = peak_rss_mib(rss_after)
        frontend = psutil.Process(next(iter(rss_after))).parent()  # the Java frontend started the workers
        frontend_rss = frontend.memory_info().rss / 2**20
    growth = {pid: rss_after[pid] / rss_before[pid] - 1 for pid in rss_before if pid in rss_after}
    return {
        "requests": args.requests, "concurrency": args.concurrency, "side": args.side,
        "answered": len(tally.latencies_s), "failed": len(tally.failures) + len(warm_up.failures),
        "failures": sorted(set(tally.failures + warm_up.failures)),
        "not_sent": args.requests - tally.handed_out,
        "p50_s": round(statistics.median(tally.latencies_s), 3) if tally.latencies_s else None,
        "p99_s": round(percentile(tally.latencies_s, 0.99), 3) if tally.latencies_s else None,
        "images_per_s": round(len(tally.latencies_s) / elapsed, 2), "elapsed_s": round(elapsed, 1),
        "worker_rss_before_mib": [round(value) for value in rss_before.values()],
        "worker_rss_after_mib": [round(value) for value in rss_after.values()],
        "worker_rss_growth_percent": [round(100 * value, 1) for value in growth.values()],
        "worker_peak_rss_mib": [round(value) for value in peaks], "frontend_rss_mib": round(frontend_rss),
        "workers_replaced": len(growth) < len(rss_before),
        "load_average": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--side", type=int, default=256, help="photo side in pixels")
    parser.add_argument("--time-limit", type=float, default=1800, help="seconds after which no request is sent")
    parser.add_argument("--max-growth", type=float, default=0.05, help="largest worker RSS growth accepted")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result))
    bad = (result["failed"] or result["not_sent"] or result["workers_replaced"]
           or max(result["worker_rss_growth_percent"]) > 100 * args.max_growth)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
