"""Waiting in the tests for what another process or thread does: one deadline loop for every test that polls."""
import time
from typing import Callable, Union

import pytest


def wait_until(condition: Callable[[], bool], timeout_s: float, failure: Union[str, Callable[[], str]],
               interval_s: float = 0.5, hopeless: Callable[[], Union[str, bool, None]] = lambda: None) -> None:
    """Return as soon as `condition()` is true. Fail the test with `failure` (a message, or a function that writes
    it, to show the state at that moment) once `timeout_s` have passed. Fail at once when `hopeless()` returns a
    message: it writes one when the condition can no longer come true (the process meant to bring it has exited)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        reason = hopeless()
        if reason:
            pytest.fail(reason)
        if time.monotonic() >= deadline:
            pytest.fail(failure if isinstance(failure, str) else failure())
        time.sleep(interval_s)
