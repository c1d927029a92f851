"""The landing consumer under faults: members joining and leaving its group mid-stream."""

from __future__ import annotations

import threading
import time

import pytest

from ingest.landing import landing_counts, run_landing
from ingest.produce import produce_events
from ingest.simulator import generate

pytestmark = pytest.mark.kafka


class _Member:
    """run_landing in a thread, with its stop switch and whatever it raised."""

    def __init__(self, settings, **kwargs) -> None:
        self.stop, self.error, self.summary = threading.Event(), None, None
        self.thread = threading.Thread(target=self._run, args=(settings,), kwargs=kwargs, daemon=True)
        self.thread.start()

    def _run(self, settings, **kwargs) -> None:
        try:
            self.summary = run_landing(settings, stop=self.stop, **kwargs)
        except BaseException as exc:  # the test reports it
            self.error = exc

    def end(self, timeout: float = 60.0) -> None:
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the member did not stop"
        assert self.error is None, repr(self.error)


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_member_joining_and_leaving_mid_stream_stops_nothing_and_loses_nothing(kafka_settings):
    chunks = [generate(2000, seed=100 + i).events for i in range(8)]
    acked = produce_events(kafka_settings, chunks[0], progress=False).sent
    first = _Member(kafka_settings, batch_size=200)
    _wait_for(lambda: landing_counts(kafka_settings)["files"] > 0)
    second = _Member(kafka_settings, batch_size=200)  # joins: the group rebalances
    for chunk in chunks[1:5]:
        acked += produce_events(kafka_settings, chunk, progress=False).sent
        time.sleep(0.5)
    time.sleep(3)  # the second member lands its share a while
    second.end()  # leaves: the group rebalances again
    assert second.summary.landed > 0, "the second member never had a partition"
    assert first.thread.is_alive(), f"the first member stopped: {first.error!r}"
    for chunk in chunks[5:]:
        acked += produce_events(kafka_settings, chunk, progress=False).sent
    _wait_for(lambda: landing_counts(kafka_settings)["landed"] >= acked)
    assert first.thread.is_alive(), f"the first member stopped: {first.error!r}"
    first.end()
    counts = landing_counts(kafka_settings)
    assert counts["landed"] == acked == 16_000  # every acknowledged event, by distinct event_id
    assert counts["rows"] >= acked  # redelivered duplicates are allowed; Spark dedups
