"""Per-user histories in Spark, through `model.features.build_history` (the function serving uses
per request).

The interactions are hash-partitioned by user, and each partition is handled in one Arrow batch
(mapInArrow): rows are grouped by user in numpy and build_history runs once per user with every
target time of that user at once. That avoids a pandas DataFrame per user (applyInPandas), which
dominated the run time on many small users.

No leakage: every example's history holds only TRAIN interactions whose time is strictly before the
example's own time. The per-user `histories/` table holds the train-only history (the query when
evaluating valid) and the train+valid history (the query when evaluating test).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame

from model.features import build_history
from training.prep.dataset import (
    EVENT_TYPE,
    FULL_HIST_ITEMS,
    FULL_HIST_TYPES,
    HIST_ITEMS,
    HIST_TYPES,
    ITEM_IDX,
    SPLIT,
    TIMESTAMP,
    TRAIN,
    USER_IDX,
    VALID,
    WEIGHT,
)

EXAMPLE_SCHEMA = (
    f"{USER_IDX} int, {ITEM_IDX} int, {WEIGHT} float, {TIMESTAMP} long, {EVENT_TYPE} byte, {SPLIT} string, "
    f"{HIST_ITEMS} array<int>, {HIST_TYPES} array<byte>"
)
HISTORY_SCHEMA = (
    f"{USER_IDX} int, {HIST_ITEMS} array<int>, {HIST_TYPES} array<byte>, "
    f"{FULL_HIST_ITEMS} array<int>, {FULL_HIST_TYPES} array<byte>"
)
INPUT_COLUMNS = (USER_IDX, ITEM_IDX, WEIGHT, TIMESTAMP, EVENT_TYPE, SPLIT)


def _list_array(arrays: list[np.ndarray], value_type: pa.DataType) -> pa.Array:
    lengths = np.fromiter((len(a) for a in arrays), np.int64, len(arrays))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    values = np.concatenate(arrays) if arrays else np.array([])
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, value_type))


def _partition(
    batches: Iterator[pa.RecordBatch],
) -> tuple[dict[str, np.ndarray], list[slice], np.ndarray] | None:
    """One partition's rows as numpy columns sorted by user (stable), each user's slice, and which
    rows are train interactions (the only ones a history may hold)."""
    batches = list(batches)
    if not batches or not sum(b.num_rows for b in batches):
        return None
    table = pa.Table.from_batches(batches).select(list(INPUT_COLUMNS))
    order = np.argsort(table[USER_IDX].to_numpy(), kind="stable")
    cols = {name: table[name].to_numpy(zero_copy_only=False)[order] for name in INPUT_COLUMNS}
    cuts = np.flatnonzero(np.diff(cols[USER_IDX])) + 1
    bounds = np.concatenate([[0], cuts, [len(order)]])
    users = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return cols, users, cols[SPLIT] == TRAIN


def _history(cols: dict[str, np.ndarray], rows: slice, keep: np.ndarray, before, max_history: int):
    mask = keep[rows]
    return build_history(
        cols[ITEM_IDX][rows][mask],
        cols[EVENT_TYPE][rows][mask],
        cols[TIMESTAMP][rows][mask],
        before,
        max_history,
    )


def _examples(batches: Iterator[pa.RecordBatch], max_history: int) -> Iterator[pa.RecordBatch]:
    grouped = _partition(batches)
    if grouped is None:
        return
    cols, users, train = grouped
    items: list[np.ndarray] = []
    types: list[np.ndarray] = []
    for rows in users:
        got_items, got_types = _history(
            cols, rows, train, cols[TIMESTAMP][rows].astype(np.float64), max_history
        )
        items.extend(got_items)
        types.extend(got_types)
    yield pa.RecordBatch.from_arrays(
        [
            pa.array(cols[USER_IDX], pa.int32()),
            pa.array(cols[ITEM_IDX], pa.int32()),
            pa.array(cols[WEIGHT], pa.float32()),
            pa.array(cols[TIMESTAMP], pa.int64()),
            pa.array(cols[EVENT_TYPE], pa.int8()),
            pa.array(cols[SPLIT], pa.string()),
            _list_array(items, pa.int32()),
            _list_array(types, pa.int8()),
        ],
        names=[*INPUT_COLUMNS, HIST_ITEMS, HIST_TYPES],
    )


def _user_histories(batches: Iterator[pa.RecordBatch], max_history: int) -> Iterator[pa.RecordBatch]:
    grouped = _partition(batches)
    if grouped is None:
        return
    cols, users, train = grouped
    known = train | (cols[SPLIT] == VALID)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("hi", "ht", "fi", "ft")}
    for rows in users:
        for (i_key, t_key), keep in ((("hi", "ht"), train), (("fi", "ft"), known)):
            got_items, got_types = _history(cols, rows, keep, np.inf, max_history)
            out[i_key].append(got_items)
            out[t_key].append(got_types)
    yield pa.RecordBatch.from_arrays(
        [
            pa.array([cols[USER_IDX][rows.start] for rows in users], pa.int32()),
            _list_array(out["hi"], pa.int32()),
            _list_array(out["ht"], pa.int8()),
            _list_array(out["fi"], pa.int32()),
            _list_array(out["ft"], pa.int8()),
        ],
        names=[USER_IDX, HIST_ITEMS, HIST_TYPES, FULL_HIST_ITEMS, FULL_HIST_TYPES],
    )


def with_histories(interactions: DataFrame, max_history: int) -> DataFrame:
    """Every interaction row (all splits) with its train-only history before its own time."""
    return (
        interactions.select(*INPUT_COLUMNS)
        .repartition(USER_IDX)
        .mapInArrow(lambda batches: _examples(batches, max_history), EXAMPLE_SCHEMA)
    )


def user_histories(interactions: DataFrame, max_history: int) -> DataFrame:
    """One row per user: newest-first histories from train, and from train + valid."""
    return (
        interactions.select(*INPUT_COLUMNS)
        .repartition(USER_IDX)
        .mapInArrow(lambda batches: _user_histories(batches, max_history), HISTORY_SCHEMA)
    )
