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

from infra.config import Settings
from ingest import schema as s
from ingest.catalog import SCHEMA as CATALOG_SCHEMA
from ingest.catalog import catalog_path
from ingest.parquet_sink import (
    INGESTED_AT,
    KAFKA_OFFSET,
    KAFKA_PARTITION,
    KAFKA_TOPIC,
    LANDING_SCHEMA,
    day_dir,
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
    df = pd.DataFrame(list(events), columns=list(s.FIELDS))
    df[s.TIMESTAMP] = pd.to_datetime(
        (df[s.TIMESTAMP].astype("float64") * 1e6).round().astype("int64"), unit="us", utc=True
    )
    df[KAFKA_TOPIC] = "events"
    df[KAFKA_PARTITION] = 0
    df[KAFKA_OFFSET] = range(offset, offset + len(df))
    df[INGESTED_AT] = pd.Timestamp(ingested_at or datetime.now(UTC))
    df[s.VERSION] = df[s.VERSION].fillna(s.SCHEMA_VERSION).astype("int32")
    written = []
    for date, day in df.groupby(df[s.TIMESTAMP].dt.strftime("%Y-%m-%d")):
        path = day_dir(landing_dir, date) / f"part-{uuid.uuid4().hex}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(day, schema=LANDING_SCHEMA, preserve_index=False), path)
        written.append(path)
    return written


def write_catalog(settings: Settings, rows: Iterable[Mapping[str, Any]]) -> Path:
    """The optional catalog (ingest.catalog's place), from row dicts; missing columns are null."""
    path = catalog_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(list(rows), schema=CATALOG_SCHEMA), path)
    return path
