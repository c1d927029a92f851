"""Kafka clients built from Settings, with the choices that keep data safe on any broker.

Producers use acks=all (acks=0 loses messages silently), consumers commit manually and use short
session timeouts (a member that dies without leaving holds its partitions until the timeout), and
topics are created explicitly (the embedded broker does not create them on first use) and waited for
until every partition has a leader.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from infra.config import Settings


def client_config(settings: Settings, client: type, defaults: dict[str, Any], overrides: dict[str, Any]):
    """The project's defaults < the settings of the config file's [kafka] table that this kafka-python
    client knows (security, SASL, SSL ...) < the caller's overrides."""
    config = dict(defaults)
    config.update({k: v for k, v in settings.kafka_options.items() if k in client.DEFAULT_CONFIG})
    config.update(overrides)
    return config


def make_producer(settings: Settings, **overrides) -> KafkaProducer:
    """A producer that waits for every in-sync replica (acks=all) and retries transient errors."""
    config = dict(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        retries=5,
        linger_ms=5,
        max_in_flight_requests_per_connection=1,  # keeps per-key order through retries
        # kafka-python 3.0.12's idempotent producer (its default) never expires its queued batches
        # once its broker is gone: an expired in-flight batch resets its producer id, and it then
        # waits for a new one instead of sending or expiring, so flush() and close() time out and
        # raise (seen with Apache Kafka SIGKILLed mid-run). Duplicates a retry may write are
        # removed downstream by event_id (Spark, the online store).
        enable_idempotence=False,
        request_timeout_ms=10_000,
        max_block_ms=10_000,
    )
    return KafkaProducer(**client_config(settings, KafkaProducer, config, overrides))


def make_consumer(settings: Settings, group_id: str | None, *topics: str, **overrides) -> KafkaConsumer:
    """A consumer group member with manual commits; offsets start at the earliest record. Subscribed
    to `topics`, whose partitions it has in its metadata before it joins: a group leader without them
    assigns nothing ("No partition metadata for topic"), and kafka-python 3.0.12 was seen not to
    rebalance for minutes after, its members polling an empty assignment."""
    config = dict(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_poll_records=2000,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    consumer = KafkaConsumer(**client_config(settings, KafkaConsumer, config, overrides))
    for topic in topics:
        consumer.partitions_for_topic(topic)
    if topics:
        consumer.subscribe(list(topics))
    return consumer


def ensure_topics(settings: Settings, topics: Iterable[str] | None = None, timeout: float = 30.0) -> None:
    """Create the events and dead-letter topics (or `topics`) if missing, then wait until they show."""
    names = list(topics or (settings.events_topic, settings.dead_letter_topic))
    deadline = time.monotonic() + timeout
    admin = None
    while admin is None:
        try:
            defaults = {"bootstrap_servers": settings.bootstrap_servers, "request_timeout_ms": 10_000}
            admin = KafkaAdminClient(**client_config(settings, KafkaAdminClient, defaults, {}))
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        missing = [n for n in names if n not in set(admin.list_topics())]
        if missing:
            new = [NewTopic(n, settings.topic_partitions, settings.topic_replication) for n in missing]
            # Another process may create them between our list and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
        while not (set(names) <= set(admin.list_topics()) and _have_leaders(admin, names)):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"topics {names} not visible with a leader per partition after {timeout:.0f}s"
                )
            time.sleep(0.1)
    finally:
        admin.close()


def _have_leaders(admin: KafkaAdminClient, names: list[str]) -> bool:
    """Every partition of every topic has a leader. A consumer group that joins before (a topic just
    created) can be given no partitions at all, and kafka-python 3.0.12 was seen not to rebalance
    for over a minute after ("No partition metadata for topic" from the assignor)."""
    topics = admin.describe_topics(names)
    return len(topics) == len(names) and all(
        not t["error_code"]
        and t["partitions"]
        and all(not p["error_code"] and p["leader_id"] >= 0 for p in t["partitions"])
        for t in topics
    )
