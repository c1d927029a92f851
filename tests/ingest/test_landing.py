"""The landing consumer against the real broker: every event lands, bad input is dead-lettered."""

from __future__ import annotations

import json
import threading

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ingest import schema as s
from ingest.kafka_io import ensure_topics, make_producer
from ingest.landing import landing_counts, run_landing
from ingest.parquet_sink import LANDING_SCHEMA
from ingest.produce import produce_events, simulate
from ingest.simulator import generate
from tests.ingest.helpers import landed_table, read_topic

pytestmark = pytest.mark.kafka


def test_n_produced_n_landed(kafka_settings):
    events = generate(1000, seed=3).events
    summary = produce_events(kafka_settings, events, progress=False)
    assert (summary.sent, summary.dead_lettered) == (1000, 0)
    landed = run_landing(kafka_settings, idle_timeout_s=2.0)
    assert (landed.landed, landed.dead_lettered) == (1000, 0)
    counts = landing_counts(kafka_settings)
    assert counts["landed"] == counts["rows"] == 1000 and counts["files"] == landed.files
    table = landed_table(kafka_settings)
    assert set(table[s.EVENT_ID].to_pylist()) == {e[s.EVENT_ID] for e in events}
    first = pq.read_schema(next((kafka_settings.landing_dir / "events").glob("*/part-*.parquet")))
    assert first.remove_metadata().equals(LANDING_SCHEMA)


def test_partitioned_by_event_date_with_provenance(kafka_settings):
    day = 86_400
    raws = [
        {"user_id": "u1", "item_id": f"i{i}", "event_type": "view", "timestamp": 1_704_067_200 + i * day}
        for i in range(3)
    ]
    produce_events(kafka_settings, raws, progress=False)
    run_landing(kafka_settings, idle_timeout_s=2.0)
    dirs = sorted(p.name for p in (kafka_settings.landing_dir / "events").iterdir())
    assert dirs == ["event_date=2024-01-01", "event_date=2024-01-02", "event_date=2024-01-03"]
    table = landed_table(kafka_settings)
    assert set(table["kafka_topic"].to_pylist()) == {kafka_settings.events_topic}
    assert pc.min(table["kafka_offset"]).as_py() >= 0
    assert table[s.TIMESTAMP].type.tz == "UTC"


def test_malformed_messages_dead_lettered_good_ones_landed(kafka_settings):
    ensure_topics(kafka_settings)
    good = generate(50, seed=4).events
    bad = [
        b"not json at all",
        json.dumps({"user_id": "u1", "item_id": "i1", "event_type": "teleport", "timestamp": 1.7e9}).encode(),
        json.dumps({"user_id": "u1", "item_id": "i1", "event_type": "rating", "timestamp": 1.7e9}).encode(),
        b"x" * (kafka_settings.max_event_bytes + 1),
        b"[" * 50_000,  # deep nesting: must not crash the consumer
    ]
    producer = make_producer(kafka_settings)
    for payload in bad[:2]:
        producer.send(kafka_settings.events_topic, payload, key=b"u1")
    for event in good:
        producer.send(kafka_settings.events_topic, s.validate_event(event).to_json_bytes(), key=b"u")
    for payload in bad[2:]:
        producer.send(kafka_settings.events_topic, payload, key=b"u1")
    producer.flush()
    producer.close()
    summary = run_landing(kafka_settings, idle_timeout_s=2.0)
    assert (summary.landed, summary.dead_lettered) == (50, 5)
    assert landing_counts(kafka_settings)["dead_lettered"] == 5
    dead = read_topic(kafka_settings, kafka_settings.dead_letter_topic, expected=5)
    assert sorted(m.value for m in dead) == sorted(bad)
    reasons = [dict(m.headers)["dlq.reason"].decode() for m in dead]
    assert any("not valid JSON" in r for r in reasons)
    assert any("event_type" in r for r in reasons)
    assert any("rating: required" in r for r in reasons)
    assert any("over the" in r for r in reasons)
    assert all(dict(m.headers)["dlq.stage"] == b"landing" for m in dead)


def test_max_events_stops_and_commits_exactly(kafka_settings):
    produce_events(kafka_settings, generate(300, seed=5).events, progress=False)
    first = run_landing(kafka_settings, max_events=100)
    assert first.landed == 100
    rest = run_landing(kafka_settings, idle_timeout_s=2.0)
    assert rest.landed == 200
    counts = landing_counts(kafka_settings)
    assert counts["landed"] == counts["rows"] == 300


def test_producer_dead_letters_invalid_events(kafka_settings):
    raws = [
        {"user_id": "u1", "item_id": "i1", "event_type": "view", "timestamp": 1.7e9},
        {"user_id": "u1", "item_id": "i1", "event_type": "view"},
        {"user_id": "u2", "item_id": "i2", "event_type": "view", "timestamp": 1.7e9, "colour": "red"},
    ]
    summary = produce_events(kafka_settings, raws, progress=False)
    assert (summary.sent, summary.dead_lettered) == (1, 2)
    dead = read_topic(kafka_settings, kafka_settings.dead_letter_topic, expected=2)
    assert [json.loads(m.value) for m in dead] == raws[1:] or sorted(m.key for m in dead) == [b"u1", b"u2"]
    reasons = sorted(dict(m.headers)["dlq.reason"].decode() for m in dead)
    assert reasons[0].startswith("event: unknown fields") and reasons[1].startswith("timestamp: missing")


def test_simulate_writes_catalog_and_produces(kafka_settings):
    summary = simulate(kafka_settings, 120, seed=9, progress=False)
    assert (summary.sent, summary.dead_lettered) == (120, 0) and summary.rate > 0
    assert (kafka_settings.data_dir / "catalog" / "items.parquet").is_file()
    records = read_topic(kafka_settings, kafka_settings.events_topic, expected=120)
    assert len(records) == 120
    assert all(r.key == json.loads(r.value)[s.USER_ID].encode() for r in records)  # keyed by user


@pytest.mark.slow
def test_two_consumers_share_the_group_and_land_everything_once(kafka_settings):
    produce_events(kafka_settings, generate(4000, seed=10).events, progress=False)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(run_landing(kafka_settings, idle_timeout_s=4.0)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 2
    counts = landing_counts(kafka_settings)
    assert counts["landed"] == 4000
    assert sum(r.landed for r in results) == counts["rows"]
