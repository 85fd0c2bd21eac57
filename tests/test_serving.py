"""End to end: the archive `make mar` builds, served by a real TorchServe with each config profile, over real
HTTP. One server per profile, each on its own ports and in its own directories."""
import io
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import psutil
import pytest
import requests
from PIL import Image

from alphanet.client import process
from alphanet.serving.healthcheck import key_expired, worker_statuses
from tests.torchserve import Server, batched_copy, free_ports, read_profile, running_torchserve
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

REQUEST_TIMEOUT_S = 120


@pytest.fixture(scope="session")
def torchserve(model_store, tmp_path_factory):
    """The development profile (config/config.properties), as `make serve` runs it."""
    with running_torchserve("config.properties", model_store, tmp_path_factory.mktemp("development")) as server:
        yield server


# --- helpers ---------------------------------------------------------------------------------------

def encoded(image: Image.Image, file_format: str = "PNG", **save_args) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, file_format, **save_args)
    return buffer.getvalue()


def predict(server: Server, body: bytes = None, files: dict = None, output: str = None,
            headers: dict = None, model: str = "alphanet") -> requests.Response:
    """POST /predictions/<model>: the image as the body, or `files` as multipart; `output` as X-Output."""
    headers = dict(headers or {})
    if output:
        headers["X-Output"] = output
    if body is not None:
        headers.setdefault("Content-Type", "application/octet-stream")
    return requests.post(f"{server.inference}/predictions/{model}", data=body, files=files, headers=headers,
                         timeout=REQUEST_TIMEOUT_S)


def answer_image(response: requests.Response, content_type: str = "image/png") -> Image.Image:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"] == content_type
    return Image.open(io.BytesIO(response.content))


@pytest.fixture(scope="session")
def lemur(shared_data):
    """The lemur photo and its hand-drawn trimap, as files, and the trimap as grey pixels."""
    folder = shared_data / "lemur"
    trimap_file = (folder / "lemur_trimap.png").read_bytes()
    return {"image": (folder / "lemur.png").read_bytes(), "trimap": trimap_file,
            "levels": np.asarray(Image.open(io.BytesIO(trimap_file)).convert("L"))}


@pytest.fixture(scope="session")
def small_photo(shared_data) -> bytes:
    """A real photo small enough for many requests (a 128 px astronaut)."""
    return encoded(Image.open(shared_data / "photos" / "astronaut.png").resize((128, 128)))


# --- health, readiness, metrics --------------------------------------------------------------------

def test_ping(torchserve):
    response = requests.get(f"{torchserve.inference}/ping", timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "Healthy"


def test_model_is_ready_with_the_archives_workers(torchserve):
    description = requests.get(f"{torchserve.management}/models/alphanet", timeout=10).json()[0]
    assert len(description["workers"]) == description["minWorkers"] == 2
    assert {worker["status"] for worker in description["workers"]} == {"READY"}
    assert description["batchSize"] == 1 and description["responseTimeout"] == 60


def test_metrics_are_prometheus_text(torchserve, small_photo):
    assert predict(torchserve, small_photo, output="alpha").status_code == 200
    response = requests.get(f"{torchserve.metrics}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE ts_inference_requests_total counter" in response.text
    assert 'ts_inference_requests_total{model_name="alphanet"' in response.text


# --- answers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("output, headers, content_type, mode", [
    (None, {}, "image/png", "RGBA"),
    ("cutout", {}, "image/png", "RGBA"),
    ("alpha", {}, "image/png", "L"),
    ("trimap", {}, "image/png", "L"),
    ("composite", {}, "image/png", "RGB"),
    ("composite", {"X-Bg": "#336699", "X-Format": "jpeg"}, "image/jpeg", "RGB"),
])
def test_every_output_mode_on_a_real_photo(torchserve, lemur, output, headers, content_type, mode):
    response = predict(torchserve, files={"image": lemur["image"], "trimap": lemur["trimap"]}, output=output,
                       headers=headers)
    image = answer_image(response, content_type)
    assert image.mode == mode and image.size == (680, 440)


def test_automatic_mode_on_a_real_photo(torchserve, shared_data):
    response = predict(torchserve, (shared_data / "photos" / "astronaut.png").read_bytes(), output="trimap")
    trimap = answer_image(response)
    assert trimap.size == (512, 512)
    assert set(np.unique(np.asarray(trimap))) <= {0, 128, 255}


