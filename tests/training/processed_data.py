"""Synthetic processed data in the Spark job's output format (contracts: processed data), for the
trainer tests and the training-speed benchmark. Learnable: every user sticks to one category."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.schema import EVENT_TYPE_CODE


def _list_column(padded: np.ndarray, lengths: np.ndarray, value_type: pa.DataType) -> pa.Array:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    mask = np.arange(padded.shape[1])[None, :] < lengths[:, None]
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(padded[mask], value_type))


def _history(items: np.ndarray, types: np.ndarray, upto: np.ndarray, max_history: int):
    """For rows [U, T] ordered oldest first: the first `upto` entries, newest first, truncated."""
    n_users, n_steps = items.shape
    pos = upto[:, None] - 1 - np.arange(max_history)[None, :]
    valid = pos >= 0
    pos = np.clip(pos, 0, n_steps - 1)
    rows = np.arange(n_users)[:, None]
    return np.where(valid, items[rows, pos], 0), np.where(valid, types[rows, pos], 0), valid.sum(1)


def _write_split(path: Path, user, item, ts, types, hist, hist_t, lengths) -> None:
    table = pa.table(
        {
            "user_idx": pa.array(user, pa.int32()),
            "item_idx": pa.array(item, pa.int32()),
            "weight": pa.array(np.ones(len(user)), pa.float32()),
            "timestamp": pa.array(ts, pa.int64()),
            "event_type": pa.array(types, pa.int8()),
            "hist_items": _list_column(hist, lengths, pa.int32()),
            "hist_types": _list_column(hist_t, lengths, pa.int8()),
        }
    )
    path.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path / "part-00000.parquet")


def write_processed(
    out: Path,
    n_users: int = 60,
    n_items: int = 48,
    n_categories: int = 4,
    per_user: int = 8,
    max_history: int = 10,
    seed: int = 0,
) -> dict:
    """Write a processed snapshot (leave-last-out split) under `out`; returns its manifest."""
    rng = np.random.default_rng(seed)
    out = Path(out)
    item_cat = (np.arange(1, n_items + 1) - 1) % n_categories + 1  # item_idx i -> category idx
    by_cat = [np.flatnonzero(item_cat == c) + 1 for c in range(1, n_categories + 1)]
    user_cat = rng.integers(0, n_categories, n_users)
    items = np.stack([_pick(rng, by_cat[c], per_user) for c in user_cat])  # [U, T] oldest first
    types = rng.integers(1, 5, items.shape)
    users = np.arange(1, n_users + 1)
    base = 1_700_000_000 + np.arange(per_user)[None, :] * 60 + users[:, None] * 3600
    n_train = per_user - 2
    hist, hist_t, lengths = _history(items, types, np.full(n_users, n_train), max_history)
    for split, cols in (("valid", n_train), ("test", n_train + 1)):
        _write_split(out / split, users, items[:, cols], base[:, cols], types[:, cols], hist, hist_t, lengths)
    u, t = np.repeat(users, n_train), np.tile(np.arange(n_train), n_users)
    th, tt, tl = _history(items[u - 1], types[u - 1], t, max_history)
    _write_split(out / "train", u, items[u - 1, t], base[u - 1, t], types[u - 1, t], th, tt, tl)
    _write_histories(out, users, items, types, n_train, max_history)
    popularity = np.bincount(items[:, :n_train].ravel(), minlength=n_items + 1)
    _write_vocab(out, n_users, n_items, n_categories, item_cat, popularity)
    manifest = {
        "snapshot_id": f"synthetic-{seed}-{n_users}x{n_items}",
        "created_at": "2026-01-01T00:00:00+00:00",
        "counts": {"interactions": int(items.size), "users": n_users, "items": n_items},
        "split": {"kind": "leave_last_out"},
        "vocab": {
            "n_users": n_users + 1,
            "n_items": n_items + 1,
            "n_categories": n_categories + 1,
            "n_brands": 1,
            "n_price_buckets": 1,
        },
        "max_history": max_history,
        "event_weights": {"view": 1.0, "add_to_cart": 2.0, "purchase": 3.0, "rating": 1.0},
        "price_boundaries": [],
        "event_type_codes": dict(EVENT_TYPE_CODE),
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def _pick(rng: np.random.Generator, pool: np.ndarray, k: int) -> np.ndarray:
    """k distinct items of a pool, skewed towards its first items (a popularity head)."""
    p = 1.0 / np.arange(1, len(pool) + 1)
    return rng.choice(pool, size=min(k, len(pool)), replace=False, p=p / p.sum())


def _write_histories(out: Path, users, items, types, n_train: int, max_history: int) -> None:
    h, ht, hl = _history(items, types, np.full(len(users), n_train), max_history)
    f, ft, fl = _history(items, types, np.full(len(users), n_train + 1), max_history)
    table = pa.table(
        {
            "user_idx": pa.array(users, pa.int32()),
            "hist_items": _list_column(h, hl, pa.int32()),
            "hist_types": _list_column(ht, hl, pa.int8()),
            "full_hist_items": _list_column(f, fl, pa.int32()),
            "full_hist_types": _list_column(ft, fl, pa.int8()),
        }
    )
    (out / "histories").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out / "histories" / "part-00000.parquet")


def _write_vocab(out: Path, n_users, n_items, n_categories, item_cat, popularity) -> None:
    (out / "vocab").mkdir(parents=True, exist_ok=True)
    idx = np.arange(1, n_items + 1)
    users = pa.table(
        {
            "user_id": [f"u{i}" for i in range(1, n_users + 1)],
            "user_idx": pa.array(range(1, n_users + 1), pa.int32()),
        }
    )
    pq.write_table(users, out / "vocab" / "users.parquet")
    pq.write_table(
        pa.table({"item_id": [f"i{i}" for i in idx], "item_idx": pa.array(idx, pa.int32())}),
        out / "vocab" / "items.parquet",
    )
    cats = pa.table(
        {
            "value": [f"c{c}" for c in range(1, n_categories + 1)],
            "idx": pa.array(range(1, n_categories + 1), pa.int32()),
        }
    )
    pq.write_table(cats, out / "vocab" / "categories.parquet")
    pq.write_table(
        pa.table({"value": pa.array([], pa.string()), "idx": pa.array([], pa.int32())}),
        out / "vocab" / "brands.parquet",
    )
    items = pa.table(
        {
            "item_idx": pa.array(idx, pa.int32()),
            "item_id": [f"i{i}" for i in idx],
            "category": [f"c{c}" for c in item_cat],
            "category_idx": pa.array(item_cat, pa.int32()),
            "brand_idx": pa.array(np.zeros(n_items), pa.int32()),
            "price_bucket": pa.array(np.zeros(n_items), pa.int32()),
            "popularity": pa.array(popularity[1:], pa.int64()),
        }
    )
    pq.write_table(items, out / "items.parquet")
