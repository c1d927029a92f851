"""Shared helpers for the ingest tests: read a topic back, run the landing CLI as a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
from kafka import KafkaConsumer, TopicPartition

from infra.config import REPO_ROOT, Settings


def read_topic(settings: Settings, topic: str, expected: int, timeout: float = 20.0) -> list:
    """Every record of `topic` (at least `expected`, or whatever arrived before `timeout`)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list = []
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def landed_table(settings: Settings):
    files = sorted((settings.landing_dir / "events").glob("event_date=*/part-*.parquet"))
    return ds.dataset([str(f) for f in files], format="parquet").to_table() if files else None


def child_env(settings: Settings) -> dict[str, str]:
    """Environment that makes a child `python -m ingest.landing` resolve the same settings."""
    return {
        **os.environ,
        "RECSYS_VAR_DIR": str(settings.var_dir),
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "RECSYS_EVENTS_TOPIC": settings.events_topic,
        "RECSYS_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
        "RECSYS_CONSUMER_GROUP": settings.consumer_group,
        "RECSYS_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "PYTHONUNBUFFERED": "1",
    }


def start_landing(settings: Settings, log: Path, *args: str) -> subprocess.Popen:
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "ingest.landing", *args],
            cwd=REPO_ROOT,
            env=child_env(settings),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
