"""`python -m alphanet.demo`: serve the try-it page on http://127.0.0.1:8090 and open it in a browser.

    python -m alphanet.demo                                  # the TorchServe `make serve` runs, on :8080
    python -m alphanet.demo --torchserve http://10.0.0.5:8080 --triton http://127.0.0.1:8000
    python -m alphanet.demo --start-torchserve config/config.properties   # what `make demo` runs

With --start-torchserve the launcher starts TorchServe with that profile when none answers at --torchserve, and
stops it on exit. Ctrl-C (or SIGTERM) stops the page.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import webbrowser
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import requests

from alphanet.demo.backends import TorchServe, Triton
from alphanet.demo.server import DemoServer
from alphanet.serving.launch_torchserve import start_torchserve, stop_torchserve

START_TIMEOUT_S = 240  # TorchServe's frontend answers within about 10 s; a busy machine takes longer


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as Ctrl-C does: TorchServe too, if started
    backends = {"torchserve": TorchServe(args.torchserve)}
    if args.triton:
        backends["triton"] = Triton(args.triton)
    try:
        with torchserve_running(args.torchserve, args.start_torchserve):
            serve(DemoServer(("127.0.0.1", args.port), backends), open_browser=not args.no_browser)
    except KeyboardInterrupt:
        pass


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m alphanet.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--torchserve", metavar="URL", default="http://127.0.0.1:8080",
                        help="TorchServe's inference address")
    parser.add_argument("--triton", metavar="URL",
                        help="Triton's HTTP address (`make serve-triton`: http://127.0.0.1:8000), to offer its "
                             "alphanet_cutout model on the page too")
    parser.add_argument("--port", type=int, default=8090, help="the page's port on 127.0.0.1")
    parser.add_argument("--start-torchserve", type=Path, metavar="CONFIG",
                        help="start TorchServe with this profile when none answers at --torchserve")
    parser.add_argument("--no-browser", action="store_true", help="only print the page's address")
    return parser.parse_args()


def serve(server: DemoServer, open_browser: bool) -> None:
    url = f"http://127.0.0.1:{server.server_port}/"
    print(f"The demo page: {url}  (Ctrl-C stops it)", flush=True)
    if open_browser and has_display():
        webbrowser.open(url)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def has_display() -> bool:
    """Whether a graphical browser can open: without one, webbrowser would run a text browser (lynx, w3m) in
    this terminal and wait for it."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@contextmanager
def torchserve_running(url: str, config: Optional[Path]):
    """Nothing to do when no `config` is given or a TorchServe already answers at `url`; otherwise TorchServe
    started with `config` in this directory (as `make serve` does), until the block ends."""
    if config is None or answers(url):
        yield
        return
    print(f"Starting TorchServe with {config} (its log: logs/); the page opens once it answers", flush=True)
    with tempfile.TemporaryDirectory(prefix="torchserve-") as tmpdir:
        # its console output would bury the page's address; logs/ has it all
        process = start_torchserve(config.resolve(), Path.cwd(), Path(tmpdir), log=subprocess.DEVNULL)
        try:
            wait_for_answer(url, process)
            yield
        finally:
            stop_torchserve(process)


def wait_for_answer(url: str, process) -> None:
    """Until TorchServe answers /ping: its models are registered by then, and a request sent before their
    workers are ready waits in the queue for them."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not answers(url):
        if process.poll() is not None:
            sys.exit(f"TorchServe exited with {process.returncode}: see logs/")
        if time.monotonic() > deadline:
            sys.exit(f"TorchServe did not answer at {url} within {START_TIMEOUT_S} s: see logs/")
        time.sleep(1)


def answers(url: str) -> bool:
    try:
        requests.get(f"{url.rstrip('/')}/ping", timeout=5)
    except requests.RequestException:
        return False
    return True


if __name__ == "__main__":
    main()
