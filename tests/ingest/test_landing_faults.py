"""The consumers under faults: members joining and leaving the landing group mid-stream, and a
poison-pill corpus on the events topic between good events."""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from ingest import dead_letter
from ingest import schema as s
from ingest.kafka_io import ensure_topics, make_producer
from ingest.landing import landing_counts, run_landing
from ingest.produce import produce_events
from ingest.simulator import generate
from serving.store import SqliteStore
from serving.store_consumer import CONSUMED_KEY, consume
from tests.ingest.helpers import read_topic

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


BASE = {"user_id": "u1", "item_id": "i1", "event_type": "view", "timestamp": 1_700_000_000}
OVERSIZE = json.dumps({**BASE, "session_id": "s" * (1_500_000)}).encode()  # over the 1 MiB default
POISON = [
    OVERSIZE,
    json.dumps({**BASE, "timestamp": int("9" * 400)}).encode(),  # OverflowError in float()
    json.dumps({**BASE, "price": int("9" * 400)}).encode(),
    json.dumps({**BASE, "price": 1}).replace("1}", "9" * 5000 + "}").encode(),  # over 4,300 digits
    b"[" * 100_000,  # RecursionError
    b'{"user_id": "u\xff\xfe", "item_id": "i1"}',  # not UTF-8
    json.dumps({**BASE, "user_id": "u\u0000x"}).encode(),  # control characters in ids
    json.dumps({**BASE, "item_id": "i\nx"}).encode(),
    json.dumps({**BASE, "user_id": {"id": 1}}).encode(),  # wrong types
    json.dumps({**BASE, "timestamp": [1]}).encode(),
    json.dumps([BASE]).encode(),
    None,  # a tombstone
]


def _store_events(store: SqliteStore) -> float:
    return store.get_meta(CONSUMED_KEY) or 0.0


@pytest.mark.slow
def test_poison_pills_are_dead_lettered_and_both_consumers_keep_running(kafka_settings, tmp_path):
    topic = kafka_settings.events_topic
    admin = KafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    try:  # a topic that takes records of up to 4 MiB, as a misconfigured cluster might
        topic_config = {"max.message.bytes": str(4 << 20)}
        admin.create_topics([NewTopic(topic, kafka_settings.topic_partitions, 1, topic_configs=topic_config)])
    finally:
        admin.close()
    ensure_topics(kafka_settings)
    good = [s.validate_event(e) for e in generate(300, seed=21).events]
    producer = make_producer(kafka_settings, max_request_size=8 << 20)
    for i, chunk in enumerate((good[:100], good[100:200], good[200:])):
        for event in chunk:
            producer.send(topic, event.to_json_bytes(), key=event.user_id.encode())
        for payload in POISON[i::3]:
            producer.send(topic, payload, key=b"u1").get(timeout=30)
    producer.flush()
    producer.close()
    store, stop_store, errors = SqliteStore(tmp_path / "s.sqlite"), threading.Event(), []
    store_thread = threading.Thread(
        target=lambda: _catching(errors, consume, kafka_settings, store, stop_store), daemon=True
    )
    store_thread.start()
    lander = _Member(kafka_settings, batch_size=100)
    try:
        _wait_for(
            lambda: (
                landing_counts(kafka_settings) == {**landing_counts(kafka_settings), "landed": 300}
                and landing_counts(kafka_settings)["dead_lettered"] == len(POISON)
                and _store_events(store) == 300
                or not (lander.thread.is_alive() and store_thread.is_alive())
            )
        )
        assert lander.thread.is_alive(), f"the landing consumer stopped: {lander.error!r}"
        assert store_thread.is_alive(), f"the store consumer stopped: {errors}"
    finally:
        stop_store.set()
        store_thread.join(timeout=30)
        lander.end()
    assert not errors
    assert landing_counts(kafka_settings)["landed"] == 300 and _store_events(store) == 300
    dead = read_topic(kafka_settings, kafka_settings.dead_letter_topic, expected=len(POISON))
    assert len(dead) == len(POISON)
    by_offset = {}
    for record in dead:
        hdrs = dict(record.headers)
        assert hdrs[dead_letter.REASON], "every dead letter says why"
        by_offset[int(hdrs["dlq.offset"]), int(hdrs["dlq.partition"])] = (record.value, hdrs)
    values = [value for value, _ in by_offset.values()]
    assert sorted(v for v in values if v is not None and len(v) < dead_letter.MAX_KEPT_BYTES) == sorted(
        p for p in POISON if p is not None and p is not OVERSIZE
    )
    ((cut, hdrs),) = [(v, h) for v, h in by_offset.values() if h.get(dead_letter.TRUNCATED)]
    assert cut == OVERSIZE[: dead_letter.MAX_KEPT_BYTES] and hdrs[dead_letter.TRUNCATED] == b"value"
    assert int(hdrs["dlq.value.bytes"]) == len(OVERSIZE)
    assert hdrs["dlq.value.sha256"].decode() == hashlib.sha256(OVERSIZE).hexdigest()
    assert b"over the" in hdrs[dead_letter.REASON]


def _catching(errors: list, fn, *args) -> None:
    try:
        fn(*args)
    except BaseException as exc:  # the test reports it
        errors.append(exc)
