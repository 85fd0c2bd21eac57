"""Run TorchServe in the foreground and leave nothing behind:
`python -m alphanet.serving.launch_torchserve [--config F]`.

`torchserve --foreground` is only a launcher for a Java frontend and its Python workers; killing it alone
orphans them. So it runs in a process group of its own, and Ctrl-C or SIGTERM (docker stop) ends the whole
group. Its temporary files go to a private directory, so several instances on one machine don't collide: the
pid file follows TMPDIR, while the workers' sockets (/tmp/.ts.sock.9000...) and unpacked archives follow TEMP.

Exit status: 128 + the signal's number after Ctrl-C or SIGTERM; otherwise TorchServe ended on its own, which a
server in the foreground does only when it failed (a port already in use, a killed Java frontend), so the exit
status is 1 (or `torchserve`'s own failure status, 128 + the signal that killed it), whatever it left running is
stopped, and `make serve` or a container's restart policy sees the failure. `torchserve` itself exits 0 there: it
waits for the frontend and drops its exit status.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

from alphanet.serving.process_group import stop_process_group

STOP_GRACE_S = 15  # the group exits about 4.5 s after SIGTERM
EXIT_ENDED_ON_ITS_OWN = 1
# The console script installed beside this interpreter, so a bare `.venv/bin/python -m ...` finds it.
TORCHSERVE = str(Path(sys.executable).parent / "torchserve")


def start_torchserve(config: Path, cwd: Path, tmpdir: Path, env: Optional[dict] = None,
                     log=None) -> subprocess.Popen:
    """Start `torchserve --foreground` with `config` in a new process group, its pid file in `tmpdir`;
    `log` (a file) takes its output."""
    env = dict(os.environ if env is None else env, TMPDIR=str(tmpdir), TEMP=str(tmpdir))
    command = [TORCHSERVE, "--foreground", "--ts-config", str(config), "--no-config-snapshots"]
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT if log else None,
                            start_new_session=True)


def stop_torchserve(process: subprocess.Popen) -> None:
    """SIGTERM the whole group; SIGKILL what is left of it after STOP_GRACE_S."""
    stop_process_group(process, STOP_GRACE_S)


class _StopSignal(Exception):
    """Raised by the signal handler, so the stopping happens in the main flow and not inside a handler that
    interrupted process.wait() (which holds the lock that reaping the child needs)."""


def _raise_stop(signum, frame):
    raise _StopSignal(signum)


def ended_on_its_own_status(returncode: int) -> int:
    """The launcher's exit status when `torchserve` ended by itself with `returncode`: 128 + the signal that killed
    it (a negative returncode), its own failure status, or EXIT_ENDED_ON_ITS_OWN for the 0 it reports whatever the
    Java frontend did."""
    if returncode < 0:
        return 128 - returncode
    return returncode or EXIT_ENDED_ON_ITS_OWN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.properties", help="TorchServe config.properties")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    with tempfile.TemporaryDirectory(prefix="torchserve-") as tmpdir:
        process = start_torchserve(Path(args.config).resolve(), Path.cwd(), Path(tmpdir))
        try:
            exit_code = ended_on_its_own_status(process.wait())
            stop_torchserve(process)  # workers still loading, or a JVM whose launcher was killed
            print(f"launch_torchserve: TorchServe ended without being asked to (see its log above); exit status "
                  f"{exit_code}", file=sys.stderr)
        except _StopSignal as stop:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            stop_torchserve(process)
            exit_code = 128 + stop.args[0]
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
