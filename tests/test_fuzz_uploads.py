"""Uploads a hostile or careless client sends, against a real TorchServe serving the archive `make mar` builds:
no answer of 500 or more, a JSON body with every 4xx, and the workers READY afterwards, none of them restarted.

- Property-based (hypothesis): random photos of 1x1 to 64x64 pixels in every format and mode Pillow writes, with
  and without a user trimap, in every output mode. The server must answer what decoding the upload here says:
  200 with the photo's size, or the very 4xx.
- Every format and mode at 1x1 pixel, the smallest photo there is.
- Mutations: for each format, a valid file truncated at many points and with header bits flipped; headers each of
  Pillow's decoders refuses in its own way; decompression bombs; animations of odd and even frame counts.
- The batch path: tiny photos and a broken file in one batch.
- `alphanet client` over a folder of such files: it names each broken one, skips it and writes the others.
"""
import io
import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from PIL import Image

from alphanet.client import process
from alphanet.errors import BadRequest
from alphanet.serving.imageio import DEFAULT_MAX_PIXELS, decode_request
from alphanet.options import OUTPUT_MODES
from tests.broken_images import (WRITABLE, animations, encoded, header_flips, pixel_bombs, random_image,
                                 refused_headers, truncations)
from tests.torchserve import Server, batched_copy, running_torchserve

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:IM image format is deprecated:DeprecationWarning")]

REQUEST_TIMEOUT_S = 120
MAX_SIDE = 64
MUTATIONS_PER_FORMAT = 8  # truncations, and as many header flips


@pytest.fixture(scope="module")
def server(model_store, tmp_path_factory):
    """The development profile, as `make serve` runs it: the archive's 2 workers, the 25 MP limit."""
    with running_torchserve("config.properties", model_store, tmp_path_factory.mktemp("fuzz")) as server:
        yield server


@pytest.fixture(scope="module")
def first_workers(server) -> dict:
    return workers(server)


def workers(server: Server, model: str = "alphanet") -> dict:
    """Worker pid -> status, from the management API."""
    description = requests.get(f"{server.management}/models/{model}", timeout=30).json()[0]
    return {worker["pid"]: worker["status"] for worker in description["workers"]}


def assert_workers_unchanged(server: Server, first_workers: dict) -> None:
    """The same worker processes as before the first upload, every one READY: none was restarted."""
    assert workers(server) == {pid: "READY" for pid in first_workers}


# --- sending, and what every answer must be ---------------------------------------------------------------

def send(server: Server, image: bytes, trimap: Optional[bytes] = None, output: str = "alpha", bg: Optional[str] = None,
         file_format: Optional[str] = None, model: str = "alphanet") -> requests.Response:
    """POST the image as the body, or with its trimap as multipart; the options as headers."""
    options = {"X-Output": output, "X-Bg": bg, "X-Format": file_format}
    headers = {name: value for name, value in options.items() if value is not None}
    url = f"{server.inference}/predictions/{model}"
    if trimap is None:
        headers["Content-Type"] = "application/octet-stream"
        return requests.post(url, data=image, headers=headers, timeout=REQUEST_TIMEOUT_S)
    return requests.post(url, files={"image": image, "trimap": trimap}, headers=headers, timeout=REQUEST_TIMEOUT_S)


def assert_answered(response: requests.Response, what: str) -> None:
    """An image, or a 4xx with the JSON error body: never 500 or more."""
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        assert response.headers["Content-Type"] == "application/json", what
        error = response.json()
        assert error["code"] == response.status_code and error["type"] and error["message"], what


def assert_answered_as_decoded_here(response: requests.Response, image: bytes, trimap: Optional[bytes],
                                    output: str, bg: Optional[str] = None, file_format: Optional[str] = None) -> None:
    """The server's answer is what decoding the request in this process says: the same 4xx, or 200 with an image
    of the photo's size (as displayed)."""
    try:
        decoded = decode_request(image, trimap, output, bg, file_format, DEFAULT_MAX_PIXELS)
    except BadRequest as refusal:
        assert (response.status_code, response.json()["type"]) == (refusal.status, refusal.kind), response.text
        return
    assert response.status_code == 200, response.text[:300]
    height, width = decoded.image.shape[:2]
    assert Image.open(io.BytesIO(response.content)).size == (width, height)


