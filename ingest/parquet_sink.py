"""The landing zone: landed events as Parquet files partitioned by event date, each written
atomically. Its layout and schema are defined here only; the Spark job reads them through
`landed_files` and `LANDING_SCHEMA`.

Layout (the ingest -> Spark contract): landing_dir/events/event_date=YYYY-MM-DD/part-*.parquet.
A file appears under its final name only once its bytes are on disk (infra.files: tmp file, fsync,
rename, fsync of the directory), so a reader never sees a half-written file and a crash leaves at
most a stray hidden `.tmp` file, which readers ignore (Spark skips names starting with "." and "_").
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from infra.files import atomic_write_bytes, atomic_write_with
from ingest import schema as s

KAFKA_TOPIC, KAFKA_PARTITION, KAFKA_OFFSET, INGESTED_AT = (
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "ingested_at",
)
TS_TYPE = pa.timestamp("us", tz="UTC")
# The event's own fields (ingest.schema; timestamps as UTC microseconds), then where each came from.
LANDING_SCHEMA = pa.schema(
    [pa.field(s.TIMESTAMP, TS_TYPE) if f.name == s.TIMESTAMP else f for f in s.arrow_fields()]
    + [
        pa.field(KAFKA_TOPIC, pa.string()),
        pa.field(KAFKA_PARTITION, pa.int32()),
        pa.field(KAFKA_OFFSET, pa.int64()),
        pa.field(INGESTED_AT, TS_TYPE),
    ]
)
EVENTS_DIR, DATE_PARTITION = "events", "event_date"


def events_dir(landing_dir: Path) -> Path:
    return Path(landing_dir) / EVENTS_DIR


def day_dir(landing_dir: Path, day: str) -> Path:
    """The partition of one UTC event date (YYYY-MM-DD)."""
    return events_dir(landing_dir) / f"{DATE_PARTITION}={day}"


def write_atomic(path: Path, data: bytes | pa.Table) -> None:
    """Write `data` (bytes or an Arrow table as Parquet) to `path` atomically and durably."""
    if isinstance(data, bytes):
        atomic_write_bytes(path, data)
    else:
        atomic_write_with(path, lambda fh: pq.write_table(data, fh, compression="zstd"))


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
        path = day_dir(landing_dir, day.isoformat()) / f"part-{now_us}-{uuid.uuid4().hex[:12]}.parquet"
        write_atomic(path, table.filter(pc.equal(days, pa.scalar(day, pa.date32()))))
        written.append(path)
    return written


def landed_files(landing_dir: Path) -> list[Path]:
    """The complete files of the landing zone (temporary files excluded)."""
    return sorted(events_dir(landing_dir).glob(f"{DATE_PARTITION}=*/part-*.parquet"))
