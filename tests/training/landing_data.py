"""Tiny landed events written straight in the landing-zone format (contracts: landing zone), for the
preprocessing tests and benchmark. No Kafka: pandas/pyarrow files under settings.landing_dir."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ingest import schema as s

TS = pa.timestamp("us", tz="UTC")
LANDING_SCHEMA = pa.schema(
    [
        (s.EVENT_ID, pa.string()),
        (s.USER_ID, pa.string()),
        (s.ITEM_ID, pa.string()),
        (s.EVENT_TYPE, pa.string()),
        (s.TIMESTAMP, TS),
        (s.SESSION_ID, pa.string()),
        (s.RATING, pa.float64()),
        (s.PRICE, pa.float64()),
        (s.VERSION, pa.int32()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("ingested_at", TS),
    ]
)
CATALOG_SCHEMA = pa.schema(
    [("item_id", pa.string()), ("category", pa.string()), ("brand", pa.string()), ("price", pa.float64())]
)


def event(
    user: str, item: str, ts: float, kind: str = s.VIEW, rating: float | None = None, **extra: Any
) -> dict[str, Any]:
    """One raw event dict (unix-seconds timestamp); event_id random unless given."""
    row = {
        s.EVENT_ID: uuid.uuid4().hex,
        s.USER_ID: user,
        s.ITEM_ID: item,
        s.EVENT_TYPE: kind,
        s.TIMESTAMP: ts,
        s.SESSION_ID: None,
        s.RATING: rating,
        s.PRICE: None,
        s.VERSION: s.SCHEMA_VERSION,
    }
    row.update(extra)
    return row


def write_events(
    landing_dir: Path,
    events: Iterable[Mapping[str, Any]],
    offset: int = 0,
    ingested_at: datetime | None = None,
) -> list[Path]:
    """Write raw event dicts as landed Parquet, one file per UTC event date (provenance filled in:
    partition 0, offsets from `offset`, ingested now unless given)."""
    df = pd.DataFrame(list(events), columns=[f.name for f in LANDING_SCHEMA][:9])
    df[s.TIMESTAMP] = pd.to_datetime(
        (df[s.TIMESTAMP].astype("float64") * 1e6).round().astype("int64"), unit="us", utc=True
    )
    df["kafka_topic"] = "events"
    df["kafka_partition"] = 0
    df["kafka_offset"] = range(offset, offset + len(df))
    df["ingested_at"] = pd.Timestamp(ingested_at or datetime.now(UTC))
    df[s.VERSION] = df[s.VERSION].fillna(s.SCHEMA_VERSION).astype("int32")
    written = []
    for date, day in df.groupby(df[s.TIMESTAMP].dt.strftime("%Y-%m-%d")):
        path = Path(landing_dir) / "events" / f"event_date={date}" / f"part-{uuid.uuid4().hex}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(day, schema=LANDING_SCHEMA, preserve_index=False), path)
        written.append(path)
    return written


def write_catalog(data_dir: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """The optional catalog at data_dir/catalog/items.parquet."""
    path = Path(data_dir) / "catalog" / "items.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(list(rows), schema=CATALOG_SCHEMA), path)
    return path