def random_trimap(width: int, height: int, seed: int) -> bytes:
    """A grey PNG of background, foreground, unknown and other grey levels (all unknown but 0 and 255)."""
    levels = np.random.default_rng(seed).choice(np.array([0, 255, 128, 7], np.uint8), (height, width))
    return encoded(Image.fromarray(levels), "PNG")


def displayed_size(image: bytes, fallback: tuple) -> tuple:
    """The upload's width and height as Pillow reads its header, or `fallback` when it cannot."""
    try:
        return Image.open(io.BytesIO(image)).size
    except Exception:  # any broken header: the trimap then only needs some size
        return fallback


# --- random photos, 1x1 to 64x64 -----------------------------------------------------------------------------

@st.composite
def uploads(draw) -> dict:
    """A photo file of a random format, mode and size, maybe a trimap, and the output options."""
    file_format = draw(st.sampled_from(sorted(WRITABLE)))
    mode = draw(st.sampled_from(WRITABLE[file_format]))
    width, height = draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    try:
        image = encoded(random_image(mode, width, height, seed), file_format)
    except (OSError, ValueError):  # a size this format cannot hold
        reject()
    trimap = random_trimap(*displayed_size(image, (width, height)), seed) if draw(st.booleans()) else None
    output = draw(st.sampled_from(OUTPUT_MODES))
    composite = output == "composite"
    bg = draw(st.sampled_from([None, "black", "#1e90ff"])) if composite else None
    file_format = draw(st.sampled_from([None, "png", "jpeg"])) if composite else None
    return dict(image=image, trimap=trimap, output=output, bg=bg, file_format=file_format)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(upload=uploads())
def test_random_photos_are_answered_as_they_decode(server, first_workers, upload):
    response = send(server, **upload)
    assert_answered(response, "a random photo")
    assert_answered_as_decoded_here(response, **upload)
    assert_workers_unchanged(server, first_workers)


def one_pixel_uploads() -> dict:
    """Name -> upload: 1x1 pixel, the smallest photo, in every format and mode, each output mode in turn, every
    other one with a trimap."""
    outputs = itertools.cycle(OUTPUT_MODES)
    cases = [(file_format, mode) for file_format, modes in WRITABLE.items() for mode in modes]
    uploads = {}
    for index, (file_format, mode) in enumerate(cases):
        image = encoded(random_image(mode, 1, 1, seed=index), file_format)
        trimap = random_trimap(*displayed_size(image, (1, 1)), seed=index) if index % 2 else None
        uploads[f"a 1x1 {file_format} in mode {mode}"] = dict(image=image, trimap=trimap, output=next(outputs))
    return uploads


def sent_two_at_a_time(server: Server, uploads: dict) -> dict:
    """Name -> response, with a request in flight for each of the archive's 2 workers."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(uploads, pool.map(lambda upload: send(server, **upload), uploads.values())))


def test_every_format_and_mode_at_one_pixel(server, first_workers):
    uploads = one_pixel_uploads()
    for name, response in sent_two_at_a_time(server, uploads).items():
        assert_answered(response, name)
        assert_answered_as_decoded_here(response, **uploads[name])
    assert_workers_unchanged(server, first_workers)


# --- broken files -----------------------------------------------------------------------------------------

def mutated_files() -> dict:
    """Name -> file: each format's 16x12 file (in RGB where it has it), truncated and with header bits flipped."""
    files = {}
    for seed, (file_format, modes) in enumerate(WRITABLE.items()):
        mode = "RGB" if "RGB" in modes else modes[0]
        valid = encoded(random_image(mode, 16, 12, seed), file_format)
        for cut in truncations(valid, MUTATIONS_PER_FORMAT):
            files[f"{file_format} cut to {len(cut)} of {len(valid)} bytes"] = cut
        for index, flipped in enumerate(header_flips(valid, MUTATIONS_PER_FORMAT, seed)):
            files[f"{file_format} with header bit flip {index}"] = flipped
    return files


