"""items.parquet in Spark: one row per item_idx with category, brand, price bucket and popularity.

Prices come from the catalog when it has one for the item, else from the item's events (average);
bucket boundaries are price quantiles over items, and the bucketing itself is
`model.features.price_buckets` (the function serving uses).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ingest import schema as s
from ingest.catalog import BRAND, CATEGORY, ITEM_ID, PRICE
from model.features import price_buckets
from training.prep.dataset import ITEM_FEATURE_COLUMNS, ITEM_IDX, POPULARITY

# The catalogue columns item features use (ingest.catalog defines the file).
CATALOG_COLUMNS = (ITEM_ID, CATEGORY, BRAND, PRICE)


def read_catalog(spark: SparkSession, path: Path) -> DataFrame | None:
    """The catalog (item_id, category, brand, price), one row per item; None when there is none."""
    if not Path(path).exists():
        return None
    df = spark.read.parquet(str(path))
    cols = [
        (F.col(c) if c in df.columns else F.lit(None)).cast("double" if c == "price" else "string").alias(c)
        for c in CATALOG_COLUMNS
    ]
    return df.select(*cols).where(F.col("item_id").isNotNull()).dropDuplicates(["item_id"])


def empty_catalog(spark: SparkSession) -> DataFrame:
    fields = [T.StructField(c, T.DoubleType() if c == "price" else T.StringType()) for c in CATALOG_COLUMNS]
    return spark.createDataFrame([], T.StructType(fields))


def price_boundaries(prices: DataFrame, n_buckets: int) -> list[float]:
    """n_buckets - 1 quantile boundaries of the `price` column (duplicates removed)."""
    if n_buckets < 2:
        return []
    probs = [i / n_buckets for i in range(1, n_buckets)]
    values = prices.where(F.col("price").isNotNull()).approxQuantile("price", probs, 1e-3)
    return sorted({float(v) for v in values})


def item_table(
    item_vocab: DataFrame,
    catalog: DataFrame,
    events: DataFrame,
    categories: DataFrame,
    brands: DataFrame,
    train: DataFrame,
    n_price_buckets: int,
) -> tuple[DataFrame, list[float]]:
    """(items DataFrame sorted by item_idx, price boundaries)."""
    event_price = events.groupBy(s.ITEM_ID).agg(F.avg(s.PRICE).alias("event_price"))
    joined = (
        item_vocab.join(catalog, "item_id", "left")
        .join(event_price, "item_id", "left")
        .withColumn("price", F.coalesce("price", "event_price"))
        .cache()
    )
    boundaries = price_boundaries(joined, n_price_buckets)

    @F.pandas_udf("int")
    def bucket_udf(price: pd.Series) -> pd.Series:
        return pd.Series(price_buckets(price.to_numpy(np.float64), boundaries))

    category_idx, brand_idx, price_bucket = ITEM_FEATURE_COLUMNS
    popularity = train.groupBy(ITEM_IDX).agg(F.count(F.lit(1)).cast("long").alias(POPULARITY))
    cats = categories.select(F.col("value").alias(CATEGORY), F.col("idx").alias(category_idx))
    brand = brands.select(F.col("value").alias(BRAND), F.col("idx").alias(brand_idx))
    items = (
        joined.join(cats, CATEGORY, "left")
        .join(brand, BRAND, "left")
        .join(popularity, ITEM_IDX, "left")
        .select(
            F.col(ITEM_IDX).cast("int"),
            ITEM_ID,
            CATEGORY,
            F.coalesce(category_idx, F.lit(0)).cast("int").alias(category_idx),
            F.coalesce(brand_idx, F.lit(0)).cast("int").alias(brand_idx),
            bucket_udf(F.col(PRICE)).alias(price_bucket),
            F.coalesce(POPULARITY, F.lit(0)).cast("long").alias(POPULARITY),
        )
        .orderBy(ITEM_IDX)
    )
    return items, boundaries
