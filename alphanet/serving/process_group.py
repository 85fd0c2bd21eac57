"""Stopping a server and everything it started: servers run in a process group of their own
(`start_new_session=True`), and stopping means SIGTERM to the group, then SIGKILL to whatever is left."""
import os
import signal
import subprocess
import time

import psutil


def live_members(pgid: int) -> list:
    """The processes of group `pgid` that still run (zombies wait for their parent to reap them; they run
    nothing: the JVM, orphaned when the launcher dies first, is reaped by init, or never when we are PID 1)."""
    members = []
    for candidate in psutil.process_iter():
        try:
            if os.getpgid(candidate.pid) == pgid and candidate.status() != psutil.STATUS_ZOMBIE:
                members.append(candidate)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def wait_for_group_end(process: subprocess.Popen, timeout_s: float) -> bool:
    """Whether every process of `process`'s group is gone within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        process.poll()  # reap our own child
        if not live_members(process.pid):
            return True
        time.sleep(0.1)
    return False


def stop_process_group(process: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the whole group of `process` (its leader); SIGKILL what is left of it after `grace_s`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        if wait_for_group_end(process, grace_s):
            break
    process.wait()
