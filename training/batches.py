"""Framework-neutral training data: processed Parquet -> padded numpy arrays -> seeded `Batch`es.

Both backends are fed the very same batches (same order, same user-id dropout draws), built here once
in numpy; that is what makes the TensorFlow and PyTorch runs comparable step by step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from training.prep.dataset import (
    CATEGORY,
    HIST_ITEMS,
    HIST_TYPES,
    ITEM_FEATURE_COLUMNS,
    ITEM_ID,
    ITEM_IDX,
    ITEMS_FILE,
    POPULARITY,
    USER_ID,
    USER_IDX,
    VOCAB_DIR,
    WEIGHT,
)


@dataclass(frozen=True)
class Batch:
    """One training step's input: query side (user, history) and target item with its weight."""

    user_idx: np.ndarray  # int64 [B]
    hist_items: np.ndarray  # int64 [B, L], newest first, 0 = padding
    hist_types: np.ndarray  # int64 [B, L]
    item_idx: np.ndarray  # int64 [B]
    weight: np.ndarray  # float32 [B]

    def __len__(self) -> int:
        return len(self.item_idx)


@dataclass(frozen=True)
class Examples:
    """Every (user, item) row of one split, histories padded to max_history."""

    user_idx: np.ndarray
    hist_items: np.ndarray
    hist_types: np.ndarray
    item_idx: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.item_idx)

    def take(self, rows: np.ndarray) -> Batch:
        return Batch(
            self.user_idx[rows],
            self.hist_items[rows],
            self.hist_types[rows],
            self.item_idx[rows],
            self.weight[rows],
        )


@dataclass(frozen=True)
class Catalog:
    """What the item tower and the serving artifact need about items and users, indexed by *_idx."""

    item_features: np.ndarray  # int64 [n_items, 3]: category, brand, price bucket (row 0 = padding)
    item_ids: list[str]
    item_categories: list[str | None]
    item_popularity: np.ndarray  # int64 [n_items]
    user_ids: list[str]


