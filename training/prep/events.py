"""Landed events -> clean, deduplicated events -> one weighted interaction per (user, item), in Spark.

Cleaning applies the schema's rules (ingest.schema) again, because the landing zone can also be
written by hand or by older producers: rows that fail are dropped and counted, never fixed silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from ingest import schema as s
from ingest.parquet_sink import INGESTED_AT, KAFKA_OFFSET, KAFKA_PARTITION, events_dir, landed_files
from model.features import event_weights_array

PROVENANCE = (INGESTED_AT, KAFKA_PARTITION, KAFKA_OFFSET)


def require_landed(landing_dir: Path) -> Path:
    """The landing zone's events folder; FileNotFoundError when it holds no landed file."""
    events = events_dir(landing_dir)
    if not landed_files(landing_dir):
        raise FileNotFoundError(f"no landed events under {events}: run the ingest first")
    return events


def read_landed(spark: SparkSession, landing_dir: Path) -> DataFrame:
    """The landed events (every event_date partition), with a unix-seconds `ts` column."""
    events = require_landed(landing_dir)
    df = spark.read.parquet(str(events))  # event_date=* partitions; hidden .tmp files are skipped
    for name, kind in zip(PROVENANCE, ("timestamp", "int", "long"), strict=True):
        df = df.withColumn(name, (F.col(name) if name in df.columns else F.lit(None)).cast(kind))
    return df.withColumn("ts", F.unix_micros(F.col(s.TIMESTAMP).cast("timestamp")) / 1e6)


def _valid_id(name: str) -> Column:
    text = F.trim(F.col(name))
    return F.col(name).isNotNull() & (F.length(text) > 0) & (F.length(text) <= s.MAX_ID_LENGTH)


def validity(df: DataFrame) -> Column:
    """True for rows that satisfy the event schema (ids, type, time bounds, rating, price, version)."""
    rating, price, is_rating = F.col(s.RATING), F.col(s.PRICE), F.col(s.EVENT_TYPE) == s.RATING_EVENT
    good_rating = F.when(
        is_rating, rating.isNotNull() & ~F.isnan(rating) & rating.between(s.RATING_MIN, s.RATING_MAX)
    ).otherwise(rating.isNull())
    good = (
        _valid_id(s.EVENT_ID)
        & _valid_id(s.USER_ID)
        & _valid_id(s.ITEM_ID)
        & F.col(s.EVENT_TYPE).isin(*s.EVENT_TYPES)
        & F.col("ts").between(s.MIN_TIMESTAMP, s.MAX_TIMESTAMP)
        & good_rating
        & (price.isNull() | (~F.isnan(price) & (price >= 0)))
        & (F.col(s.VERSION) == s.SCHEMA_VERSION)
    )
    return F.coalesce(good, F.lit(False))


def clean_events(df: DataFrame) -> DataFrame:
    """Valid rows only, ids trimmed, one row per event_id (the first landed: ingest time, then Kafka
    position), with `copies`: how many valid rows carried that event_id. A hash aggregate, no sort."""
    payload = [F.trim(F.col(c)).alias(c) for c in (s.USER_ID, s.ITEM_ID)]
    payload += [F.col(c) for c in (s.EVENT_TYPE, "ts", s.RATING, s.PRICE)]
    first_landed = [F.unix_micros(F.col(PROVENANCE[0]))] + [F.col(c).cast("long") for c in PROVENANCE[1:]]
    landed = F.struct(*[F.coalesce(c, F.lit(2**62)) for c in first_landed])
    return (
        df.where(validity(df))
        .groupBy(F.trim(F.col(s.EVENT_ID)).alias(s.EVENT_ID))
        .agg(F.min_by(F.struct(*payload), landed).alias("e"), F.count(F.lit(1)).alias("copies"))
        .select(s.EVENT_ID, "e.*", "copies")
    )


def interactions(events: DataFrame, weights: Mapping[str, float]) -> DataFrame:
    """Per (user, item): weight = sum of event weights (features.event_weights_array), timestamp =
    last time (unix s), event_type = strongest type code."""
    frozen = dict(weights)

    @F.pandas_udf("double")
    def weight_udf(kind: pd.Series, rating: pd.Series) -> pd.Series:
        return pd.Series(event_weights_array(kind.to_numpy(), rating.to_numpy(), frozen))

    code = F.create_map(*[F.lit(x) for kv in s.EVENT_TYPE_CODE.items() for x in kv])
    weighted = events.select(
        s.USER_ID,
        s.ITEM_ID,
        "ts",
        code[F.col(s.EVENT_TYPE)].alias("code"),
        weight_udf(F.col(s.EVENT_TYPE), F.col(s.RATING)).alias("w"),
    )
    return weighted.groupBy(s.USER_ID, s.ITEM_ID).agg(
        F.sum("w").cast("float").alias("weight"),
        F.floor(F.max("ts")).cast("long").alias("timestamp"),
        F.max("code").cast("byte").alias("event_type"),
    )


def kcore(df: DataFrame, k: int, max_rounds: int = 10) -> DataFrame:
    """Keep users and items with at least k interactions, repeated until stable (or max_rounds)."""
    if k <= 0:
        return df
    for _ in range(max_rounds):
        users = df.groupBy(s.USER_ID).count().where(F.col("count") >= k).select(s.USER_ID)
        items = df.groupBy(s.ITEM_ID).count().where(F.col("count") >= k).select(s.ITEM_ID)
        kept = df.join(users, s.USER_ID, "left_semi").join(items, s.ITEM_ID, "left_semi").cache()
        if kept.count() == df.count():
            return kept
        df = kept
    return df
