"""Landed events -> Parquet files partitioned by event date, each written atomically.

Layout (the ingest -> Spark contract): landing_dir/events/event_date=YYYY-MM-DD/part-*.parquet.
A file appears under its final name only once its bytes are on disk (tmp file, fsync, rename, fsync
of the directory), so a reader never sees a half-written file and a crash leaves at most a stray
`.tmp` file, which readers ignore (Spark skips names starting with "." and "_").
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest import schema as s
from ingest.schema import Event

KAFKA_TOPIC, KAFKA_PARTITION, KAFKA_OFFSET, INGESTED_AT = (
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "ingested_at",
)
TS_TYPE = pa.timestamp("us", tz="UTC")
LANDING_SCHEMA = pa.schema(
    [
        (s.EVENT_ID, pa.string()),
        (s.USER_ID, pa.string()),
        (s.ITEM_ID, pa.string()),
        (s.EVENT_TYPE, pa.string()),
        (s.TIMESTAMP, TS_TYPE),
        (s.SESSION_ID, pa.string()),
        (s.RATING, pa.float64()),
        (s.PRICE, pa.float64()),
        (s.VERSION, pa.int32()),
        (KAFKA_TOPIC, pa.string()),
        (KAFKA_PARTITION, pa.int32()),
        (KAFKA_OFFSET, pa.int64()),
        (INGESTED_AT, TS_TYPE),
    ]
)
Landed = tuple[Event, str, int, int]  # the event and its Kafka topic, partition, offset


def events_dir(landing_dir: Path) -> Path:
    return landing_dir / "events"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | pa.Table) -> None:
    """Write `data` (bytes or an Arrow table as Parquet) to `path`: tmp file, fsync, rename, fsync dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        if isinstance(data, bytes):
            fh.write(data)
        else:
            pq.write_table(data, fh, compression="zstd")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def to_table(rows: list[Landed], ingested_at_us: int) -> pa.Table:
    """Rows -> an Arrow table in LANDING_SCHEMA (timestamps as UTC microseconds)."""
    events = [r[0] for r in rows]
    columns = {
        s.EVENT_ID: [e.event_id for e in events],
        s.USER_ID: [e.user_id for e in events],
        s.ITEM_ID: [e.item_id for e in events],
        s.EVENT_TYPE: [e.event_type for e in events],
        s.TIMESTAMP: [round(e.timestamp * 1_000_000) for e in events],
        s.SESSION_ID: [e.session_id for e in events],
        s.RATING: [e.rating for e in events],
        s.PRICE: [e.price for e in events],
        s.VERSION: [e.schema_version for e in events],
        KAFKA_TOPIC: [r[1] for r in rows],
        KAFKA_PARTITION: [r[2] for r in rows],
        KAFKA_OFFSET: [r[3] for r in rows],
        INGESTED_AT: [ingested_at_us] * len(rows),
    }
    return pa.Table.from_pydict(columns, schema=LANDING_SCHEMA)


def write_partitioned(landing_dir: Path, rows: list[Landed]) -> list[Path]:
    """Write `rows` as one atomic Parquet file per event date; returns the new files."""
    by_day: dict[int, list[Landed]] = {}
    for row in rows:
        by_day.setdefault(int(row[0].timestamp // 86_400), []).append(row)
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000)
    written = []
    for day, day_rows in sorted(by_day.items()):
        date = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")
        path = (
            events_dir(landing_dir) / f"event_date={date}" / f"part-{now_us}-{uuid.uuid4().hex[:12]}.parquet"
        )
        write_atomic(path, to_table(day_rows, now_us))
        written.append(path)
    return written


def landed_files(landing_dir: Path) -> list[Path]:
    """The complete files of the landing zone (temporary files excluded)."""
    return sorted(events_dir(landing_dir).glob("event_date=*/part-*.parquet"))
