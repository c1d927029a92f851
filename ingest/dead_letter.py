"""Dead letters: invalid events go to the dead-letter topic, never dropped silently.

Record format (both producers and the landing consumer): the value is the ORIGINAL payload, byte for
byte (even when it is not JSON), the key is the original key, and Kafka headers carry why and where:
  dlq.reason     UTF-8 text from the schema module (e.g. "rating: required for rating events")
  dlq.stage      "produce" or "landing"
  dlq.topic, dlq.partition, dlq.offset   the source record (landing only)
A payload or key over MAX_KEPT_BYTES is cut to its first MAX_KEPT_BYTES, and the headers say so:
  dlq.truncated  "value" and/or "key"
  dlq.value.bytes, dlq.value.sha256 (and dlq.key.*)   the original's size and digest
so a record the broker took with a larger limit (over the producer's 1 MiB request size, or the
topic's) is still dead-lettered, identifiable, never dropped; the source offset finds the original
while the events topic retains it.
The landing consumer also records each dead letter it sent under landing_dir/dead_letters/ (one small
JSON file per committed batch), which is how `landing_counts` reports an exact, restart-proof count.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from infra.files import atomic_write_bytes

REASON, STAGE, TRUNCATED = "dlq.reason", "dlq.stage", "dlq.truncated"
# Of a payload or of a key: both together stay under the producer's 1 MiB request size (and the
# default topic limit), and a payload merely over the event size limit (64 KiB) is kept whole.
MAX_KEPT_BYTES = 256 * 1024


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


def _cut(name: str, data: bytes | None, hdrs: list) -> bytes | None:
    if data is None or len(data) <= MAX_KEPT_BYTES:
        return data
    hdrs += [
        (TRUNCATED, name.encode()),
        (f"dlq.{name}.bytes", str(len(data)).encode()),
        (f"dlq.{name}.sha256", hashlib.sha256(data).hexdigest().encode()),
    ]
    return data[:MAX_KEPT_BYTES]


def send(producer: KafkaProducer, topic: str, payload: bytes | None, key: bytes | None, hdrs: list) -> Any:
    """Send one dead letter, cut to MAX_KEPT_BYTES if need be; returns the future (the caller flushes
    and checks it)."""
    hdrs = list(hdrs)
    payload, key = _cut("value", payload, hdrs), _cut("key", key, hdrs)
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