def test_cutout_alpha_channel_is_the_alpha_output(torchserve, lemur):
    files = {"image": lemur["image"], "trimap": lemur["trimap"]}
    cutout = np.asarray(answer_image(predict(torchserve, files=files, output="cutout")))
    alpha = np.asarray(answer_image(predict(torchserve, files=files, output="alpha")))
    np.testing.assert_array_equal(cutout[:, :, 3], alpha)
    assert 0 < alpha.mean() < 255


def test_user_trimap_known_regions_are_honoured_exactly(torchserve, lemur):
    files = {"image": lemur["image"], "trimap": lemur["trimap"]}
    alpha = np.asarray(answer_image(predict(torchserve, files=files, output="alpha")))
    trimap = np.asarray(answer_image(predict(torchserve, files=files, output="trimap")))
    levels = lemur["levels"]
    assert (alpha[levels == 0] == 0).all() and (alpha[levels == 255] == 255).all()
    np.testing.assert_array_equal(trimap, np.where(levels == 0, 0, np.where(levels == 255, 255, 128)))


def test_composite_puts_background_pixels_on_the_requested_colour(torchserve, lemur):
    files = {"image": lemur["image"], "trimap": lemur["trimap"], "output": b"composite", "bg": b"#0000ff"}
    composite = np.asarray(answer_image(predict(torchserve, files=files)))
    assert (composite[lemur["levels"] == 0] == [0, 0, 255]).all()


def test_size_and_exif_orientation_are_kept(torchserve, shared_data):
    """A 64x40 JPEG tagged "rotate 90 CW" is displayed 40 wide and 64 high: so is every answer, the pixels
    turned as displayed, and the trimap must have the displayed size."""
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = Image.open(shared_data / "photos" / "chelsea.png").convert("RGB").resize((64, 40))
    jpeg = encoded(photo, "JPEG", exif=exif)
    assert answer_image(predict(torchserve, jpeg, output="alpha")).size == (40, 64)
    all_foreground = encoded(Image.new("L", (40, 64), 255))  # so the composite is the photo itself
    composite = answer_image(predict(torchserve, files={"image": jpeg, "trimap": all_foreground},
                                     output="composite"))
    displayed = np.rot90(np.asarray(Image.open(io.BytesIO(jpeg))), k=-1).astype(int)  # decoded, turned CW
    assert np.abs(np.asarray(composite).astype(int) - displayed).max() <= 2
    stored_size_trimap = encoded(Image.new("L", (64, 40), 255))
    assert predict(torchserve, files={"image": jpeg, "trimap": stored_size_trimap}).status_code == 422


def test_form_field_and_query_parameter_beat_the_header(torchserve, small_photo):
    """Query parameters reach the handler on /invocations (TorchServe drops them on /predictions/)."""
    band = np.full((128, 128), 128, dtype=np.uint8)
    band[:32], band[-32:] = 0, 255  # an unknown band, so alpha and trimap answers differ
    files = {"image": small_photo, "trimap": encoded(Image.fromarray(band))}
    by_form = predict(torchserve, files={**files, "output": b"alpha"}, output="trimap")
    assert by_form.content == predict(torchserve, files=files, output="alpha").content
    assert by_form.content != predict(torchserve, files=files, output="trimap").content
    by_query = requests.post(f"{torchserve.inference}/invocations",
                             params={"model_name": "alphanet", "output": "composite", "format": "jpeg"},
                             data=small_photo, headers={"Content-Type": "application/octet-stream",
                                                        "X-Output": "trimap"}, timeout=REQUEST_TIMEOUT_S)
    assert answer_image(by_query, "image/jpeg").size == (128, 128)


def test_concurrent_identical_requests_get_identical_answers(torchserve, small_photo):
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: predict(torchserve, small_photo), range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    assert len({r.content for r in responses}) == 1


# --- bad requests: 4xx with a JSON body naming the problem, and the worker still serves ------------

def bomb() -> bytes:
    """A 100-megapixel PNG of a few kilobytes: four times the default pixel limit."""
    return encoded(Image.new("1", (10_000, 10_000)))


