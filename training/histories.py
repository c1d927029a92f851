"""Per-user histories in Spark, through `training.features.build_history` (the function serving uses
per request), run per user with applyInPandas.

No leakage: every example's history holds only TRAIN interactions whose time is strictly before the
example's own time. The per-user `histories/` table holds the train-only history (the query when
evaluating valid) and the train+valid history (the query when evaluating test).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame

from training.features import build_history
from training.splits import TRAIN, VALID

EXAMPLE_SCHEMA = (
    "user_idx int, item_idx int, weight float, timestamp long, event_type byte, split string, "
    "hist_items array<int>, hist_types array<byte>"
)
HISTORY_SCHEMA = (
    "user_idx int, hist_items array<int>, hist_types array<byte>, "
    "full_hist_items array<int>, full_hist_types array<byte>"
)


def _history_of(rows: pd.DataFrame, mask: np.ndarray, before, max_history: int):
    return build_history(
        rows["item_idx"].to_numpy()[mask],
        rows["event_type"].to_numpy()[mask],
        rows["timestamp"].to_numpy()[mask],
        before,
        max_history,
    )


def _examples_for_user(rows: pd.DataFrame, max_history: int) -> pd.DataFrame:
    train = (rows["split"] == TRAIN).to_numpy()
    items, types = _history_of(rows, train, rows["timestamp"].to_numpy(np.float64), max_history)
    out = rows[["user_idx", "item_idx", "weight", "timestamp", "event_type", "split"]].copy()
    out["hist_items"], out["hist_types"] = items, types
    return out


def _histories_for_user(rows: pd.DataFrame, max_history: int) -> pd.DataFrame:
    split = rows["split"].to_numpy()
    train, known = split == TRAIN, (split == TRAIN) | (split == VALID)
    items, types = _history_of(rows, train, np.inf, max_history)
    full_items, full_types = _history_of(rows, known, np.inf, max_history)
    return pd.DataFrame(
        {
            "user_idx": rows["user_idx"].iloc[:1].to_numpy(),
            "hist_items": [items],
            "hist_types": [types],
            "full_hist_items": [full_items],
            "full_hist_types": [full_types],
        }
    )


def with_histories(interactions: DataFrame, max_history: int) -> DataFrame:
    """Every interaction row (all splits) with its train-only history before its own time."""
    return interactions.groupBy("user_idx").applyInPandas(
        lambda rows: _examples_for_user(rows, max_history), schema=EXAMPLE_SCHEMA
    )


def user_histories(interactions: DataFrame, max_history: int) -> DataFrame:
    """One row per user: newest-first histories from train, and from train + valid."""
    return interactions.groupBy("user_idx").applyInPandas(
        lambda rows: _histories_for_user(rows, max_history), schema=HISTORY_SCHEMA
    )
