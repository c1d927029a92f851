"""Stable integer vocabularies in Spark: 0 is reserved for unknown/padding, existing ids keep their
index across runs and new ids are appended (in sorted order, after the current maximum).

Persisted outside the processed snapshot (settings.data_dir / "vocab") so that a re-run on more data
keeps every id a deployed model already knows. The append is a left-anti join, then a distributed
numbering of the new keys in sorted order: a range partitioning sorted within each partition, each
partition's count (one row per partition reaches the driver, never the keys) giving its start.
No global window, so no single task ever holds a whole vocabulary.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from infra.files import atomic_move, atomic_write_bytes
from training.prep.dataset import ITEM_ID, ITEM_IDX, USER_ID, USER_IDX

# vocabulary name -> (key column, index column), as written to vocab/<name>.parquet
VOCABS = {
    "users": (USER_ID, USER_IDX),
    "items": (ITEM_ID, ITEM_IDX),
    "categories": ("value", "idx"),
    "brands": ("value", "idx"),
}


def read_vocab(spark: SparkSession, directory: Path, name: str) -> DataFrame:
    """The persisted vocabulary `name` (empty when there is none yet)."""
    key, idx = VOCABS[name]
    schema = T.StructType([T.StructField(key, T.StringType()), T.StructField(idx, T.IntegerType())])
    path = Path(directory) / f"{name}.parquet"
    if not path.exists():
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).parquet(str(path))


def extend_vocab(
    existing: DataFrame, values: DataFrame, name: str, partitions: int | None = None
) -> DataFrame:
    """`existing` plus every distinct non-null value of `values` (single column) not yet in it,
    numbered in sorted order after the current maximum index. `partitions`: of the numbering
    (default: spark.sql.shuffle.partitions)."""
    key, idx = VOCABS[name]
    new = (
        values.toDF(key)
        .where(F.col(key).isNotNull())
        .distinct()
        .join(existing.select(key), on=key, how="left_anti")
    )
    offset = int(existing.agg(F.coalesce(F.max(idx), F.lit(0))).first()[0])
    # Range-partitioned and sorted within partitions: partition p holds keys below partition p + 1's.
    # Checkpointed, so the counts and the numbering see the very same partitions.
    ordered = (
        (new.repartitionByRange(partitions, key) if partitions else new.repartitionByRange(key))
        .sortWithinPartitions(key)
        .withColumn("_part", F.spark_partition_id())
        .localCheckpoint()
    )
    counts = sorted((int(r["_part"]), int(r["count"])) for r in ordered.groupBy("_part").count().collect())
    starts, total = [], offset
    for part, count in counts:
        starts.append((part, total))
        total += count
    spark = new.sparkSession
    start_df = spark.createDataFrame(starts or [(0, offset)], "_part int, _start long")
    numbered = ordered.join(F.broadcast(start_df), "_part").withColumn(
        idx,
        (F.col("_start") + F.row_number().over(Window.partitionBy("_part").orderBy(key))).cast("int"),
    )
    return existing.unionByName(numbered.select(key, idx))


def write_single_parquet(df: DataFrame, path: Path) -> Path:
    """Write a small DataFrame as ONE Parquet file at `path` (Spark writes a folder; keep its part)."""
    staging = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}"
    df.coalesce(1).write.mode("overwrite").parquet(str(staging))
    parts = sorted(staging.glob("part-*.parquet"))
    if len(parts) != 1:
        raise RuntimeError(f"expected one Parquet part in {staging}, found {len(parts)}")
    atomic_move(parts[0], path)
    shutil.rmtree(staging)
    return path


def persist_vocabs(snapshot_vocab: Path, persisted: Path) -> None:
    """Copy the snapshot's vocabularies to the persisted location, each file replaced atomically."""
    persisted.mkdir(parents=True, exist_ok=True)
    for name in VOCABS:
        source = snapshot_vocab / f"{name}.parquet"
        atomic_write_bytes(persisted / f"{name}.parquet", source.read_bytes())
