"""The try-it page (alphanet.demo) in a real browser: Debian's Chromium, headless, driven by Selenium through
Debian's chromedriver. The page comes from the launcher as `make demo` runs it, and talks to a real TorchServe
with the production profile (token authorization on). Skipped, saying why, where Chromium is not installed:
`make demo-browser` installs it (.ci/run does).

`ALPHANET_DEMO_SCREENSHOT=docs/demo.jpg pytest tests/test_demo_page.py` refreshes the README's screenshot.
"""
import base64
import io
import json
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from alphanet.serving.process_group import stop_process_group
from tests.test_triton_live import STOP_LIMIT_S, start_triton
from tests.torchserve import free_ports, running_torchserve
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
DEMO_PHOTO = REPO / "alphanet" / "assets" / "demo.jpg"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium and chromium-driver packages
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.slow,
    # a mark rather than a skip in the browser fixture: decided before the servers start
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason=f"no {CHROMIUM} or {CHROMEDRIVER}: `make demo-browser` installs Debian's chromium and "
                              "chromium-driver (as root, with apt)"),
]
# Headless, and silent on the network: no update checks, sync, QUIC probes or other background requests.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,800"]
# The production profile's limits, but a 2 MB body limit, so that a too-large upload is quick to send.
MAX_REQUEST_BYTES = 2_000_000
ANSWER_TIMEOUT_S = 180
LAUNCH_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def torchserve(model_store, tmp_path_factory):
    with running_torchserve("config.production.properties", model_store, tmp_path_factory.mktemp("demo"),
                            settings={"max_request_size": MAX_REQUEST_BYTES},
                            environment={"ALPHANET_THREADS": "1"}) as server:
        yield server


@pytest.fixture(scope="module")
def inference_key(torchserve) -> str:
    return json.loads(torchserve.key_file.read_text())["inference"]["key"]


@pytest.fixture(scope="module")
def launcher(torchserve, tmp_path_factory):
    """`python -m alphanet.demo` for that server: the page's address, and the file its output goes to."""
    with launched(tmp_path_factory.mktemp("launcher"), "--torchserve", torchserve.inference) as page_and_log:
        yield page_and_log


@pytest.fixture(scope="module")
def triton_launcher(torchserve, model_store, tmp_path_factory):
    """The launcher offering Triton's alphanet_cutout too, served by `make serve-triton`'s server."""
    triton = start_triton(model_store / "alphanet.pt", tmp_path_factory.mktemp("triton"))
    try:
        with launched(tmp_path_factory.mktemp("launcher"), "--torchserve", torchserve.inference,
                      "--triton", triton.http) as page_and_log:
            yield page_and_log
    finally:
        stop_process_group(triton.process, STOP_LIMIT_S)


@contextmanager
def launched(folder: Path, *arguments: str):
    """The launcher with `arguments`, as `make demo` runs it, on a free port, its output in folder/launcher.log."""
    (port,) = free_ports(1)
    log = folder / "launcher.log"
    command = [sys.executable, "-m", "alphanet.demo", *arguments, "--port", str(port), "--no-browser"]
    with open(log, "w") as output:
        process = subprocess.Popen(command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until(lambda: answers(url), LAUNCH_TIMEOUT_S, lambda: f"no page at {url}\n{log.read_text()}",
                   hopeless=lambda: process.poll() is not None and f"the launcher exited\n{log.read_text()}")
        yield url, log
    finally:
        process.terminate()
        process.wait(timeout=30)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, launcher):
    """The page, freshly loaded, with no inference key remembered."""
    url, _ = launcher
    return loaded(browser, url)


def loaded(browser, url: str):
    browser.get(url)
    browser.execute_script("sessionStorage.clear()")
    browser.get(url)
    WebDriverWait(browser, 30).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, "#server option"))
    return browser


# --- helpers ---------------------------------------------------------------------------------------

def type_key(browser, key: str) -> None:
    browser.find_element(By.ID, "key").send_keys(key)


def upload(browser, photo: Path) -> WebElement:
    """Picks `photo` in the page's file input; its card once the answers (or an error) are shown."""
    browser.find_element(By.ID, "photos").send_keys(str(photo))
    return finished(browser, browser.find_elements(By.CSS_SELECTOR, ".card")[-1])


def finished(browser, card: WebElement, showing: str = "") -> WebElement:
    """`card` once it shows an error, or its answers (with the text `showing` among them)."""
    def shown(_) -> bool:
        state = set(card.get_attribute("class").split())
        return "failed" in state or ("done" in state and showing in card.text)
    WebDriverWait(browser, ANSWER_TIMEOUT_S).until(shown)
    return card


def error_shown(card: WebElement) -> str:
    assert "failed" in card.get_attribute("class").split(), card.text
    return card.find_element(By.CSS_SELECTOR, ".error").text


def tile_image(browser, card: WebElement, output: str) -> Image.Image:
    """The image the card shows for `output`, read back from the page."""
    img = card.find_element(By.CSS_SELECTOR, f'figure[data-output="{output}"] img')
    encoded = browser.execute_async_script(
        "const [img, done] = arguments;"
        "const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());"
        "let text = ''; for (const byte of bytes) text += String.fromCharCode(byte);"
        "done(btoa(text));", img)
    return Image.open(io.BytesIO(base64.b64decode(encoded)))


def save_screenshot(browser, path: Path) -> None:
    """The page as JPEG (a PNG of photos is several times larger)."""
    screenshot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    screenshot.save(path, "JPEG", quality=85)


