"""The shared offline/online transforms (model.features): pure numpy, no Spark."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.schema import EVENT_TYPE_CODE
from model.features import (
    DEFAULT_EVENT_WEIGHTS,
    build_history,
    event_weight,
    event_weights_array,
    lookup_index,
    pad_histories,
    price_bucket,
    price_buckets,
)

VIEW, CART, BUY = EVENT_TYPE_CODE["view"], EVENT_TYPE_CODE["add_to_cart"], EVENT_TYPE_CODE["purchase"]


def test_lookup_index_maps_unknown_and_missing_to_zero() -> None:
    vocab = {"a": 1, "b": 2, "7": 3}
    out = lookup_index(["b", "zzz", None, "a", 7], vocab)
    assert out.tolist() == [2, 0, 0, 1, 3]
    assert out.dtype == np.int64
    assert lookup_index([], vocab).shape == (0,)


@pytest.mark.parametrize(
    ("price", "bucket"),
    [(None, 0), (float("nan"), 0), (0.0, 1), (9.99, 1), (10.0, 2), (19.0, 2), (20.0, 3), (1e9, 3)],
)
def test_price_bucket(price: float | None, bucket: int) -> None:
    assert price_bucket(price, [10.0, 20.0]) == bucket


def test_price_bucket_without_boundaries_is_one_bucket() -> None:
    assert price_bucket(3.0, []) == 1
    assert price_buckets([None, 1.0, 2.0], []).tolist() == [0, 1, 1]


def test_event_weight_per_type_and_rating_by_value() -> None:
    w = DEFAULT_EVENT_WEIGHTS
    assert event_weight("view", None, w) == 1.0
    assert event_weight("add_to_cart", None, w) == 3.0
    assert event_weight("purchase", None, w) == 5.0
    assert event_weight("rating", 4.5, w) == 4.5
    assert event_weight("rating", 4.0, {**w, "rating": 0.5}) == 2.0


def test_event_weight_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        event_weight("click", None, DEFAULT_EVENT_WEIGHTS)
    with pytest.raises(ValueError, match="needs a rating"):
        event_weight("rating", None, DEFAULT_EVENT_WEIGHTS)


def test_event_weights_array_matches_scalar() -> None:
    kinds = ["view", "purchase", "rating", "add_to_cart", "rating"]
    ratings = [None, None, 3.0, None, 0.5]
    bulk = event_weights_array(
        np.array(kinds, dtype=object), np.array(ratings, dtype=object), DEFAULT_EVENT_WEIGHTS
    )
    assert bulk.tolist() == [
        event_weight(k, r, DEFAULT_EVENT_WEIGHTS) for k, r in zip(kinds, ratings, strict=True)
    ]


def test_build_history_aggregates_filters_orders_and_truncates() -> None:
    items = [5, 7, 5, 9, 3, 7]
    types = [BUY, VIEW, VIEW, CART, VIEW, VIEW]
    times = [100, 110, 130, 120, 200, 105]
    got_items, got_types = build_history(items, types, times, before=150, max_history=10)
    # item 5: latest 130, strongest BUY; item 7: latest 110; item 9: 120; item 3 (200) is not before 150
    assert got_items.tolist() == [5, 9, 7]
    assert got_types.tolist() == [BUY, CART, VIEW]
    assert got_items.dtype == np.int32 and got_types.dtype == np.int8
    assert build_history(items, types, times, before=150, max_history=2)[0].tolist() == [5, 9]


def test_build_history_is_strictly_before() -> None:
    items, types = build_history([1, 2], [VIEW, VIEW], [100, 200], before=200, max_history=5)
    assert items.tolist() == [1]
    assert build_history([1], [VIEW], [100], before=100, max_history=5)[0].tolist() == []
    assert build_history([], [], [], before=1e12, max_history=5)[0].tolist() == []


def test_build_history_with_many_cutoffs_equals_one_call_per_cutoff() -> None:
    rng = np.random.default_rng(0)
    items = rng.integers(1, 30, 200)
    types = rng.integers(1, 5, 200)
    times = rng.integers(0, 1000, 200).astype(float)
    cutoffs = np.array([0.0, 1.0, 250.0, 999.0, 1000.0, 5000.0])
    bulk_items, bulk_types = build_history(items, types, times, cutoffs, max_history=8)
    for cut, got_i, got_t in zip(cutoffs, bulk_items, bulk_types, strict=True):
        one_i, one_t = build_history(items, types, times, float(cut), max_history=8)
        assert got_i.tolist() == one_i.tolist() and got_t.tolist() == one_t.tolist()
        latest = {int(i): max(times[items == i]) for i in one_i}
        assert all(t < cut for t in latest.values())
        assert list(latest.values()) == sorted(latest.values(), reverse=True)


def test_pad_histories_right_pads_and_truncates() -> None:
    out = pad_histories([[3, 2, 1], [], np.array([9, 8, 7, 6, 5])], max_history=4)
    assert out.tolist() == [[3, 2, 1, 0], [0, 0, 0, 0], [9, 8, 7, 6]]
    assert out.dtype == np.int64
