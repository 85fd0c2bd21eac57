"""A real TorchServe for the tests: one per call of `running_torchserve`, serving a config profile on free ports,
with its own logs, working directory and TMPDIR, and stopped with every process it started."""
import os
import re
import socket
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import requests

from alphanet.serving.healthcheck import worker_statuses
from alphanet.serving.launch_torchserve import start_torchserve, stop_torchserve
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 240


@dataclass
class Server:
    inference: str
    management: str
    metrics: str
    logs: Path
    key_file: Path  # where TorchServe writes its keys when token authorization is on
    process_group: int  # the launcher's pid: the JVM and the workers are in its group


def free_ports(count: int) -> list:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def read_profile(profile: str) -> dict:
    """config/<profile> as a dict of its keys and values."""
    lines = (REPO / "config" / profile).read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if "=" in line and not line.lstrip().startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def on_port(address: str, port: int) -> str:
    """`http://HOST:PORT` with another port."""
    return re.sub(r":\d+$", f":{port}", address)


def profile_with(profile: str, overrides: dict) -> str:
    """config/<profile> with some keys replaced, so the tests serve the very profile `make serve` or the
    container uses, on their own ports and store."""
    lines = (REPO / "config" / profile).read_text().splitlines()
    kept = [line for line in lines if line.split("=", 1)[0].strip() not in overrides]
    return "\n".join(kept + [f"{key}={value}" for key, value in overrides.items()]) + "\n"


def server_log(logs: Path) -> str:
    return "\n".join(f"--- {path.name}\n{path.read_text()[-6000:]}" for path in sorted(logs.glob("*.log")))


def wait_until_ready(server: Server, process: subprocess.Popen, model: str = "alphanet") -> None:
    """Until every worker of `model` is READY (/ping says Healthy before any can serve)."""
    wait_until(lambda: set(worker_statuses(server.management, model, server.key_file)) == {"READY"},
               READY_TIMEOUT_S, lambda: f"{model} not READY after {READY_TIMEOUT_S} s\n{server_log(server.logs)}",
               hopeless=lambda: process.poll() is not None and
               f"TorchServe exited with {process.returncode}\n{server_log(server.logs)}")


@contextmanager
def running_torchserve(profile: str, store: Path, root: Path, settings: Optional[dict] = None,
                       environment: Optional[dict] = None):
    """TorchServe with config/<profile> (and `settings` replacing some of its keys), serving `store`, everything
    it writes under `root`, with `environment` added to its environment variables; stopped, with all its
    processes, on exit. Each address keeps the profile's host, only the ports are free ones, so the server binds
    where the profile says (loopback or all interfaces); the tests talk to it on loopback."""
    logs, work, tmp = root / "logs", root / "work", root / "tmp"
    for folder in (logs, work, tmp):
        folder.mkdir(parents=True)
    http, management, metrics, grpc, grpc_management = free_ports(5)
    config = root / profile
    addresses = read_profile(profile)
    config.write_text(profile_with(profile, {
        "inference_address": on_port(addresses["inference_address"], http),
        "management_address": on_port(addresses["management_address"], management),
        "metrics_address": on_port(addresses["metrics_address"], metrics),
        "grpc_inference_port": grpc,
        "grpc_management_port": grpc_management,
        "model_store": store,
        **(settings or {}),
    }))
    env = {**os.environ, **(environment or {}), "LOG_LOCATION": str(logs), "METRICS_LOCATION": str(logs)}
    with open(logs / "stdout.log", "w") as stdout:
        process = start_torchserve(config, cwd=work, tmpdir=tmp, env=env, log=stdout)
        server = Server(f"http://127.0.0.1:{http}", f"http://127.0.0.1:{management}",
                        f"http://127.0.0.1:{metrics}", logs, work / "key_file.json", process.pid)
        try:
            wait_until_ready(server, process)
            yield server
        finally:
            stop_torchserve(process)


@contextmanager
def batched_copy(server: Server, name: str, batch_size: int):
    """The served archive registered a second time as `name`, with `batch_size` and on one worker: that many
    requests sent together (within 10 s) reach the handler as one batch. Unregistered on exit."""
    registered = requests.post(f"{server.management}/models", params={
        "url": "alphanet.mar", "model_name": name, "batch_size": batch_size, "max_batch_delay": 10_000,
        "initial_workers": 1, "synchronous": "true"}, timeout=READY_TIMEOUT_S)
    assert registered.status_code == 200, registered.text
    scaled = requests.put(f"{server.management}/models/{name}", timeout=READY_TIMEOUT_S,
                          params={"min_worker": 1, "max_worker": 1, "synchronous": "true"})  # the archive says 2
    assert scaled.status_code == 200, scaled.text
    description = requests.get(f"{server.management}/models/{name}", timeout=10).json()[0]
    assert description["batchSize"] == batch_size and len(description["workers"]) == 1
    try:
        yield name
    finally:
        requests.delete(f"{server.management}/models/{name}", timeout=60)