def assert_demo_cutout(cutout: Image.Image) -> np.ndarray:
    """Checks the demo photo's cutout (the photo's size, an alpha not all one value); returns its alpha."""
    assert cutout.mode == "RGBA" and cutout.size == Image.open(DEMO_PHOTO).size
    alpha = np.asarray(cutout.getchannel("A"))
    assert alpha.min() < alpha.max()
    return alpha


def assert_broken_file_refused(browser, folder: Path) -> None:
    broken = folder / "broken.jpg"
    broken.write_text("this is not a photo")
    message = error_shown(upload(browser, broken))
    assert message.startswith("400 not_an_image: the image is not an image file Pillow can read")
    assert "Traceback" not in browser.page_source


# --- tests -----------------------------------------------------------------------------------------

def test_the_demo_photo_is_cut_out(page, inference_key):
    type_key(page, inference_key)
    card = upload(page, DEMO_PHOTO)
    assert "done" in card.get_attribute("class").split(), card.text

    cutout = tile_image(page, card, "cutout")
    alpha = assert_demo_cutout(cutout)
    np.testing.assert_array_equal(np.asarray(tile_image(page, card, "alpha").convert("L")), alpha)
    trimap = tile_image(page, card, "trimap")
    assert trimap.size == cutout.size and set(np.unique(trimap)) <= {0, 128, 255}
    for output in ("on-white", "on-colour"):
        assert tile_image(page, card, output).size == cutout.size

    downloads = [link.get_attribute("download") for link in card.find_elements(By.CSS_SELECTOR, "a[download]")]
    assert downloads == [f"demo-{name}.png" for name in ("cutout", "on-white", "on-2f6fb0", "alpha", "trimap")]
    assert re.search(r"cutout in \d+\.\d\d s, trimap in \d+\.\d\d s", card.text)

    if os.environ.get("ALPHANET_DEMO_SCREENSHOT"):
        save_screenshot(page, REPO / os.environ["ALPHANET_DEMO_SCREENSHOT"])

    # a new colour: the composite is redrawn, the cutout over it
    page.execute_script("const colour = document.getElementById('colour');"
                        "colour.value = '#ff0000'; colour.dispatchEvent(new Event('change'));")
    link = card.find_element(By.CSS_SELECTOR, 'figure[data-output="on-colour"] a')
    WebDriverWait(page, 10).until(lambda _: link.get_attribute("download") == "demo-on-ff0000.png")
    on_red = np.asarray(tile_image(page, card, "on-colour").convert("RGB"))
    assert (on_red[alpha == 0] == [255, 0, 0]).all()
    np.testing.assert_array_equal(on_red[alpha == 255], np.asarray(cutout)[alpha == 255][:, :3])


def test_a_broken_file_shows_the_apis_message(page, inference_key, tmp_path):
    type_key(page, inference_key)
    assert_broken_file_refused(page, tmp_path)


def test_uploads_over_the_limits_show_the_refusal(page, inference_key, tmp_path):
    """The handler's pixel limit answers with the API's JSON message; TorchServe's body limit with a bare 413."""
    too_many_pixels = tmp_path / "huge.png"
    Image.new("L", (5001, 5001)).save(too_many_pixels)  # 25 MP of one grey: a small file
    too_many_bytes = tmp_path / "too-large.png"
    too_many_bytes.write_bytes(os.urandom(MAX_REQUEST_BYTES + 1))
    type_key(page, inference_key)
    assert error_shown(upload(page, too_many_pixels)).startswith(
        "422 too_many_pixels: the image has more than 25000000 pixels")
    assert error_shown(upload(page, too_many_bytes)) == "413 Request Entity Too Large"


def test_without_the_key_the_servers_refusal_is_shown(page):
    message = error_shown(upload(page, DEMO_PHOTO))
    assert "Token Authorization failed" in message


def test_the_key_is_kept_for_the_browser_session_and_never_logged(page, launcher, torchserve, inference_key,
                                                                   tmp_path):
    url, launcher_log = launcher
    type_key(page, inference_key)
    page.get(url)
    assert page.find_element(By.ID, "key").get_attribute("value") == inference_key

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n")  # sent with the key: past the token check, refused as no image
    assert "Token" not in error_shown(upload(page, broken))
    for log in [launcher_log, *torchserve.logs.glob("*.log")]:
        assert inference_key not in log.read_text(), log


def test_a_users_trimap_decides_the_known_regions(page, inference_key, tmp_path):
    photo = tmp_path / "small.png"
    Image.open(DEMO_PHOTO).resize((96, 64)).save(photo)
    levels = np.full((64, 96), 128, np.uint8)
    levels[:, :32], levels[:, 64:] = 0, 255
    trimap = tmp_path / "small-trimap.png"
    Image.fromarray(levels).save(trimap)

    type_key(page, inference_key)
    card = upload(page, photo)
    card.find_element(By.CSS_SELECTOR, "input.trimap").send_keys(str(trimap))
    card = finished(page, card, showing="trimap: small-trimap.png")
    assert "done" in card.get_attribute("class").split(), card.text
    np.testing.assert_array_equal(np.asarray(tile_image(page, card, "trimap")), levels)
    alpha = np.asarray(tile_image(page, card, "alpha").convert("L"))
    assert (alpha[levels == 0] == 0).all() and (alpha[levels == 255] == 255).all()


def test_the_page_takes_cutouts_from_tritons_alphanet_cutout_too(browser, triton_launcher, tmp_path):
    url, _ = triton_launcher
    page = loaded(browser, url)
    Select(page.find_element(By.ID, "server")).select_by_value("triton")
    card = upload(page, DEMO_PHOTO)
    assert "done" in card.get_attribute("class").split() and "Triton" in card.text, card.text
    assert_demo_cutout(tile_image(page, card, "cutout"))
    assert_broken_file_refused(page, tmp_path)
