"""MovieLens (u.data) straight into the landing zone, for the quality benchmark.

The benchmark needs the whole dataset in the pipeline's own input format without running Kafka:
events are read by the replay reader (the same mapping as `make replay`), given the provenance a
consumer would add, and written as date-partitioned Parquet files, each atomically (tmp, fsync,
rename). The catalog (category = first genre) goes to settings.data_dir/catalog/items.parquet.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from infra.config import Settings
from ingest import schema as s
from ingest.replay import movielens_catalog, read_events

UTC_US = pa.timestamp("us", tz="UTC")
LANDING_SCHEMA = pa.schema(
    [
        (s.EVENT_ID, pa.string()),
        (s.USER_ID, pa.string()),
        (s.ITEM_ID, pa.string()),
        (s.EVENT_TYPE, pa.string()),
        (s.TIMESTAMP, UTC_US),
        (s.SESSION_ID, pa.string()),
        (s.RATING, pa.float64()),
        (s.PRICE, pa.float64()),
        (s.VERSION, pa.int32()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("ingested_at", UTC_US),
    ]
)
CATALOG_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("category", pa.string()),
        ("brand", pa.string()),
        ("price", pa.float64()),
        ("title", pa.string()),
    ]
)


def _atomic_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def landing_frame(data_file: Path) -> pd.DataFrame:
    """The rating events of a MovieLens file as landed rows (provenance: topic 'replay', offset = row)."""
    df = pd.DataFrame(list(read_events(data_file)), columns=[f.name for f in LANDING_SCHEMA][:9])
    df[s.TIMESTAMP] = pd.to_datetime(df[s.TIMESTAMP].astype("int64"), unit="s", utc=True)
    df[s.VERSION] = s.SCHEMA_VERSION
    df["kafka_topic"], df["kafka_partition"] = "replay", 0
    df["kafka_offset"] = range(len(df))
    df["ingested_at"] = pd.Timestamp(datetime.now(UTC))
    return df


def land_movielens(settings: Settings, data_dir: str | Path) -> int:
    """Write `data_dir/u.data` (and its catalog from u.item) into the landing zone; returns the event
    count. Raises FileNotFoundError with the expected layout when the folder or file is missing."""
    data_file = Path(data_dir) / "u.data"
    if not data_file.is_file():
        raise FileNotFoundError(f"{data_file} not found: expected the MovieLens 100K folder (u.data, u.item)")
    df = landing_frame(data_file)
    run = uuid.uuid4().hex[:8]
    for date, day in df.groupby(df[s.TIMESTAMP].dt.strftime("%Y-%m-%d")):
        path = settings.landing_dir / "events" / f"event_date={date}" / f"part-movielens-{run}.parquet"
        _atomic_parquet(pa.Table.from_pandas(day, schema=LANDING_SCHEMA, preserve_index=False), path)
    catalog = movielens_catalog(data_file)
    if catalog is not None:
        table = pa.Table.from_pandas(
            catalog[CATALOG_SCHEMA.names], schema=CATALOG_SCHEMA, preserve_index=False
        )
        _atomic_parquet(table, settings.data_dir / "catalog" / "items.parquet")
    return len(df)
