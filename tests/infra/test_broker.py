"""The embedded broker and topic creation, against the real Tansu binary."""

from __future__ import annotations

import pytest

from infra import procs
from infra.broker import start_broker, stop_broker
from infra.config import load_settings
from ingest.kafka_io import ensure_topics, make_consumer, make_producer

pytestmark = pytest.mark.kafka


def test_broker_starts_reuses_and_stops(tmp_path):
    cfg = load_settings(var_dir=tmp_path, broker_port=procs.free_port(), kafka_bootstrap_servers="")
    first = start_broker(cfg)
    assert first is not None and (tmp_path / "run" / "broker.pid").exists()
    assert start_broker(cfg).pid == first.pid  # idempotent: a second start reuses the running broker
    assert stop_broker(cfg)
    assert procs.read(cfg.run_dir, "broker") is None
    assert not stop_broker(cfg)


def test_external_cluster_starts_nothing(tmp_path):
    cfg = load_settings(var_dir=tmp_path, kafka_bootstrap_servers="kafka.example:9092")
    assert start_broker(cfg) is None
    assert not (tmp_path / "run" / "broker.pid").exists()


def test_topics_created_and_round_trip(kafka_settings):
    ensure_topics(kafka_settings)
    ensure_topics(kafka_settings)  # idempotent
    producer = make_producer(kafka_settings)
    for i in range(20):
        producer.send(kafka_settings.events_topic, key=str(i % 3).encode(), value=f"m{i}".encode())
    producer.flush()
    producer.close()
    consumer = make_consumer(kafka_settings, "g", kafka_settings.events_topic)
    seen: set[bytes] = set()
    for _ in range(50):
        for records in consumer.poll(timeout_ms=500).values():
            seen.update(r.value for r in records)
        if len(seen) == 20:
            break
    consumer.close()
    assert seen == {f"m{i}".encode() for i in range(20)}
