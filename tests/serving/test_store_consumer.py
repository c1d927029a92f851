"""The store consumer feeds the online store from the events topic, whatever produced the events."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from infra.config import REPO_ROOT, Settings
from infra.heartbeat import check, heartbeat_dir
from ingest.kafka_io import ensure_topics, make_producer
from ingest.schema import Event, encode_event
from serving.store import SqliteStore
from serving.store_consumer import CONSUMED_KEY, LAG_KEY, consume


@pytest.mark.kafka
def test_consumer_stores_topic_events(kafka_settings: Settings, tmp_path) -> None:
    ensure_topics(kafka_settings, [kafka_settings.events_topic])
    producer = make_producer(kafka_settings)
    events = [Event(f"e{i}", "u1", f"i{i}", "view", 1_700_000_000.0 + i) for i in range(5)]
    for e in [*events, events[0]]:  # a duplicate is stored once
        producer.send(kafka_settings.events_topic, key=e.user_id.encode(), value=encode_event(e))
    producer.send(kafka_settings.events_topic, value=b"not json")  # skipped, not fatal
    producer.flush()
    producer.close()
    store = SqliteStore(tmp_path / "s.sqlite")
    stop = threading.Event()
    thread = threading.Thread(target=consume, args=(kafka_settings, store, stop))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(store.user_events("u1", 10)) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        beat = heartbeat_dir(kafka_settings.run_dir) / "store.json"
        while (
            not (beat.exists() and json.loads(beat.read_text())["lag"] == 0) and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert json.loads(beat.read_text())["lag"] == 0  # /ready reads it: alive, caught up
        assert check(kafka_settings.run_dir) == {}
    finally:
        stop.set()
        thread.join(timeout=15)
    assert [r[0] for r in store.user_events("u1", 10)] == [f"i{i}" for i in range(4, -1, -1)]
    assert store.get_meta(CONSUMED_KEY) == 5.0 and store.get_meta(LAG_KEY) == 0.0
    assert not beat.exists()  # a clean stop is not a dead consumer


@pytest.mark.kafka
@pytest.mark.slow
def test_cli_runs_until_sigterm(kafka_settings: Settings) -> None:
    """`python -m serving.store_consumer` reads its settings from the environment and stops cleanly."""
    from tests.api.server import server_env

    ensure_topics(kafka_settings, [kafka_settings.events_topic])
    # The API port is unused by the consumer; any valid one (0 is refused like any out-of-range port).
    env = server_env(
        kafka_settings,
        kafka_settings.api_port,
        RECSYS_STORE_CONSUMER_GROUP=kafka_settings.store_consumer_group,
    )
    proc = subprocess.Popen([sys.executable, "-m", "serving.store_consumer"], env=env, cwd=REPO_ROOT)
    try:
        producer = make_producer(kafka_settings)
        event = Event("cli-1", "u7", "i7", "purchase", 1_700_000_000.0)
        producer.send(kafka_settings.events_topic, value=encode_event(event)).get(timeout=10)
        producer.close()
        store = SqliteStore(kafka_settings.online_store_url.removeprefix("sqlite:///"))
        deadline = time.monotonic() + 30
        while not store.user_events("u7", 5) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.user_events("u7", 5) == [("i7", "purchase", 1_700_000_000.0)]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
