"""Faults in the middle of a bulk run: a real TorchServe (development profile, 2 workers), the real `alphanet client`
command, a real SIGKILL. A worker killed mid-run must cost no photo (the client retries) and be replaced; a server
stopped mid-run and started again must let the same command, run again, finish the job without losing or
repeating a photo."""
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from PIL import Image

from alphanet.client import TEMP_SUFFIX
from alphanet.serving.healthcheck import worker_statuses
from tests.torchserve import running_torchserve
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

PHOTOS = 32
CLIENT_TIMEOUT_S = 300  # a bound, not an expectation: each run takes seconds
RECOVERY_TIMEOUT_S = 120  # TorchServe restarts a killed worker in seconds, loading the model included


@pytest.fixture
def photos(tmp_path, shared_data) -> Path:
    """PHOTOS small real photos (the shared ones at 96 px, turned to make more), in a folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    sources = sorted((shared_data / "photos").glob("*.png"))
    for index in range(PHOTOS):
        photo = Image.open(sources[index % len(sources)]).convert("RGB").resize((96, 96))
        photo.rotate(90 * (index // len(sources))).save(folder / f"photo_{index:02}.png")
    return folder


def client_command(photos: Path, out: Path, server, max_attempts: int = 8) -> list:
    """`alphanet client` with short backoffs, so retries happen within the test's time."""
    return [sys.executable, "-m", "alphanet.client", str(photos), "--out", str(out), "--url", server.inference,
            "--concurrency", "4", "--max-attempts", str(max_attempts), "--backoff-base", "0.2",
            "--backoff-cap", "2"]


def outputs(out: Path) -> list:
    return sorted(out.rglob("*.png")) if out.is_dir() else []


def wait_for_outputs(out: Path, count: int, client: subprocess.Popen) -> None:
    wait_until(lambda: len(outputs(out)) >= count, CLIENT_TIMEOUT_S,
               f"fewer than {count} outputs after {CLIENT_TIMEOUT_S} s", interval_s=0.05,
               hopeless=lambda: client.poll() is not None and "the client finished before the fault")


def prediction_statuses(server) -> list:
    """The status of every POST /predictions/alphanet the server answered, from its access log."""
    log = (server.logs / "access_log.log").read_text()
    return [int(status) for status in re.findall(r'"POST /predictions/alphanet\S* HTTP/1.1" (\d+)', log)]


def workers(server) -> list:
    return requests.get(f"{server.management}/models/alphanet", timeout=30).json()[0]["workers"]


def wait_until_replaced(server, killed_pid: int) -> None:
    """Until the model again has all its workers READY, none of them the killed process."""
    def replaced() -> bool:
        return killed_pid not in {worker["pid"] for worker in workers(server)} and \
            set(worker_statuses(server.management, "alphanet", server.key_file)) == {"READY"}

    wait_until(replaced, RECOVERY_TIMEOUT_S,
               lambda: f"worker {killed_pid} not replaced by a READY one within {RECOVERY_TIMEOUT_S} s: "
                       f"{workers(server)}")


def test_a_worker_killed_mid_run_costs_no_photo_and_is_replaced(tmp_path, model_store, photos):
    out = tmp_path / "out"
    with running_torchserve("config.properties", model_store, tmp_path / "server") as server:
        victim = workers(server)[0]["pid"]
        client = subprocess.Popen(client_command(photos, out, server), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            wait_for_outputs(out, 4, client)  # 4 requests in flight for 2 workers: both are busy now
            os.kill(victim, signal.SIGKILL)
            report, _ = client.communicate(timeout=CLIENT_TIMEOUT_S)
        finally:
            client.kill()
        assert client.returncode == 0, report
        assert len(outputs(out)) == PHOTOS
        # The kill hit a request in flight: TorchServe answered it 507 ("Worker died."), and the client retried.
        assert 507 in prediction_statuses(server)
        wait_until_replaced(server, victim)
        assert len(workers(server)) == 2


def test_a_resumed_run_after_a_server_restart_loses_and_repeats_nothing(tmp_path, model_store, photos):
    out = tmp_path / "out"
    with running_torchserve("config.properties", model_store, tmp_path / "first") as first:
        # Few attempts, so the run gives up soon after the server is gone, as a run would after a long outage.
        interrupted = subprocess.Popen(client_command(photos, out, first, max_attempts=2),
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for_outputs(out, PHOTOS // 4, interrupted)
        except BaseException:
            interrupted.kill()
            raise
    # Leaving the block stopped the server and every process of it, with the run still going.
    report, _ = interrupted.communicate(timeout=CLIENT_TIMEOUT_S)
    assert interrupted.returncode == 1 and re.search(r"failed: [1-9]", report), report
    written = {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in outputs(out)}
    assert 0 < len(written) < PHOTOS

    with running_torchserve("config.properties", model_store, tmp_path / "second") as second:
        resumed = subprocess.run(client_command(photos, out, second), capture_output=True, text=True,
                                 timeout=CLIENT_TIMEOUT_S)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        sent_again = prediction_statuses(second)
    assert len(outputs(out)) == PHOTOS
    assert sent_again == [200] * (PHOTOS - len(written))  # only the missing photos were sent
    assert {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in written} == written  # untouched
    assert not list(out.rglob(f"*{TEMP_SUFFIX}"))
