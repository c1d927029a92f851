"""One real Spark run of the preprocessing job (temporal split) on a tiny clickstream with bad rows,
a duplicate and a catalog; each test checks one property of its outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ingest.schema import EVENT_TYPE_CODE
from tests.training.prep.conftest import T0, clickstream, module_settings
from tests.training.prep.landing_data import event, write_catalog, write_events
from training.prep.preprocess import PreprocessConfig, preprocess

pytestmark = [pytest.mark.spark, pytest.mark.slow]

BAD_ROWS = [
    event("u1", "i001", T0, "click"),  # unknown event type
    event(None, "i001", T0),  # no user
    event("u1", "i001", T0, "rating", rating=7.0),  # rating out of range
    event("u1", "i001", T0, "view", rating=3.0),  # rating on a non-rating event
    event("u1", "i001", 10.0),  # timestamp before 1995
    event("u1", "", T0),  # empty item id
    event("u1", "i001", T0, price=-1.0),  # negative price
]
MAX_HISTORY = 6


@pytest.fixture(scope="module")
def run(tmp_path_factory, spark):
    settings = module_settings(tmp_path_factory, "pre")
    good = clickstream(n_users=25, n_items=40, n_events=600, seed=1)
    # u_agg views then buys i900 (not in the catalog): one interaction, weight 1 + 5, type purchase.
    agg = [event("u_agg", "i900", T0 + 5, "view"), event("u_agg", "i900", T0 + 50, "purchase")]
    dup = dict(good[0])
    write_events(settings.landing_dir, good + agg + BAD_ROWS)
    write_events(settings.landing_dir, [dup], offset=10_000)  # the same event landed twice
    catalog = [
        {"item_id": f"i{i:03d}", "category": f"c{i % 4}", "brand": f"b{i % 3}", "price": None}
        for i in range(40)
    ]
    write_catalog(settings, catalog)
    manifest = preprocess(settings, PreprocessConfig(max_history=MAX_HISTORY), spark=spark)
    return settings, manifest, good + agg


def read(settings, name: str) -> pd.DataFrame:
    return pq.read_table(settings.processed_dir / name).to_pandas()


def test_counts_invalid_duplicates_and_interactions(run) -> None:
    settings, manifest, good = run
    counts = manifest["counts"]
    assert counts["raw"] == len(good) + len(BAD_ROWS) + 1
    assert counts["invalid"] == len(BAD_ROWS)
    assert counts["duplicates"] == 1
    pairs = {(e["user_id"], e["item_id"]) for e in good}
    assert counts["interactions"] == len(pairs)
    assert counts["train"] + counts["valid"] + counts["test"] == len(pairs)
    assert json.loads((settings.processed_dir / "manifest.json").read_text()) == manifest


def test_events_aggregate_per_user_item(run) -> None:
    settings, _, _ = run
    users = read(settings, "vocab/users.parquet").set_index("user_id")["user_idx"]
    items = read(settings, "vocab/items.parquet").set_index("item_id")["item_idx"]
    rows = pd.concat([read(settings, s) for s in ("train", "valid", "test")])
    row = rows[(rows.user_idx == users["u_agg"]) & (rows.item_idx == items["i900"])]
    assert len(row) == 1
    assert row.weight.iloc[0] == pytest.approx(6.0)
    assert row.event_type.iloc[0] == EVENT_TYPE_CODE["purchase"]
    assert row.timestamp.iloc[0] == T0 + 50


def test_temporal_split_is_ordered_in_time_and_sized(run) -> None:
    settings, manifest, _ = run
    train, valid, test = (read(settings, s) for s in ("train", "valid", "test"))
    assert train.timestamp.max() < valid.timestamp.min() <= valid.timestamp.max() < test.timestamp.min()
    total = len(train) + len(valid) + len(test)
    assert len(test) / total == pytest.approx(0.2, abs=0.03)
    assert len(valid) / total == pytest.approx(0.1, abs=0.03)
    assert manifest["split"]["kind"] == "temporal"


def test_histories_never_leak(run) -> None:
    settings, _, _ = run
    train = read(settings, "train")
    train_time = {(u, i): t for u, i, t in zip(train.user_idx, train.item_idx, train.timestamp, strict=True)}
    checked = 0
    for split in ("train", "valid", "test"):
        for row in read(settings, split).itertuples():
            assert len(row.hist_items) == len(row.hist_types) <= MAX_HISTORY
            times = [train_time[(row.user_idx, h)] for h in row.hist_items]  # KeyError = not from train
            assert all(t < row.timestamp for t in times)
            assert times == sorted(times, reverse=True)
            checked += len(times)
    assert checked > 0


def test_user_histories_from_train_and_train_plus_valid(run) -> None:
    settings, _, _ = run
    train, valid = read(settings, "train"), read(settings, "valid")
    hist = read(settings, "histories").set_index("user_idx")
    for user, rows in train.groupby("user_idx"):
        newest = rows.sort_values(["timestamp", "item_idx"], ascending=[False, True]).item_idx.tolist()
        assert list(hist.loc[user, "hist_items"]) == newest[:MAX_HISTORY]
    for user, rows in valid.groupby("user_idx"):
        assert set(rows.item_idx) <= set(hist.loc[user, "full_hist_items"]) | set(train.item_idx)
        assert not set(rows.item_idx) & set(hist.loc[user, "hist_items"])


def test_items_table_and_vocab_sizes(run) -> None:
    settings, manifest, _ = run
    items = read(settings, "items.parquet")
    n_items = manifest["vocab"]["n_items"]
    assert items.item_idx.tolist() == list(range(1, n_items))
    unknown = items[items.item_id == "i900"].iloc[0]  # not in the catalog
    assert unknown.category_idx == 0 and unknown.brand_idx == 0 and unknown.category is None
    assert (items[items.item_id != "i900"].category_idx > 0).all()
    popularity = read(settings, "train").item_idx.value_counts()
    assert items.set_index("item_idx").popularity.to_dict() == {
        i: int(popularity.get(i, 0)) for i in items.item_idx
    }
    assert manifest["vocab"]["n_categories"] == 5 and manifest["vocab"]["n_brands"] == 4
    priced = items.item_id != "i900"  # the only item without any price
    assert items[priced].price_bucket.between(1, manifest["vocab"]["n_price_buckets"] - 1).all()
    assert unknown.price_bucket == 0
    users = read(settings, "vocab/users.parquet")
    assert sorted(users.user_idx) == list(range(1, manifest["vocab"]["n_users"]))


def test_manifest_carries_the_contract_keys(run) -> None:
    _, manifest, _ = run
    for key in ("snapshot_id", "created_at", "time_range", "config", "price_boundaries", "event_weights"):
        assert key in manifest
    assert manifest["max_history"] == MAX_HISTORY
    assert manifest["event_type_codes"] == EVENT_TYPE_CODE
    assert manifest["time_range"]["min"] >= T0
    assert np.all(np.diff(manifest["price_boundaries"]) > 0)