def pad_list_column(column: pa.ChunkedArray | pa.Array, max_len: int) -> np.ndarray:
    """A list<int> column as an int64 [rows, max_len] array, right-padded with 0, truncated."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if isinstance(array, pa.ChunkedArray):  # combine_chunks of a list column may still be chunked
        array = pa.concat_arrays(array.chunks) if array.num_chunks else pa.array([], array.type)
    offsets = array.offsets.to_numpy().astype(np.int64)
    values = array.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    offsets -= offsets[0]
    lengths = np.minimum(np.diff(offsets), max_len)
    out = np.zeros((len(array), max_len), np.int64)
    rows = np.repeat(np.arange(len(array)), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    pos = np.arange(lengths.sum()) - starts
    out[rows, pos] = values[np.repeat(offsets[:-1], lengths) + pos]
    return out


def load_examples(processed_dir: Path, split: str, max_history: int) -> Examples:
    """Read `<processed_dir>/<split>/` (Parquet dataset) into padded numpy arrays."""
    path = Path(processed_dir) / split
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the processed data has no {split!r} split")
    table = pq.read_table(path, columns=[USER_IDX, ITEM_IDX, WEIGHT, HIST_ITEMS, HIST_TYPES])
    return Examples(
        user_idx=table[USER_IDX].to_numpy().astype(np.int64),
        hist_items=pad_list_column(table[HIST_ITEMS], max_history),
        hist_types=pad_list_column(table[HIST_TYPES], max_history),
        item_idx=table[ITEM_IDX].to_numpy().astype(np.int64),
        weight=table[WEIGHT].to_numpy().astype(np.float32),
    )


def load_catalog(processed_dir: Path, n_items: int, n_users: int) -> Catalog:
    """Item features and ids (items.parquet) and user ids (vocab/users.parquet), indexed by *_idx."""
    processed_dir = Path(processed_dir)
    items = pq.read_table(processed_dir / ITEMS_FILE).to_pandas()
    idx = items[ITEM_IDX].to_numpy(np.int64)
    if len(idx) and (idx.min() < 1 or idx.max() >= n_items):
        raise ValueError(f"items.parquet has item_idx outside 1..{n_items - 1}")
    features = np.zeros((n_items, len(ITEM_FEATURE_COLUMNS)), np.int64)
    features[idx] = items[list(ITEM_FEATURE_COLUMNS)].fillna(0).to_numpy(np.int64)
    item_ids, categories = [""] * n_items, [None] * n_items
    popularity = np.zeros(n_items, np.int64)
    popularity[idx] = items[POPULARITY].fillna(0).to_numpy(np.int64)
    for i, item_id, cat in zip(idx, items[ITEM_ID], items[CATEGORY], strict=True):
        item_ids[i], categories[i] = str(item_id), (None if cat is None or cat != cat else str(cat))
    users = pq.read_table(processed_dir / VOCAB_DIR / "users.parquet").to_pandas()
    user_ids = [""] * n_users
    for i, user_id in zip(users[USER_IDX].to_numpy(np.int64), users[USER_ID], strict=True):
        user_ids[i] = str(user_id)
    return Catalog(features, item_ids, categories, popularity, user_ids)


def iter_batches(
    examples: Examples,
    batch_size: int,
    rng: np.random.Generator,
    user_dropout: float = 0.0,
    history_dropout: float = 0.0,
    drop_remainder: bool = False,
    by_length: bool = False,
) -> Iterator[Batch]:
    """One epoch of shuffled batches. User ids are dropped to 0 (the unknown-user row) with
    probability user_dropout, history entries with history_dropout, all from `rng`, so a given seed
    yields the same batches for every backend. Histories are cut to the batch's longest.
    drop_remainder: skip the last, smaller batch when there is a full one (see batches_per_epoch).
    by_length: batches of similar history lengths (length_grouped_order), so short histories are not
    padded to the longest of a random batch."""
    order = length_grouped_order(examples, batch_size, rng) if by_length else rng.permutation(len(examples))
    n_batches = batches_per_epoch(len(order), batch_size, drop_remainder)
    starts = np.arange(n_batches) * batch_size
    if by_length:
        starts = rng.permutation(starts)
    for start in starts:
        batch = examples.take(order[start : start + batch_size])
        user, items, types = batch.user_idx, batch.hist_items, batch.hist_types
        if user_dropout > 0:
            user = np.where(rng.random(len(user)) < user_dropout, 0, user)
        if history_dropout > 0:
            keep = rng.random(items.shape) >= history_dropout
            items, types = items * keep, types * keep
        width = trimmed_width(items)
        yield Batch(user, items[:, :width], types[:, :width], batch.item_idx, batch.weight)


def length_grouped_order(examples: Examples, batch_size: int, rng: np.random.Generator, pool: int = 64):
    """A shuffled order in which each run of batch_size examples has similar history lengths: shuffle,
    then sort by length within chunks of `pool` batches; a last, smaller batch keeps random examples
    (so drop_remainder drops random ones, not the longest). The caller shuffles the batches' order."""
    order = rng.permutation(len(examples))
    lengths = (examples.hist_items[order] > 0).sum(axis=1)
    full = len(order) - len(order) % batch_size
    chunk = batch_size * pool
    for start in range(0, full, chunk):
        part = slice(start, min(start + chunk, full))
        order[part] = order[part][np.argsort(lengths[part], kind="stable")]
    return order


def batches_per_epoch(n_examples: int, batch_size: int, drop_remainder: bool) -> int:
    """Full batches only when drop_remainder and at least one is full; else every example."""
    if drop_remainder and n_examples >= batch_size:
        return n_examples // batch_size
    return -(-n_examples // batch_size)


def trimmed_width(hist_items: np.ndarray) -> int:
    """Columns up to the last non-padding one: trailing all-padding columns are masked out by the
    model anyway, and dropping them saves most of the pooling work on short histories."""
    used = np.flatnonzero((hist_items > 0).any(axis=0))
    width = int(used[-1]) + 1 if len(used) else 1
    # Rounded up to a multiple of 8 so a compiled (XLA) step sees only a handful of shapes.
    return min(hist_items.shape[1], -(-width // 8) * 8)
