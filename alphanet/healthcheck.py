"""Container health check: `python -m alphanet.healthcheck`; exit 0 when the model has a READY worker.

`/ping` says Healthy before any worker can serve, so this asks the management API about the model instead.
With token authorization on, TorchServe writes its keys to key_file.json in its working directory at start;
the management key is read from there.
"""
import argparse
import json
import sys
from pathlib import Path

import requests


def worker_statuses(management_url: str, model: str, key_file: Path) -> list:
    """The status of each of `model`'s workers ("READY", "UNLOADING"...); empty when the server does not answer
    or does not know the model."""
    headers = {}
    if key_file.is_file():
        try:
            key = json.loads(key_file.read_text())["management"]["key"]
        except (ValueError, KeyError):  # TorchServe creates the file first and writes the keys a moment later
            return []
        headers["Authorization"] = f"Bearer {key}"
    try:
        response = requests.get(f"{management_url}/models/{model}", headers=headers, timeout=5)
    except requests.RequestException:
        return []
    if response.status_code != 200:
        return []
    return [worker["status"] for worker in response.json()[0]["workers"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--management", default="http://127.0.0.1:8081", help="management API address")
    parser.add_argument("--model", default="alphanet")
    parser.add_argument("--key-file", type=Path, default=Path("key_file.json"),
                        help="TorchServe's key file (used when it exists)")
    args = parser.parse_args()
    ready = "READY" in worker_statuses(args.management, args.model, args.key_file)
    print(f"{args.model}: {'READY' if ready else 'not ready'}")
    sys.exit(0 if ready else 1)


if __name__ == "__main__":
    main()
