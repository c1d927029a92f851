"""`python -m serving.store_consumer`: feed the online store from the Kafka events topic.

Its own consumer group (`settings.store_consumer_group`), so every event reaches the store whatever
produced it (the API, the simulator, a replay). Offsets are committed after the batch is written, and
writes are idempotent by event_id, so a crash replays at most one batch harmlessly. A record that is
not a valid event, whatever it holds, is logged and skipped, never fatal: the landing consumer
dead-letters it (one dead letter per record, not one per consumer group). The lag (records behind the high-water
marks) is written to the store's meta table for `/metrics`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sqlite3
import threading

from kafka import TopicPartition
from kafka.errors import KafkaError

from infra.config import Settings, load_settings
from infra.heartbeat import Heartbeat
from infra.logs import setup_logging
from infra.retry import retry
from ingest.kafka_io import ensure_topics, make_consumer
from ingest.schema import decode_event
from serving.store import OnlineStore, StoreError, open_store

log = logging.getLogger("serving.store_consumer")
LAG_KEY, CONSUMED_KEY = "consumer_lag", "consumer_events"


def _lag(consumer, partitions: set[TopicPartition]) -> int:
    total = 0
    for tp in partitions:
        high = consumer.highwater(tp)
        if high is not None:
            total += max(0, high - consumer.position(tp))
    return total


def consume(settings: Settings, store: OnlineStore, stop: threading.Event, poll_ms: int = 200) -> int:
    """Run until `stop` is set; returns how many new events were stored."""
    ensure_topics(settings, [settings.events_topic])
    consumer = make_consumer(settings, settings.store_consumer_group, settings.events_topic)
    stored = 0
    heartbeat = Heartbeat(settings.run_dir, "store")  # read by the API's /ready
    try:
        while not stop.is_set():
            batches = consumer.poll(timeout_ms=poll_ms)
            events = []
            for records in batches.values():
                for record in records:
                    try:
                        events.append(decode_event(record.value, settings.max_event_bytes))
                    except Exception as exc:  # EventError, or anything a payload can raise: skip it
                        log.warning(
                            "skipping %s[%d]@%d: %s",
                            record.topic,
                            record.partition,
                            record.offset,
                            str(exc)[:200] or type(exc).__name__,
                        )
            if events:
                stored += store.add_events(events)
                store.set_meta(CONSUMED_KEY, stored)
            if batches:
                consumer.commit()
            assigned = consumer.assignment()
            lag = _lag(consumer, assigned)
            store.set_meta(LAG_KEY, lag)
            heartbeat.beat(lag if assigned else None)  # no partitions yet: alive, lag unknown
        heartbeat.close()
    finally:
        consumer.close()
    return stored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m serving.store_consumer", description=__doc__.splitlines()[0]
    )
    parser.parse_args(argv)
    setup_logging("store-consumer")
    settings = load_settings()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    store = open_store(settings.online_store_url, settings.store_keep_per_user)
    # Broker and store errors end one run (nothing of its batch committed) and start the next with
    # backoff: the consumer outlives a broker restart or a locked or full disk.
    stored = retry(
        lambda: consume(settings, store, stop), (KafkaError, OSError, StoreError, sqlite3.Error), stop, log
    )
    log.info("stopped after storing %d new events", stored or 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
