"""Container health check: `python -m alphanet.serving.healthcheck`; exit 0 when the model has a READY worker.

`/ping` says Healthy before any worker can serve, so this asks the management API about the model instead.
With token authorization on, TorchServe writes its keys to key_file.json in its working directory at start;
the management key is read from there. That key expires (`token_expiration_min`), the API key does not: an
expired management key is renewed with the API key (`GET /token?type=management`, whose answer is empty:
TorchServe writes the new key into the same file), so the check keeps working for as long as the server runs.
"""
import argparse
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

import requests

# Renew a little before the expiry, so a key never runs out between reading it and using it.
RENEW_MARGIN = timedelta(seconds=30)


def read_keys(key_file: Path) -> Optional[dict]:
    """The parsed key file; None while TorchServe has created it but not yet written the keys."""
    try:
        keys = json.loads(key_file.read_text())
        keys["management"]["key"], keys["API"]["key"]
    except (ValueError, KeyError, TypeError):
        return None
    return keys


def key_expired(entry: dict, now: Optional[datetime] = None) -> bool:
    """Whether a key file entry (`{"key": ..., "expiration time": "2026-11-25T07:31:02.123Z"}`) has expired or
    will within RENEW_MARGIN."""
    expires = datetime.fromisoformat(entry["expiration time"])
    return expires - RENEW_MARGIN <= (now or datetime.now(timezone.utc))


def renew_management_key(management_url: str, api_key: str) -> bool:
    """Asks the token API for a new management key; whether the server did."""
    try:
        response = requests.get(f"{management_url}/token", params={"type": "management"},
                                headers={"Authorization": f"Bearer {api_key}"}, timeout=5)
    except requests.RequestException:
        return False
    return response.status_code == 200


def management_key(management_url: str, key_file: Path) -> Optional[str]:
    """A management key that works now, renewed when the file's one has expired; None when there is none yet."""
    keys = read_keys(key_file)
    if keys is not None and key_expired(keys["management"]):
        keys = read_keys(key_file) if renew_management_key(management_url, keys["API"]["key"]) else None
    return None if keys is None else keys["management"]["key"]


def worker_statuses(management_url: str, model: str, key_file: Path) -> list:
    """The status of each of `model`'s workers ("READY", "UNLOADING"...); empty when the server does not answer
    or does not know the model."""
    headers = {}
    if key_file.is_file():
        key = management_key(management_url, key_file)
        if key is None:
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