def truncated_photo(photo: bytes) -> bytes:
    return photo[: len(photo) // 2]


BAD_REQUESTS = {
    "empty body": (dict(body=b""), 400, "empty_body"),
    "non-image bytes": (dict(body=b"%PDF-1.4 not an image"), 400, "not_an_image"),
    "JSON body": (dict(body=b'{"image": "x"}', headers={"Content-Type": "application/json"}), 400,
                  "not_an_image"),
    "no image part": (dict(files={"photo": b"x"}), 400, "missing_image"),
    "truncated image": ("truncated", 400, "undecodable_image"),
    "unsupported mode": (dict(body=encoded(Image.new("F", (8, 8)), "TIFF")), 422, "unsupported_mode"),
    "too many pixels": ("bomb", 422, "too_many_pixels"),
    "trimap of the wrong size": ("wrong trimap", 422, "trimap_size"),
    "undecodable trimap": ("garbage trimap", 400, "not_an_image"),
    "unknown output": (dict(output="mask"), 400, "unknown_output"),
    "bad bg colour": (dict(output="composite", headers={"X-Bg": "#12345"}), 400, "bad_color"),
    "unknown format": (dict(output="composite", headers={"X-Format": "gif"}), 400, "unknown_format"),
    "bg without composite": (dict(output="alpha", headers={"X-Bg": "white"}), 400, "option_not_applicable"),
}


def bad_request_args(name: str, photo: bytes) -> dict:
    args, _, _ = BAD_REQUESTS[name]
    if args == "truncated":
        return dict(body=truncated_photo(photo))
    if args == "bomb":
        return dict(body=bomb())
    if args == "wrong trimap":
        return dict(files={"image": photo, "trimap": encoded(Image.new("L", (12, 34)))})
    if args == "garbage trimap":
        return dict(files={"image": photo, "trimap": b"not an image"})
    return args if ("body" in args or "files" in args) else dict(args, body=photo)


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_bad_request_gets_4xx_json_and_the_worker_survives(torchserve, small_photo, name):
    _, status, kind = BAD_REQUESTS[name]
    response = predict(torchserve, **bad_request_args(name, small_photo))
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == status and body["type"] == kind and body["message"]
    assert predict(torchserve, small_photo, output="alpha").status_code == 200


# --- batches ---------------------------------------------------------------------------------------

BATCH_SIZE = 4


@pytest.fixture(scope="module")
def batched_model(torchserve):
    with batched_copy(torchserve, "alphanet_batched", BATCH_SIZE) as name:
        yield name


def test_one_bad_request_in_a_batch_does_not_fail_the_others(torchserve, batched_model, small_photo):
    requests_args = [dict(body=small_photo, output="alpha"), dict(body=b"not an image"),
                     dict(body=small_photo, output="trimap"), dict(body=small_photo, output="mask")]
    with ThreadPoolExecutor(max_workers=BATCH_SIZE) as pool:
        responses = list(pool.map(lambda args: predict(torchserve, model=batched_model, **args), requests_args))
    assert [r.status_code for r in responses] == [200, 400, 200, 400]
    assert [r.json()["type"] for r in responses[1::2]] == ["not_an_image", "unknown_output"]
    assert answer_image(responses[0]).mode == answer_image(responses[2]).mode == "L"
    # TorchServe logs each batch's handler time with the ids of the requests in it: all four were one batch.
    # The line may reach the log a moment after the responses, so the log is read until it shows up.
    request_ids = [r.headers["x-request-id"] for r in responses]

    def logged_as_one_batch() -> bool:
        handler_times = [line for line in (torchserve.logs / "ts_log.log").read_text().splitlines()
                         if "HandlerTime" in line and "alphanet_batched" in line]
        return any(all(request_id in line for request_id in request_ids) for line in handler_times)

    wait_until(logged_as_one_batch, 10, "no HandlerTime line names all four requests", interval_s=0.2)


# --- the production profile ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def production_torchserve(model_store, tmp_path_factory):
    """The container's profile (config/config.production.properties)."""
    with running_torchserve("config.production.properties", model_store,
                            tmp_path_factory.mktemp("production")) as server:
        yield server


def bearer(server: Server, api: str) -> dict:
    return {"Authorization": f"Bearer {json.loads(server.key_file.read_text())[api]['key']}"}


def test_production_answers_only_with_the_inference_token(production_torchserve, small_photo):
    url = f"{production_torchserve.inference}/predictions/alphanet"
    headers = {"Content-Type": "application/octet-stream", "X-Output": "alpha"}
    without_token = requests.post(url, data=small_photo, headers=headers, timeout=REQUEST_TIMEOUT_S)
    assert without_token.status_code == 400 and "Token Authorization failed" in without_token.text
    with_token = requests.post(url, data=small_photo, headers={**headers, **bearer(production_torchserve,
                                                                                   "inference")},
                               timeout=REQUEST_TIMEOUT_S)
    assert answer_image(with_token).size == (128, 128)


def test_production_keys_last_the_profiles_expiry(production_torchserve):
    keys = json.loads(production_torchserve.key_file.read_text())
    lifetime_min = int(read_profile("config.production.properties")["token_expiration_min"])
    for api in ("management", "inference"):
        left = datetime.fromisoformat(keys[api]["expiration time"]) - datetime.now(timezone.utc)
        left_min = left.total_seconds() / 60
        assert lifetime_min - 30 < left_min <= lifetime_min


def test_client_sends_the_inference_token(production_torchserve, small_photo, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "astronaut.png").write_bytes(small_photo)
    url = production_torchserve.inference
    refused = process([tmp_path / "in"], tmp_path / "refused", urls=[url], output="alpha")
    assert not refused.done and "Token Authorization failed" in refused.failed[tmp_path / "in" / "astronaut.png"]
    inference_key = json.loads(production_torchserve.key_file.read_text())["inference"]["key"]
    served = process([tmp_path / "in"], tmp_path / "served", urls=[url], output="alpha", token=inference_key)
    assert served.done == [tmp_path / "served" / "astronaut.png"] and not served.failed
    assert Image.open(served.done[0]).size == (128, 128)


def test_production_refuses_model_registration(production_torchserve):
    response = requests.post(f"{production_torchserve.management}/models", params={"url": "alphanet.mar"},
                             headers=bearer(production_torchserve, "management"), timeout=60)
    assert response.status_code == 405


def test_healthcheck_command_reads_the_key_file(production_torchserve):
    """The container's HEALTHCHECK command, run where TorchServe runs (its key file in the working dir)."""
    def healthcheck(management: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "alphanet.serving.healthcheck", "--management", management],
                              cwd=production_torchserve.key_file.parent, capture_output=True, text=True)
    assert healthcheck(production_torchserve.management).returncode == 0
    closed_port = free_ports(1)[0]
    assert healthcheck(f"http://127.0.0.1:{closed_port}").returncode == 1


