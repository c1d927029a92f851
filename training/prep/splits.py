"""Train / valid / test splits of the (user, item) interactions, in Spark; adds a `split` column.

- temporal (default): global time cutoffs at interaction quantiles: the newest `test_fraction` of
  interactions is test, the `valid_fraction` before it is valid, the rest train.
- leave_last_out: per user, the newest interaction is test and the one before it valid (users need
  3 interactions to give one to each, 2 to give a test one).
- benchmark: Microsoft Recommenders' stratified split: each item's interactions in a seeded random
  order, the first round(0.75 n) are train, the rest test; valid is carved from each item's train
  part the same way (valid_fraction, stratified by item). Set valid_fraction 0 for the exact protocol.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from training.prep.dataset import TEST, TRAIN, VALID

SPLIT_KINDS = ("temporal", "leave_last_out", "benchmark")


def temporal_split(df: DataFrame, test_fraction: float, valid_fraction: float) -> tuple[DataFrame, dict]:
    """Global cutoffs on `timestamp`; rows at or after a cutoff go to the later split."""
    probs = [1.0 - test_fraction - valid_fraction, 1.0 - test_fraction]
    valid_cut, test_cut = df.approxQuantile("timestamp", probs, 1e-4) or [None, None]
    if valid_cut is None:  # no rows
        return df.withColumn("split", F.lit(TRAIN)), {"valid_cutoff": None, "test_cutoff": None}
    split = (
        F.when(F.lit(test_fraction > 0) & (F.col("timestamp") >= test_cut), TEST)
        .when(F.lit(valid_fraction > 0) & (F.col("timestamp") >= valid_cut), VALID)
        .otherwise(TRAIN)
    )
    return df.withColumn("split", split), {"valid_cutoff": int(valid_cut), "test_cutoff": int(test_cut)}


def leave_last_out_split(df: DataFrame, with_valid: bool) -> DataFrame:
    """Per user by time (newest first, ties by item_idx): rank 1 test, rank 2 valid, rest train."""
    window = Window.partitionBy("user_idx").orderBy(F.col("timestamp").desc(), F.col("item_idx").desc())
    ranked = df.withColumn("_rank", F.row_number().over(window)).withColumn(
        "_n", F.count(F.lit(1)).over(Window.partitionBy("user_idx"))
    )
    split = F.when((F.col("_rank") == 1) & (F.col("_n") >= 2), TEST)
    if with_valid:
        split = split.when((F.col("_rank") == 2) & (F.col("_n") >= 3), VALID)
    return ranked.withColumn("split", split.otherwise(TRAIN)).drop("_rank", "_n")


def _java_round(x: Column) -> Column:
    return F.floor(x + F.lit(0.5))


def benchmark_split(df: DataFrame, ratio: float, valid_fraction: float, seed: int) -> DataFrame:
    """Stratified by item: a seeded order per item (a hash of seed, user and item, so it does not
    depend on partitioning); the first round(ratio * n) are train (minus the valid share), rest test."""
    order = F.xxhash64(F.lit(seed), F.col("user_idx"), F.col("item_idx"))
    by_item = Window.partitionBy("item_idx")
    ranked = df.withColumn("_rank", F.row_number().over(by_item.orderBy(order, "user_idx"))).withColumn(
        "_n", F.count(F.lit(1)).over(by_item)
    )
    n_train = _java_round(F.col("_n") * ratio)
    n_fit = n_train - _java_round(n_train * valid_fraction)
    split = F.when(F.col("_rank") > n_train, TEST).when(F.col("_rank") > n_fit, VALID).otherwise(TRAIN)
    return ranked.withColumn("split", split).drop("_rank", "_n")


def split_interactions(
    df: DataFrame, kind: str, test_fraction: float, valid_fraction: float, seed: int
) -> tuple[DataFrame, dict]:
    """Dispatch on `kind`; returns the rows with a `split` column and the split's manifest entry."""
    if kind == "temporal":
        out, cutoffs = temporal_split(df, test_fraction, valid_fraction)
        params = {"test_fraction": test_fraction, "valid_fraction": valid_fraction, **cutoffs}
    elif kind == "leave_last_out":
        out, params = leave_last_out_split(df, valid_fraction > 0), {"valid": valid_fraction > 0}
    elif kind == "benchmark":
        ratio = 1.0 - test_fraction
        out = benchmark_split(df, ratio, valid_fraction, seed)
        params = {"ratio": ratio, "valid_fraction": valid_fraction, "seed": seed, "stratify_by": "item"}
    else:
        raise ValueError(f"unknown split kind {kind!r}; expected one of {SPLIT_KINDS}")
    return out, {"kind": kind, **params}
