"""The product catalogue: one Parquet file the producers write (simulator, MovieLens replay) and the
Spark job reads for item features. Its columns, schema and place are defined here only.

    <data_dir>/catalog/items.parquet    item_id, category, brand, price, title (one row per item)

Every column but item_id may be null; a data set without a catalogue has no file, and the Spark job
then takes prices from the events and leaves category and brand unknown.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from infra.config import Settings
from infra.files import atomic_write_with

ITEM_ID, CATEGORY, BRAND, PRICE, TITLE = "item_id", "category", "brand", "price", "title"
COLUMNS = (ITEM_ID, CATEGORY, BRAND, PRICE, TITLE)
SCHEMA = pa.schema(
    [
        (ITEM_ID, pa.string()),
        (CATEGORY, pa.string()),
        (BRAND, pa.string()),
        (PRICE, pa.float64()),
        (TITLE, pa.string()),
    ]
)


def catalog_path(settings: Settings) -> Path:
    return settings.data_dir / "catalog" / "items.parquet"


def write_catalog(settings: Settings, catalog: pd.DataFrame) -> Path:
    """Write the catalogue (a DataFrame with COLUMNS) atomically; returns the path."""
    path = catalog_path(settings)
    table = pa.Table.from_pandas(catalog.loc[:, list(COLUMNS)], schema=SCHEMA, preserve_index=False)
    atomic_write_with(path, lambda fh: pq.write_table(table, fh))
    return path
