"""Dead letters: invalid events go to the dead-letter topic, never dropped silently.

Record format (both producers and the landing consumer): the value is the ORIGINAL payload, byte for
byte (even when it is not JSON), the key is the original key, and Kafka headers carry why and where:
  dlq.reason     UTF-8 text from the schema module (e.g. "rating: required for rating events")
  dlq.stage      "produce" or "landing"
  dlq.topic, dlq.partition, dlq.offset   the source record (landing only)
The landing consumer also records each dead letter it sent under landing_dir/dead_letters/ (one small
JSON file per committed batch), which is how `landing_counts` reports an exact, restart-proof count.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from infra.files import atomic_write_bytes

REASON, STAGE = "dlq.reason", "dlq.stage"


def headers(reason: str, stage: str, source: tuple[str, int, int] | None = None) -> list[tuple[str, bytes]]:
    out = [(REASON, reason.encode()), (STAGE, stage.encode())]
    if source is not None:
        topic, partition, offset = source
        out += [
            ("dlq.topic", topic.encode()),
            ("dlq.partition", str(partition).encode()),
            ("dlq.offset", str(offset).encode()),
        ]
    return out


def send(producer: KafkaProducer, topic: str, payload: bytes | None, key: bytes | None, hdrs: list) -> Any:
    """Send one dead letter; returns the future (the caller flushes and checks it)."""
    return producer.send(topic, value=payload, key=key, headers=hdrs)


def record_batch(landing_dir: Path, entries: list[dict[str, Any]]) -> None:
    """Persist one committed batch's dead letters (topic, partition, offset, reason)."""
    if entries:
        path = landing_dir / "dead_letters" / f"dlq-{uuid.uuid4().hex}.json"
        atomic_write_bytes(path, json.dumps(entries).encode())


def count_recorded(landing_dir: Path) -> int:
    """Distinct source records dead-lettered by the landing consumer (redeliveries counted once)."""
    seen: set[tuple] = set()
    for path in (landing_dir / "dead_letters").glob("dlq-*.json"):
        for e in json.loads(path.read_text()):
            seen.add((e["topic"], e["partition"], e["offset"]))
    return len(seen)
