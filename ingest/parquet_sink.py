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
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest import schema as s

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


def with_provenance(fields: pa.Table, topic: str, partition: int, offsets: list[int]) -> pa.Table:
    """Validated events (schema.arrow_fields) from one topic partition, with each one's offset."""
    n = fields.num_rows
    return (
        fields.append_column(KAFKA_TOPIC, pa.repeat(topic, n).cast(pa.string()))
        .append_column(KAFKA_PARTITION, pa.repeat(pa.scalar(partition, pa.int32()), n))
        .append_column(KAFKA_OFFSET, pa.array(offsets, pa.int64()))
    )


def to_landing_schema(tables: list[pa.Table], ingested_at_us: int) -> pa.Table:
    """Tables from `with_provenance` -> one table in LANDING_SCHEMA (timestamps as UTC microseconds)."""
    table = pa.concat_tables(tables)
    seconds = table[s.TIMESTAMP]
    micros = pc.cast(pc.round(pc.multiply(seconds, 1_000_000), round_mode="half_to_even"), pa.int64())
    table = table.set_column(
        table.schema.get_field_index(s.TIMESTAMP), pa.field(s.TIMESTAMP, TS_TYPE), micros.cast(TS_TYPE)
    )
    table = table.append_column(
        INGESTED_AT, pa.repeat(pa.scalar(ingested_at_us, pa.int64()), table.num_rows).cast(TS_TYPE)
    )
    return table.select(LANDING_SCHEMA.names).cast(LANDING_SCHEMA)


def write_partitioned(landing_dir: Path, tables: list[pa.Table]) -> list[Path]:
    """Write the events in `tables` (from `with_provenance`) as one atomic Parquet file per event date
    (UTC); returns the new files."""
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000)
    table = to_landing_schema(tables, now_us)
    days = pc.cast(table[s.TIMESTAMP], pa.date32())
    written = []
    for day in sorted(pc.unique(days).to_pylist()):
        path = (
            events_dir(landing_dir)
            / f"event_date={day.isoformat()}"
            / f"part-{now_us}-{uuid.uuid4().hex[:12]}.parquet"
        )
        write_atomic(path, table.filter(pc.equal(days, pa.scalar(day, pa.date32()))))
        written.append(path)
    return written


def landed_files(landing_dir: Path) -> list[Path]:
    """The complete files of the landing zone (temporary files excluded)."""
    return sorted(events_dir(landing_dir).glob("event_date=*/part-*.parquet"))
