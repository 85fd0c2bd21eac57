"""Hold a TorchServe for a benchmark that runs in another virtualenv: `.venv/bin/python -m bench.hold_torchserve
STORE [--threads N]`, from the repo root.

bench/backend_latency.py runs in .venv-triton, which has no TorchServe; it starts this in the main virtualenv.
This runs tests.torchserve's running_torchserve (the development profile on free loopback ports, serving STORE,
ALPHANET_THREADS=N), prints one JSON line with the server's addresses once every worker is READY, and stops the
server, with every process it started, when its standard input closes (the benchmark closes it, or exits).
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

from tests.torchserve import running_torchserve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path, help="the model store: the folder of alphanet.mar")
    parser.add_argument("--threads", type=int, default=1, help="each worker's torch threads (ALPHANET_THREADS)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hold-torchserve-") as root, \
            running_torchserve("config.properties", args.store.resolve(), Path(root),
                               environment={"ALPHANET_THREADS": str(args.threads)}) as server:
        print(json.dumps({"inference": server.inference, "management": server.management}), flush=True)
        sys.stdin.read()  # returns once the benchmark closes the pipe


if __name__ == "__main__":
    main()
