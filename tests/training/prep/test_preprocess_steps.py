"""Single steps of the preprocessing job on tiny Spark DataFrames: dedup order, k-core, vocab append."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.training.prep.conftest import T0
from tests.training.prep.landing_data import event, write_events
from training.prep import events as ev
from training.prep import vocab

pytestmark = pytest.mark.spark


def test_dedup_keeps_the_first_landed_copy_and_counts_copies(spark, tmp_path) -> None:
    now = datetime.now(UTC)
    # e1: same ingest time, the lower offset wins; e3: the earlier ingest time wins over the offset.
    write_events(tmp_path, [event("u1", "i_later", T0, event_id="e1")], offset=50, ingested_at=now)
    write_events(tmp_path, [event("u1", "i_first", T0, event_id="e1")], offset=7, ingested_at=now)
    write_events(tmp_path, [event("u3", "i_later", T0, event_id="e3")], offset=1, ingested_at=now)
    write_events(
        tmp_path, [event("u3", "i_first", T0, event_id="e3")], offset=9, ingested_at=now - timedelta(1)
    )
    write_events(tmp_path, [event("u2", "i2", T0 + 86_400 * 3, event_id=" e2 ")])
    rows = {r.event_id: r for r in ev.clean_events(ev.read_landed(spark, tmp_path)).collect()}
    assert set(rows) == {"e1", "e2", "e3"}  # ids trimmed
    assert rows["e1"].item_id == "i_first" and rows["e1"].copies == 2
    assert rows["e3"].item_id == "i_first" and rows["e3"].copies == 2
    assert rows["e2"].copies == 1


def test_read_landed_normalises_time_to_utc_seconds(spark, tmp_path) -> None:
    write_events(tmp_path, [event("u1", "i1", T0 + 0.25, event_id="e1")])
    (row,) = ev.read_landed(spark, tmp_path).select("ts").collect()
    assert row.ts == pytest.approx(T0 + 0.25)
    assert datetime.fromtimestamp(row.ts, UTC).isoformat().startswith("2024-01-01T00:00:00")


def test_kcore_filters_until_stable(spark) -> None:
    # u1, u2 interact with i1, i2 (a 2-core); u3 only with i1, and i3 only with u1.
    pairs = [("u1", "i1"), ("u1", "i2"), ("u2", "i1"), ("u2", "i2"), ("u3", "i1"), ("u1", "i3")]
    df = spark.createDataFrame(pairs, "user_id string, item_id string")
    kept = {(r.user_id, r.item_id) for r in ev.kcore(df, 2).collect()}
    assert kept == {("u1", "i1"), ("u1", "i2"), ("u2", "i1"), ("u2", "i2")}
    assert ev.kcore(df, 0) is df


def test_extend_vocab_appends_after_the_maximum(spark) -> None:
    existing = spark.createDataFrame([("b", 1), ("z", 5)], "user_id string, user_idx int")
    values = spark.createDataFrame([("a",), ("z",), ("c",), (None,), ("a",)], "v string")
    got = dict(vocab.extend_vocab(existing, values, "users").collect())
    assert got == {"b": 1, "z": 5, "a": 6, "c": 7}


def test_extend_vocab_numbers_across_partitions_in_sorted_order(spark) -> None:
    existing = spark.createDataFrame([("k000", 3)], "item_id string, item_idx int")
    keys = [f"k{n:03d}" for n in range(200)]
    values = spark.createDataFrame([(k,) for k in reversed(keys)], "v string").repartition(7)
    got = dict(vocab.extend_vocab(existing, values, "items", partitions=5).collect())
    assert got["k000"] == 3
    assert [got[k] for k in keys[1:]] == list(range(4, 4 + 199))
