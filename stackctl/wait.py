"""Polling until something answers: one loop for every step that waits on a service."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from stackctl.errors import StackctlError

T = TypeVar("T")


def poll(
    attempt: Callable[[], tuple[T | None, str]],
    seconds: float,
    fail: Callable[[str], StackctlError],
    interval: float = 1.0,
) -> T:
    """Call `attempt` until it returns a value, at most `seconds` long.

    `attempt` returns (value, "") when done, or (None, why not yet); `fail` turns the last
    reason into the error raised at the deadline. An attempt may raise to stop at once.
    """
    deadline = time.monotonic() + seconds
    last = "no answer yet"
    while True:
        value, why = attempt()
        if value is not None:
            return value
        last = why or last
        if time.monotonic() > deadline:
            raise fail(last)
        time.sleep(interval)
