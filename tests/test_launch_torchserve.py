"""`make serve`'s launcher (python -m alphanet.serving.launch_torchserve): Ctrl-C stops TorchServe and leaves no
process behind; a TorchServe that fails makes it exit with a failure."""
import os
import signal
import socket
import subprocess
import sys

import psutil
import pytest

from alphanet.serving.healthcheck import worker_statuses
from alphanet.serving.launch_torchserve import ended_on_its_own_status
from alphanet.serving.process_group import stop_process_group
from tests.torchserve import READY_TIMEOUT_S, free_ports, on_port, profile_with, read_profile
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def launcher_config(tmp_path, model_store):
    """The development profile on free ports, serving `model_store`; returns (config, management URL, inference
    port)."""
    http, management, metrics, grpc, grpc_management = free_ports(5)
    addresses = read_profile("config.properties")
    config = tmp_path / "config.properties"
    config.write_text(profile_with("config.properties", {
        "inference_address": on_port(addresses["inference_address"], http),
        "management_address": on_port(addresses["management_address"], management),
        "metrics_address": on_port(addresses["metrics_address"], metrics),
        "grpc_inference_port": grpc, "grpc_management_port": grpc_management, "model_store": model_store}))
    return config, f"http://127.0.0.1:{management}", http


def alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_ctrl_c_stops_torchserve_and_every_process_it_started(tmp_path, model_store):
    config, management, _ = launcher_config(tmp_path, model_store)
    env = {**os.environ, "LOG_LOCATION": str(tmp_path), "METRICS_LOCATION": str(tmp_path)}
    with open(tmp_path / "launcher.log", "w") as log:
        command = [sys.executable, "-m", "alphanet.serving.launch_torchserve", "--config", str(config)]
        launcher = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    started = []
    try:
        wait_until(lambda: set(worker_statuses(management, "alphanet", tmp_path / "key_file.json")) == {"READY"},
                   READY_TIMEOUT_S, lambda: (tmp_path / "launcher.log").read_text(),
                   hopeless=lambda: launcher.poll() is not None and (tmp_path / "launcher.log").read_text())
        started = psutil.Process(launcher.pid).children(recursive=True)  # torchserve, the JVM, 2 workers
        assert len(started) >= 4
        launcher.send_signal(signal.SIGINT)  # what Ctrl-C in `make serve`'s terminal sends it
        assert launcher.wait(timeout=60) == 128 + signal.SIGINT
        left = [process for process in started if alive(process)]
        assert left == [], f"still running after Ctrl-C: {[process.cmdline()[:3] for process in left]}"
    finally:  # whatever a failure left behind
        for process in started + [psutil.Process(launcher.pid)] if launcher.poll() is None else started:
            if alive(process):
                process.kill()
        launcher.wait()


def test_a_torchserve_that_cannot_start_makes_the_launcher_fail(tmp_path, model_store):
    """The inference port is taken, so the Java frontend cannot bind it and exits; `torchserve` itself would
    report 0 for that."""
    config, _, inference_port = launcher_config(tmp_path, model_store)
    env = {**os.environ, "LOG_LOCATION": str(tmp_path), "METRICS_LOCATION": str(tmp_path)}
    command = [sys.executable, "-m", "alphanet.serving.launch_torchserve", "--config", str(config)]
    with socket.socket() as taken, open(tmp_path / "launcher.log", "w") as log:
        taken.bind(("127.0.0.1", inference_port))
        taken.listen()
        launcher = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            assert launcher.wait(timeout=120) == 1, (tmp_path / "launcher.log").read_text()[-2000:]
        finally:  # a launcher that hangs, and whatever it started
            stop_process_group(launcher, 15)
    assert "TorchServe ended without being asked to" in (tmp_path / "launcher.log").read_text()


@pytest.mark.parametrize("returncode, status", [(0, 1), (1, 1), (-9, 137), (-15, 143)])
def test_the_launchers_status_when_torchserve_ends_on_its_own(returncode, status):
    assert ended_on_its_own_status(returncode) == status
