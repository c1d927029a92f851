"""Raw fields -> model inputs, defined once: the Spark job calls these in bulk (pandas UDFs) and
serving calls them per request, so offline and online features cannot drift apart.

Conventions: index 0 means unknown / padding everywhere; histories are newest first; the "strongest"
event type of an item is its highest type code (ingest.schema.EVENT_TYPE_CODE: view < add_to_cart <
purchase < rating).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ingest.schema import EVENT_TYPE_CODE, RATING_EVENT

DEFAULT_EVENT_WEIGHTS: dict[str, float] = {"view": 1.0, "add_to_cart": 3.0, "purchase": 5.0, "rating": 1.0}


def lookup_index(ids: Sequence[Any] | np.ndarray, vocab: Mapping[str, int]) -> np.ndarray:
    """Ids -> int64 indices from `vocab` (id -> idx >= 1); unknown or missing ids -> 0."""
    return np.fromiter((vocab.get(str(i), 0) if i is not None else 0 for i in ids), np.int64, len(ids))


def price_buckets(prices: Sequence[float | None] | np.ndarray, boundaries: Sequence[float]) -> np.ndarray:
    """Vectorised `price_bucket`: int32 bucket per price (None/NaN -> 0)."""
    values = np.asarray([np.nan if p is None else p for p in prices], dtype=np.float64)
    edges = np.asarray(boundaries, dtype=np.float64)
    buckets = np.searchsorted(edges, values, side="right").astype(np.int32) + 1
    return np.where(np.isfinite(values), buckets, 0).astype(np.int32)


def price_bucket(price: float | None, boundaries: Sequence[float]) -> int:
    """Price -> bucket 1..len(boundaries)+1 (bucket i holds prices in [b[i-2], b[i-1])); None -> 0."""
    return int(price_buckets([price], boundaries)[0])


def event_weights_array(
    event_types: Sequence[str] | np.ndarray,
    ratings: Sequence[float | None] | np.ndarray,
    weights: Mapping[str, float],
) -> np.ndarray:
    """Vectorised `event_weight`: float64 per event; unknown types and rating events without a
    rating weigh 0 (the Spark job drops those rows before, serving validates events first)."""
    types = np.asarray(event_types, dtype=object)
    rating = np.asarray([np.nan if r is None else r for r in ratings], dtype=np.float64)
    out = np.zeros(len(types), dtype=np.float64)
    for name, weight in weights.items():
        if name in EVENT_TYPE_CODE:
            out[types == name] = float(weight)
    is_rating = types == RATING_EVENT
    # Ratings are mapped by value: weights["rating"] scales the rating itself.
    out[is_rating] = np.nan_to_num(rating[is_rating] * float(weights.get(RATING_EVENT, 0.0)))
    return out


def event_weight(event_type: str, rating: float | None, weights: Mapping[str, float]) -> float:
    """The implicit-feedback weight of one event: weights[type], or rating * weights["rating"]."""
    if event_type not in EVENT_TYPE_CODE:
        raise ValueError(f"unknown event type {event_type!r}")
    if event_type == RATING_EVENT and rating is None:
        raise ValueError("a rating event needs a rating")
    return float(event_weights_array([event_type], [rating], weights)[0])


def _aggregate_items(items: np.ndarray, types: np.ndarray, times: np.ndarray):
    """One entry per item (latest time, strongest type), sorted newest first (ties: lower idx first)."""
    order = np.lexsort((-types, -times, items))  # per item: latest first, then strongest type
    items, types, times = items[order], types[order], times[order]
    first = np.ones(len(items), dtype=bool)
    first[1:] = items[1:] != items[:-1]
    best_type = np.maximum.reduceat(types, np.flatnonzero(first)) if len(items) else types
    items, times = items[first], times[first]
    newest = np.lexsort((items, -times))
    return items[newest], best_type[newest], times[newest]


def build_history(
    item_idx: Sequence[int] | np.ndarray,
    type_codes: Sequence[int] | np.ndarray,
    timestamps: Sequence[float] | np.ndarray,
    before: float | Sequence[float] | np.ndarray,
    max_history: int,
) -> tuple[np.ndarray, np.ndarray] | tuple[list[np.ndarray], list[np.ndarray]]:
    """A user's history as of time `before`: one entry per item (its latest time, strongest type),
    only items whose latest time is STRICTLY before `before`, newest first, at most max_history.

    Returns (items int32, types int8). `before` may also be an array (the Spark job passes every
    target time of a user at once): then two lists of arrays, one pair per entry of `before`.
    """
    items, types, times = _aggregate_items(
        np.asarray(item_idx, dtype=np.int64),
        np.asarray(type_codes, dtype=np.int64),
        np.asarray(timestamps, dtype=np.float64),
    )
    items, types = items.astype(np.int32), types.astype(np.int8)
    scalar = np.ndim(before) == 0
    cutoffs = np.atleast_1d(np.asarray(before, dtype=np.float64))
    # times are descending; the items strictly before a cutoff are a suffix starting here:
    starts = np.searchsorted(-times, -cutoffs, side="right")
    out_items = [items[s : s + max_history] for s in starts]
    out_types = [types[s : s + max_history] for s in starts]
    if scalar:
        return out_items[0], out_types[0]
    return out_items, out_types


def pad_histories(histories: Sequence[Sequence[int] | np.ndarray], max_history: int) -> np.ndarray:
    """Variable-length histories -> int64 [B, max_history], right-padded with 0, truncated."""
    out = np.zeros((len(histories), max_history), dtype=np.int64)
    for row, hist in enumerate(histories):
        values = np.asarray(hist, dtype=np.int64)[:max_history]
        out[row, : len(values)] = values
    return out