def test_truncated_and_flipped_files_of_every_format(server, first_workers):
    statuses = Counter()
    uploads = {name: dict(image=image) for name, image in mutated_files().items()}
    for name, response in sent_two_at_a_time(server, uploads).items():
        assert_answered(response, name)
        statuses[response.status_code] += 1
    print(f"truncated and flipped files, answers by status: {dict(statuses)}")
    assert_workers_unchanged(server, first_workers)


def test_headers_pillow_refuses_are_4xx(server, first_workers):
    """Each of these made TorchServe answer 503: OSError, NotImplementedError, ValueError from the decoders."""
    for name, image in refused_headers().items():
        response = send(server, image)
        assert_answered(response, name)
        assert response.status_code == 400, f"{name}: {response.text}"
    assert_workers_unchanged(server, first_workers)


def test_decompression_bombs_are_too_many_pixels(server, first_workers):
    for name, image in pixel_bombs(DEFAULT_MAX_PIXELS).items():
        response = send(server, image)
        assert_answered(response, name)
        assert (response.status_code, response.json()["type"]) == (422, "too_many_pixels"), name
    assert_workers_unchanged(server, first_workers)


def test_animations_are_answered_with_their_first_frames_size(server, first_workers):
    for name, (image, size) in animations().items():
        response = send(server, image, output="cutout")
        assert_answered(response, name)
        assert response.status_code == 200, f"{name}: {response.text}"
        assert Image.open(io.BytesIO(response.content)).size == size, name
    assert_workers_unchanged(server, first_workers)


# --- the batch path, and the client -------------------------------------------------------------------------

def test_tiny_photos_and_a_broken_file_in_one_batch(server, first_workers):
    one_pixel = encoded(random_image("RGB", 1, 1, seed=0), "PNG")
    uploads = [dict(image=one_pixel, output="cutout"),
               dict(image=one_pixel, trimap=random_trimap(1, 1, seed=0), output="composite"),
               dict(image=refused_headers()["DDS in an unknown pixel format"]),
               dict(image=encoded(random_image("L", 64, 1, seed=0), "GIF"), output="trimap")]
    with batched_copy(server, "alphanet_fuzz_batched", len(uploads)) as model:
        with ThreadPoolExecutor(max_workers=len(uploads)) as pool:
            responses = list(pool.map(lambda upload: send(server, model=model, **upload), uploads))
        assert [response.status_code for response in responses] == [200, 200, 400, 200]
        assert [Image.open(io.BytesIO(responses[i].content)).size for i in (0, 1, 3)] == [(1, 1), (1, 1), (64, 1)]
        assert set(workers(server, model).values()) == {"READY"}
    assert_workers_unchanged(server, first_workers)


def test_client_names_each_broken_file_and_writes_the_others(server, first_workers, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "one_pixel.png").write_bytes(encoded(random_image("RGB", 1, 1, seed=0), "PNG"))
    (photos / "animated.gif").write_bytes(animations()["GIF animation of 3 frame(s)"][0])
    broken = {photos / "bit_depth_7.bmp": refused_headers()["BMP of 7 bits a pixel"],
              photos / "text_bomb.png": refused_headers()["PNG with a text chunk bomb"],
              photos / "cut.jpg": encoded(random_image("RGB", 16, 12, seed=0), "JPEG")[:200]}
    for path, image in broken.items():
        path.write_bytes(image)
    summary = process([photos], tmp_path / "out", [f"{server.inference}/predictions/alphanet"], concurrency=2)
    assert sorted(path.name for path in summary.done) == ["animated.png", "one_pixel.png"]
    assert set(summary.failed) == set(broken)
    assert all(reason.startswith("HTTP 400: the image could not be decoded") for reason in summary.failed.values())
    assert_workers_unchanged(server, first_workers)
