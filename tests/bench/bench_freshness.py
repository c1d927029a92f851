"""Freshness: time from a new event to a changed recommendation for that user, p95 (goal 1 s).

Two paths, each measured over the same users against gunicorn with the project's config:
- POST /events (the API produces to Kafka with acks=all, then writes the online store);
- an event produced straight to the Kafka topic by another client, reaching the store through
  `python -m serving.store_consumer` (its own consumer group).
Each trial: read the user's recommendations, send one event for an item the user has not seen, poll
GET /recommendations every 5 ms until the answer differs (bounded: 5 s). Embedded broker, loopback.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

from infra import procs
from infra.broker import start_broker, stop_broker
from infra.config import REPO_ROOT, Settings, load_settings
from ingest.kafka_io import ensure_topics, make_producer
from ingest.schema import Event, encode_event
from serving.store import open_store
from serving.store_consumer import LAG_KEY
from tests.api.server import gunicorn, server_env
from tests.bench import row, serve_synthetic

N_USERS, N_ITEMS, DIM, TRIALS, TIMEOUT_S = 200, 10_000, 64, 30, 5.0


def _prepare(var: Path) -> Settings:
    settings = load_settings(var_dir=var, kafka_bootstrap_servers="", broker_port=procs.free_port())
    serve_synthetic(settings, N_USERS, N_ITEMS, DIM, 5)
    return settings


def _items(session: requests.Session, url: str, user: str) -> list[str]:
    return [
        it["item_id"] for it in session.get(f"{url}/recommendations/{user}?k=10", timeout=5).json()["items"]
    ]


def _trial(session: requests.Session, url: str, user: str, item: str, send) -> float:
    before = _items(session, url, user)
    started = time.perf_counter()
    send(Event(f"fresh-{user}-{item}", user, item, "add_to_cart", time.time()))
    while time.perf_counter() - started < TIMEOUT_S:
        if _items(session, url, user) != before:
            return time.perf_counter() - started
        time.sleep(0.005)
    return TIMEOUT_S


def _wait_consumer_joined(settings: Settings, timeout: float = 60.0) -> None:
    store = open_store(settings.online_store_url)
    deadline = time.monotonic() + timeout
    while store.get_meta(LAG_KEY) is None and time.monotonic() < deadline:
        time.sleep(0.1)


def _measure(settings: Settings, url: str) -> tuple[list[float], list[float]]:
    session = requests.Session()

    def post(event: Event) -> None:
        body = {
            "event_id": event.event_id,
            "user_id": event.user_id,
            "item_id": event.item_id,
            "event_type": event.event_type,
            "timestamp": event.timestamp,
        }
        session.post(f"{url}/events", json=body, timeout=10).raise_for_status()

    producer = make_producer(settings)

    def produce(event: Event) -> None:
        producer.send(settings.events_topic, key=event.user_id.encode(), value=encode_event(event)).get(
            timeout=10
        )

    try:
        via_api = [_trial(session, url, f"u{t + 1}", f"i{9000 + t}", post) for t in range(TRIALS)]
        via_kafka = [_trial(session, url, f"u{t + 101}", f"i{9500 + t}", produce) for t in range(TRIALS)]
    finally:
        producer.close()
    return via_api, via_kafka


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-fresh-") as tmp:
        settings = _prepare(Path(tmp))
        start_broker(settings)
        consumer = None
        try:
            ensure_topics(settings, [settings.events_topic])
            env = server_env(settings, settings.api_port)
            consumer = subprocess.Popen(
                [sys.executable, "-m", "serving.store_consumer"],
                env=env,
                cwd=REPO_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _wait_consumer_joined(settings)
            with gunicorn(settings) as url:
                via_api, via_kafka = _measure(settings, url)
        finally:
            if consumer is not None:
                consumer.terminate()
                consumer.wait(timeout=20)
            stop_broker(settings)
    rows = []
    for name, values in (("POST /events", via_api), ("Kafka topic via store consumer", via_kafka)):
        p95 = float(np.percentile(values, 95))
        unchanged = sum(v >= TIMEOUT_S for v in values)
        rows += [
            row(f"freshness p50, {name}", float(np.median(values)) * 1000, "ms", digits=1),
            row(f"freshness p95, {name}", p95 * 1000, "ms", "<= 1000", p95 <= 1.0, digits=1),
            row(
                f"trials without a change in {TIMEOUT_S:.0f} s, {name}",
                unchanged,
                f"of {len(values)}",
                "0",
                unchanged == 0,
            ),
        ]
    return rows
