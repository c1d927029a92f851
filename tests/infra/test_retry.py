"""infra.retry: a service loop outlives the errors it names, with growing waits, and stops on request."""

from __future__ import annotations

import logging
import threading

import pytest

from infra import retry as r


def test_next_delay_doubles_to_the_cap_and_starts_over_after_a_healthy_run():
    delays, delay = [], r.FIRST_DELAY_S / 2
    for _ in range(7):
        delay = r.next_delay(delay, ran_s=0.1)
        delays.append(delay)
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert r.next_delay(30, ran_s=r.HEALTHY_AFTER_S) == r.FIRST_DELAY_S


def test_retry_outlives_named_errors_only(monkeypatch, caplog):
    monkeypatch.setattr(r, "FIRST_DELAY_S", 0.01)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("disk away")
        return "done"

    with caplog.at_level(logging.WARNING):
        assert r.retry(flaky, (OSError,), threading.Event(), logging.getLogger("t")) == "done"
    assert len(calls) == 3 and caplog.text.count("disk away") == 2
    with pytest.raises(KeyError):
        r.retry(lambda: {}["x"], (OSError,), threading.Event(), logging.getLogger("t"))
    stop = threading.Event()
    stop.set()
    assert r.retry(lambda: (_ for _ in ()).throw(OSError()), (OSError,), stop, logging.getLogger("t")) is None
