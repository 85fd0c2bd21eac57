"""The batch client against real HTTP servers on loopback that answer like POST /predictions/alphanet: they
decode the uploaded photo and send it back as PNG (JPEG for format=jpeg), or answer 400 with the API's JSON
error when it is not an image, and misbehave on purpose (busy, slow, dropped connections) where a test says."""
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image, UnidentifiedImageError

from alphanet.client import FAILURES_BEFORE_COOLDOWN, TEMP_SUFFIX, RetryPolicy, main, process, write_atomically
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
FAST_RETRY = RetryPolicy(base_s=0.01, cap_s=0.05, max_attempts=5)
FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF",
           ".tiff": "TIFF", ".gif": "GIF"}


# --- A server that behaves like the API -------------------------------------------------------------------

@dataclass
class Received:
    """One request as the server saw it."""
    image: bytes
    trimap: Optional[bytes]
    content_type: str
    query: dict
    headers: dict
    at: float  # time.monotonic() on arrival


class FakeApi(ThreadingHTTPServer):
    """`behaviour(handler, received, number)` answers the number-th request (from 1)."""

    def __init__(self, behaviour):
        super().__init__(("127.0.0.1", 0), FakeApiHandler)
        self.behaviour = behaviour
        self.received = []
        self.lock = threading.Lock()
        self.released = threading.Event()  # set at teardown: ends answers that hang

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/predictions/alphanet"

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up on an answer is expected
            super().handle_error(request, client_address)

    def requests_for(self, photo: Path) -> int:
        return sum(received.image == photo.read_bytes() for received in self.received)


class FakeApiHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if urlsplit(self.path).path != "/predictions/alphanet":
            return reply_error(self, 404, "no such model")
        image, trimap = split_upload(self.headers["Content-Type"], body)
        query = {name: values[0] for name, values in parse_qs(urlsplit(self.path).query).items()}
        received = Received(image, trimap, self.headers["Content-Type"], query,
                            {name.lower(): value for name, value in self.headers.items()}, time.monotonic())
        with self.server.lock:
            self.server.received.append(received)
            number = len(self.server.received)
        self.server.behaviour(self, received, number)

    def log_message(self, *args):  # quiet test output
        pass


def split_upload(content_type: str, body: bytes) -> tuple:
    """(image, trimap or None) from a raw body or a multipart form."""
    if not content_type.startswith("multipart/form-data"):
        return body, None
    form = BytesParser(policy=policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
             for part in form.iter_parts()}
    return parts["image"], parts.get("trimap")


def reply(handler, status: int, body: bytes, content_type: str, headers: Optional[dict] = None) -> None:
    handler.send_response(status)
    for name, value in {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})}.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def reply_error(handler, status: int, message: str, headers: Optional[dict] = None) -> None:
    body = json.dumps({"code": status, "type": "test", "message": message}).encode()
    reply(handler, status, body, "application/json", headers)


def answer_image(handler, received: Received, number: int = 0) -> None:
    """The API's answer: the decoded photo as PNG (RGBA), or JPEG when asked for format=jpeg."""
    try:
        image = Image.open(io.BytesIO(received.image))
        image.load()
    except UnidentifiedImageError:
        return reply_error(handler, 400, "the image is not an image file Pillow can read")
    if received.query.get("format") == "jpeg":
        return reply(handler, 200, encode(image.convert("RGB"), "JPEG"), "image/jpeg")
    reply(handler, 200, encode(image.convert("RGBA"), "PNG"), "image/png")


def first_answers(count: int, status: int, headers: Optional[dict] = None):
    """The first `count` requests get `status` (a JSON error), the rest the image."""
    def behaviour(handler, received, number):
        if number <= count:
            return reply_error(handler, status, "busy", headers)
        answer_image(handler, received)
    return behaviour


def hang_first(seconds: float):
    def behaviour(handler, received, number):
        if number == 1:
            handler.server.released.wait(seconds)
        answer_image(handler, received)
    return behaviour


def drop_first(handler, received, number):
    """The first request's connection is closed without an answer."""
    if number > 1:
        answer_image(handler, received)