def test_healthcheck_renews_an_expired_management_key(model_store, tmp_path):
    """The production profile with keys that expire after a minute (the shortest TorchServe takes): past the
    expiry the HEALTHCHECK command still says READY, having renewed the key with the API key."""
    with running_torchserve("config.production.properties", model_store, tmp_path,
                            settings={"token_expiration_min": 1}) as server:
        first_key = json.loads(server.key_file.read_text())["management"]["key"]
        expires = datetime.fromisoformat(json.loads(server.key_file.read_text())["management"]["expiration time"])
        time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 1)
        expired = requests.get(f"{server.management}/models/alphanet", timeout=60,
                               headers={"Authorization": f"Bearer {first_key}"})
        assert expired.status_code == 400  # the old key no longer works
        command = [sys.executable, "-m", "alphanet.serving.healthcheck", "--management", server.management]
        check = subprocess.run(command, cwd=server.key_file.parent, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert json.loads(server.key_file.read_text())["management"]["key"] != first_key


def test_key_expiry_with_the_renewal_margin():
    now = datetime(2026, 11, 25, 7, 0, 0, tzinfo=timezone.utc)
    assert key_expired({"expiration time": "2026-11-25T06:59:59.5Z"}, now)
    assert key_expired({"expiration time": "2026-11-25T07:00:20Z"}, now)  # within the 30 s margin
    assert not key_expired({"expiration time": "2026-11-25T07:01:00.000001Z"}, now)


def test_healthcheck_takes_a_key_file_still_being_written_for_not_ready(production_torchserve, tmp_path):
    """TorchServe creates key_file.json first and writes the keys a moment later."""
    key_file = tmp_path / "key_file.json"
    key_file.write_text("")
    assert worker_statuses(production_torchserve.management, "alphanet", key_file) == []


# --- secure defaults: each profile's settings, and where the production server really listens -------------

PROFILES = ["config.properties", "config.production.properties", "config.k8s.properties",
            "config.kserve.properties"]


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_keeps_management_and_metrics_on_loopback(profile):
    settings = read_profile(profile)
    assert urlsplit(settings["management_address"]).hostname == "127.0.0.1"
    assert urlsplit(settings["metrics_address"]).hostname == "127.0.0.1"
    # TorchServe's gRPC APIs listen on loopback unless these are set.
    assert "grpc_inference_address" not in settings and "grpc_management_address" not in settings


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_registers_models_from_its_store_only(profile):
    """Only development may register models over the API, and every profile's allowed_urls admits files in its
    model store and nothing else."""
    settings = read_profile(profile)
    assert settings["enable_model_api"] == ("true" if profile == "config.properties" else "false")
    in_store = f"file://{Path('/app', settings['model_store'])}/alphanet.mar"  # relative: in the image's /app
    assert re.fullmatch(settings["allowed_urls"], in_store)
    for elsewhere in ("https://example.com/alphanet.mar", "file:///tmp/alphanet.mar"):
        assert not re.fullmatch(settings["allowed_urls"], elsewhere)


def listening_ports(process_group: int) -> dict:
    """port -> address of every TCP socket a process of the group listens on."""
    ports = {}
    for member in psutil.process_iter():
        try:
            if os.getpgid(member.pid) == process_group:
                ports.update({c.laddr.port: c.laddr.ip for c in member.net_connections("tcp")
                              if c.status == psutil.CONN_LISTEN})
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return ports


def is_loopback(address: str) -> bool:
    parsed = ipaddress.ip_address(address)
    return (getattr(parsed, "ipv4_mapped", None) or parsed).is_loopback  # ::ffff:127.0.0.1 too


def non_loopback_addresses() -> list:
    return [address.address for addresses in psutil.net_if_addrs().values() for address in addresses
            if address.family == socket.AF_INET and not is_loopback(address.address)]


def accepts_connections(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=5).close()
        return True
    except OSError:
        return False


def test_production_listens_beyond_loopback_for_inference_only(production_torchserve):
    """Inference, management, metrics and both gRPC ports: all but inference on loopback. Where this machine has
    another address, the management port refuses connections on it while the inference port takes them."""
    ports = listening_ports(production_torchserve.process_group)
    inference, management = (urlsplit(url).port for url in (production_torchserve.inference,
                                                           production_torchserve.management))
    assert ports.pop(inference) in ("0.0.0.0", "::")
    assert len(ports) == 4 and all(is_loopback(address) for address in ports.values()), ports
    for address in non_loopback_addresses():
        assert accepts_connections(address, inference)
        assert not accepts_connections(address, management), f"management answers on {address}"


def test_production_refuses_management_calls_without_the_management_token(production_torchserve):
    url = f"{production_torchserve.management}/models/alphanet"
    assert "Token Authorization failed" in requests.get(url, timeout=60).text
    refused = requests.get(url, headers=bearer(production_torchserve, "inference"), timeout=60)
    assert refused.status_code == 400  # the inference key opens inference only
    assert requests.get(url, headers=bearer(production_torchserve, "management"), timeout=60).status_code == 200


def test_registering_a_model_from_a_url_is_refused_unfetched(torchserve):
    """Development allows registering models (from its store): a URL elsewhere is turned away by allowed_urls
    before TorchServe tries to download it (the port is closed anyway)."""
    url = f"http://127.0.0.1:{free_ports(1)[0]}/alphanet.mar"
    response = requests.post(f"{torchserve.management}/models", params={"url": url}, timeout=60)
    assert response.status_code == 404, response.text  # TorchServe's answer for an archive it will not get
    assert "does not match any allowed URL" in response.json()["message"]


def test_production_refuses_a_body_over_max_request_size(production_torchserve):
    limit = int(read_profile("config.production.properties")["max_request_size"])
    response = requests.post(f"{production_torchserve.inference}/predictions/alphanet", data=bytes(limit + 1),
                             headers={"Content-Type": "application/octet-stream",
                                      **bearer(production_torchserve, "inference")}, timeout=REQUEST_TIMEOUT_S)
    assert response.status_code == 413
