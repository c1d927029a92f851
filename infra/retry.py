"""`retry`: run a service loop again after the errors it can outlive, waiting longer each time."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
FIRST_DELAY_S, MAX_DELAY_S, HEALTHY_AFTER_S = 1.0, 30.0, 60.0


def next_delay(delay: float, ran_s: float) -> float:
    """The wait before the next try: the first again after a run of a minute, else doubled up to 30 s."""
    return FIRST_DELAY_S if ran_s >= HEALTHY_AFTER_S else min(MAX_DELAY_S, delay * 2)


def retry(
    run: Callable[[], T],
    errors: tuple[type[BaseException], ...],
    stop: threading.Event,
    log: logging.Logger,
) -> T | None:
    """Call `run` until it returns; after one of `errors`, log it and wait 1 s, 2, 4, ... up to 30 s
    (1 s again after a run that lasted a minute). None if `stop` is set while waiting."""
    delay = FIRST_DELAY_S / 2
    while True:
        started = time.monotonic()
        try:
            return run()
        except errors as exc:
            ran = time.monotonic() - started
            delay = next_delay(delay, ran)
            log.warning("%r after %.1f s; retrying in %.0f s", exc, ran, delay)
            if stop.wait(delay):
                return None