def truncate_first(handler, received, number):
    """The first answer promises a whole PNG and stops halfway."""
    if number > 1:
        return answer_image(handler, received)
    body = encode(Image.new("RGBA", (8, 8)), "PNG")
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body[:len(body) // 2])


def always(status: int, headers: Optional[dict] = None):
    def behaviour(handler, received, number):
        reply_error(handler, status, "busy", headers)
    return behaviour


@pytest.fixture
def serve():
    """serve(behaviour) -> a started FakeApi; all are shut down after the test."""
    servers = []

    def start(behaviour) -> FakeApi:
        server = FakeApi(behaviour)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.released.set()
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/predictions/alphanet"


# --- Photos -----------------------------------------------------------------------------------------------

def encode(image: Image.Image, file_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, file_format)
    return buffer.getvalue()


def write_photo(path: Path, seed: int) -> Path:
    """A small photo, different for each seed (so the server can tell which photo a request carries)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = bytes((seed * 37 + i * 11) % 256 for i in range(12 * 8 * 3))
    image = Image.frombytes("RGB", (12, 8), pixels)
    path.write_bytes(encode(image.convert("P") if path.suffix == ".gif" else image, FORMATS[path.suffix.lower()]))
    return path


def write_photos(root: Path, relative_paths: list) -> list:
    return [write_photo(root / relative, seed) for seed, relative in enumerate(relative_paths)]


def decoded(path: Path, mode: str = "RGBA") -> bytes:
    return Image.open(path).convert(mode).tobytes()


def run(photos, out: Path, urls: list, **options):
    return process(photos, out, urls, retry=options.pop("retry", FAST_RETRY), timeout_s=options.pop("timeout_s", 5),
                   **options)


# --- Outputs ----------------------------------------------------------------------------------------------

def test_every_photo_is_written_into_the_mirrored_tree(serve, tmp_path):
    api = serve(answer_image)
    names = ["a.jpg", "shoes/red.PNG", "shoes/deep/b.webp", "c.JPEG", "d.bmp", "e.tif", "f.tiff", "g.gif"]
    photos = write_photos(tmp_path / "photos", names)
    (tmp_path / "photos" / "notes.txt").write_text("not a photo")
    summary = run([tmp_path / "photos"], tmp_path / "out", [api.url], concurrency=3)
    outputs = [tmp_path / "out" / Path(name).with_suffix(".png") for name in names]
    assert summary.failed == {} and sorted(summary.done) == sorted(outputs)
    for photo, output in zip(photos, outputs):
        assert decoded(output) == decoded(photo)
    assert len(api.received) == len(names)
    assert sorted(path.name for path in (tmp_path / "out").rglob("*") if path.is_file()) == \
           sorted(output.name for output in outputs)


def test_photos_named_directly_go_to_the_root_of_the_output(serve, tmp_path):
    api = serve(answer_image)
    photos = write_photos(tmp_path, ["x/one.jpg", "y/two.png"])
    summary = run(photos, tmp_path / "out", [api.url])
    assert sorted(summary.done) == [tmp_path / "out" / "one.png", tmp_path / "out" / "two.png"]


def test_composite_options_reach_the_server_and_a_jpeg_answer_is_written_as_jpg(serve, tmp_path, capsys):
    api = serve(answer_image)
    photo = write_photo(tmp_path / "photos" / "shoes" / "red.png", 1)
    code = main([str(tmp_path / "photos"), "--out", str(tmp_path / "out"), "--url", api.url,
                 "--output", "composite", "--bg", "#102030", "--format", "jpeg"])
    assert code == 0
    output = tmp_path / "out" / "shoes" / "red.jpg"
    assert Image.open(output).format == "JPEG" and Image.open(output).size == Image.open(photo).size
    options = {"output": "composite", "bg": "#102030", "format": "jpeg"}
    (received,) = api.received
    assert received.query == options
    assert {name: received.headers[f"x-{name}"] for name in options} == options
    assert received.content_type == "application/octet-stream"
    assert "done: 1" in capsys.readouterr().out


def test_two_photos_with_one_output_name_are_not_both_sent(serve, tmp_path):
    api = serve(answer_image)
    photos = write_photos(tmp_path / "photos", ["a.jpg", "a.png"])
    summary = run([tmp_path / "photos"], tmp_path / "out", [api.url])
    assert summary.done == [tmp_path / "out" / "a.png"] and list(summary.failed) == [photos[1]]
    assert "overwrite" in summary.failed[photos[1]]
    assert len(api.received) == 1


def test_trimaps_with_matching_stems_are_sent_as_multipart(serve, tmp_path):
    api = serve(answer_image)
    with_trimap, without = write_photos(tmp_path / "photos", ["shoes/red.jpg", "blue.jpg"])
    trimap = tmp_path / "trimaps" / "shoes" / "red.png"
    trimap.parent.mkdir(parents=True)
    Image.new("L", (12, 8), 128).save(trimap)
    summary = run([tmp_path / "photos"], tmp_path / "out", [api.url], trimap_dir=tmp_path / "trimaps")
    assert len(summary.done) == 2
    by_image = {received.image: received for received in api.received}
    assert by_image[with_trimap.read_bytes()].trimap == trimap.read_bytes()
    assert by_image[with_trimap.read_bytes()].content_type.startswith("multipart/form-data")
    assert by_image[without.read_bytes()].trimap is None
    assert by_image[without.read_bytes()].content_type == "application/octet-stream"


# --- Retries ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [503, 429, 507])
def test_busy_answers_are_retried(serve, tmp_path, status):
    api = serve(first_answers(3, status))
    photos = write_photos(tmp_path / "photos", ["a.jpg", "b.jpg"])
    summary = run([tmp_path / "photos"], tmp_path / "out", [api.url])
    assert summary.failed == {} and len(summary.done) == 2
    assert len(api.received) == 2 + 3
    assert decoded(tmp_path / "out" / "a.png") == decoded(photos[0])


def test_retry_after_is_honoured(serve, tmp_path):
    api = serve(first_answers(1, 503, {"Retry-After": "1"}))
    write_photo(tmp_path / "photos" / "a.jpg", 0)
    summary = run([tmp_path / "photos"], tmp_path / "out", [api.url])
    assert len(summary.done) == 1
    first, second = api.received
    assert second.at - first.at >= 0.95  # FAST_RETRY alone waits at most 0.05 s


@pytest.mark.parametrize("behaviour", [hang_first(3.0), drop_first, truncate_first],
                         ids=["timeout", "dropped", "truncated"])
def test_timeouts_and_broken_connections_are_retried(serve, tmp_path, behaviour):
    api = serve(behaviour)
    photo = write_photo(tmp_path / "photos" / "a.jpg", 0)
    summary = run([tmp_path / "photos"], tmp_path / "out", [api.url], timeout_s=1.0)
    assert summary.failed == {} and len(api.received) == 2
    assert decoded(tmp_path / "out" / "a.png") == decoded(photo)


def test_a_bad_request_is_not_retried_and_fails_the_run(serve, tmp_path, capsys):
    api = serve(answer_image)
    good = write_photo(tmp_path / "photos" / "good.jpg", 0)
    broken = tmp_path / "photos" / "broken.jpg"
    broken.write_bytes(b"not an image at all")
    code = main([str(tmp_path / "photos"), "--out", str(tmp_path / "out"), "--url", api.url,
                 "--backoff-base", "0.01"])
    assert code == 1
    assert api.requests_for(broken) == 1 and api.requests_for(good) == 1
    assert (tmp_path / "out" / "good.png").exists() and not (tmp_path / "out" / "broken.png").exists()
    assert f"failed {broken}: HTTP 400: the image is not an image file Pillow can read" in capsys.readouterr().out


def test_a_server_fault_on_one_photo_is_named_not_retried_and_the_run_goes_on(serve, tmp_path):
    def fault_on_the_first(handler, received, number):
        if number == 1:
            return reply_error(handler, 500, "the server failed on this request (ZeroDivisionError: division by zero)")
        answer_image(handler, received)

    api = serve(fault_on_the_first)
    first, _ = write_photos(tmp_path / "photos", ["a.jpg", "b.jpg"])
    summary = run([tmp_path / "photos"], tmp_path / "out", [api.url], concurrency=1)
    assert summary.failed == {first: "HTTP 500: the server failed on this request (ZeroDivisionError: division by "
                                     "zero)"}
    assert api.requests_for(first) == 1 and summary.done == [tmp_path / "out" / "b.png"]


def test_gives_up_after_the_last_attempt(serve, tmp_path):
    api = serve(always(503))
    photo = write_photo(tmp_path / "photos" / "a.jpg", 0)
    summary = run([tmp_path / "photos"], tmp_path / "out", [api.url],
                  retry=RetryPolicy(base_s=0.01, cap_s=0.01, max_attempts=3))
    assert len(api.received) == 3
    assert summary.exit_code == 1 and "gave up after 3 attempts" in summary.failed[photo]
    assert "HTTP 503" in summary.failed[photo]


# --- Resuming ---------------------------------------------------------------------------------------------

def test_a_second_run_skips_finished_photos_and_removes_temp_files(serve, tmp_path):
    api = serve(answer_image)
    done, partial = write_photos(tmp_path / "photos", ["done.jpg", "sub/partial.jpg"])
    finished = tmp_path / "out" / "done.png"
    finished.parent.mkdir(parents=True)
    finished.write_bytes(b"written by an earlier run")
    temp = tmp_path / "out" / "sub" / f".partial.png.0123abcd{TEMP_SUFFIX}"
    temp.parent.mkdir()
    temp.write_bytes(b"half a PNG")
    summary = run([tmp_path / "photos"], tmp_path / "out", [api.url])
    assert summary.skipped == [finished] and summary.done == [tmp_path / "out" / "sub" / "partial.png"]
    assert api.requests_for(done) == 0 and api.requests_for(partial) == 1
    assert finished.read_bytes() == b"written by an earlier run"
    assert not temp.exists()


def test_a_write_that_fails_leaves_neither_output_nor_temp_file(tmp_path):
    with pytest.raises(TypeError):
        write_atomically(tmp_path / "a.png", "text where bytes belong")
    assert list(tmp_path.iterdir()) == []


def test_outputs_inside_the_photo_folder_are_not_sent_as_photos(serve, tmp_path):
    api = serve(answer_image)
    write_photos(tmp_path / "photos", ["a.jpg", "b.png"])
    first = run([tmp_path / "photos"], tmp_path / "photos" / "cutouts", [api.url])
    second = run([tmp_path / "photos"], tmp_path / "photos" / "cutouts", [api.url])
    assert len(first.done) == 2 and len(second.skipped) == 2 and second.done == []
    assert len(api.received) == 2


@pytest.fixture
def ctrl_c_works():
    """SIGINT raises KeyboardInterrupt, here and in the clients started, as in a terminal. A runner that starts the
    tests in the background (`make test &` in a script) has SIGINT ignored, and children inherit that."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_at_once_and_prints_the_summary(serve, tmp_path, ctrl_c_works):
    api = serve(hang_first(30.0))
    write_photos(tmp_path / "photos", ["a.jpg", "b.jpg", "c.jpg"])
    command = [sys.executable, "-m", "alphanet.client", str(tmp_path / "photos"), "--out", str(tmp_path / "out"),
               "--url", api.url, "--concurrency", "1"]
    client = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    wait_until(lambda: api.received, 15, "the client sent no request", interval_s=0.05)
    interrupted_at = time.monotonic()
    client.send_signal(signal.SIGINT)
    stdout, _ = client.communicate(timeout=10)
    assert client.returncode == 130
    assert time.monotonic() - interrupted_at < 3
    assert "done: 0" in stdout and "interrupted: 3 photo(s) unfinished" in stdout
    assert len(api.received) == 1


def test_ctrl_c_caught_by_another_thread_still_stops_at_once(serve, tmp_path, ctrl_c_works):
    # The OS may hand SIGINT to any thread; Python then only flags it, and the main thread must wake to notice.
    api = serve(hang_first(30.0))
    write_photos(tmp_path / "photos", ["a.jpg", "b.jpg"])

    def interrupt_from_this_thread():
        while not api.received:
            time.sleep(0.05)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    threading.Thread(target=interrupt_from_this_thread, daemon=True).start()
    started = time.monotonic()
    assert main([str(tmp_path / "photos"), "--out", str(tmp_path / "out"), "--url", api.url,
                 "--concurrency", "1"]) == 130
    assert time.monotonic() - started < 5  # not the 30 s the first answer takes


# --- Several servers --------------------------------------------------------------------------------------

def test_two_servers_share_the_photos(serve, tmp_path):
    first, second = serve(answer_image), serve(answer_image)
    write_photos(tmp_path / "photos", [f"{n}.jpg" for n in range(6)])
    servers = f"{first.url},127.0.0.1:{second.server_port}"  # a bare host:port means its /predictions/alphanet
    assert main([str(tmp_path / "photos"), "--out", str(tmp_path / "out"), "--url", servers]) == 0
    assert len(first.received) == 3 and len(second.received) == 3


def test_a_dead_server_among_two_does_not_stop_the_job(serve, tmp_path):
    alive = serve(answer_image)
    write_photos(tmp_path / "photos", [f"{n}.jpg" for n in range(6)])
    summary = run([tmp_path / "photos"], tmp_path / "out", [closed_port_url(), alive.url], concurrency=2)
    assert summary.failed == {} and len(summary.done) == 6
    assert len(alive.received) == 6


def test_a_retry_goes_to_another_server(serve, tmp_path):
    """Round robin alone would send photo a's retry back to `busy`: photo b's request took `idle`'s turn
    while a waited out the Retry-After."""
    busy, idle = serve(always(503, {"Retry-After": "1"})), serve(answer_image)
    write_photos(tmp_path / "photos", ["a.jpg", "b.jpg"])
    summary = run([tmp_path / "photos"], tmp_path / "out", [busy.url, idle.url], concurrency=2,
                  retry=RetryPolicy(base_s=0.01, cap_s=0.01, max_attempts=2))
    assert summary.failed == {} and len(summary.done) == 2
    assert len(busy.received) == 1 and len(idle.received) == 2


def test_a_server_that_keeps_failing_is_passed_over(serve, tmp_path):
    failing, healthy = serve(always(503)), serve(answer_image)
    write_photos(tmp_path / "photos", [f"{n}.jpg" for n in range(8)])
    summary = run([tmp_path / "photos"], tmp_path / "out", [failing.url, healthy.url], concurrency=1,
                  cooldown_s=60)
    assert len(summary.done) == 8
    assert len(failing.received) == FAILURES_BEFORE_COOLDOWN
