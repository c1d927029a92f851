"""The product-path quality benchmark's splits, metrics and yardsticks on tiny hand-made data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.bench import quality_protocol as qp


def _events(rows):
    return pd.DataFrame(rows, columns=[qp.USER, qp.ITEM, qp.TS])


def test_user_metrics_by_hand():
    m = qp.user_metrics(["a", "x", "b"], {"a", "b", "c", "d"}, k=3)
    assert m["precision@3"] == pytest.approx(2 / 3)
    assert m["recall@3"] == pytest.approx(2 / 4)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # min(|rel|, k) = 3 positions
    assert m["ndcg@3"] == pytest.approx((1 + 1 / math.log2(4)) / ideal)
    assert m["map"] == pytest.approx((1 / 1 + 2 / 3) / 4)  # divided by |rel|, not min(k, |rel|)
    assert m["hit_rate@3"] == 1.0


def test_one_target_ndcg_is_inverse_log_rank():
    assert qp.user_metrics(["x", "t"], {"t"}, k=10)["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert qp.user_metrics(["x"], {"t"}, k=10)["hit_rate@10"] == 0.0


def test_score_lists_counts_missing_answers_as_zero_and_skips_empty_truth():
    got = qp.score_lists({"u1": ["a"]}, {"u1": {"a"}, "u2": {"b"}, "u3": set()}, k=1)
    assert got["users"] == 2
    assert got["ndcg@1"] == pytest.approx(0.5)


def test_last_out_split_holds_out_each_users_newest_event():
    df = _events([("u1", "a", 1), ("u1", "b", 3), ("u1", "c", 2), ("u2", "a", 1), ("u2", "b", 2)])
    train, test = qp.last_out_split(df, min_events=3)
    assert qp.relevant_sets(test) == {"u1": {"b"}}  # u2 has too few events: all in train
    assert len(train) == 4


def test_stratified_split_matches_the_reference_algorithm():
    rng = np.random.default_rng(0)
    df = _events([(f"u{u}", f"i{rng.integers(5)}", t) for t, u in enumerate(rng.integers(0, 30, 200))])
    df = df.drop_duplicates([qp.USER, qp.ITEM]).reset_index(drop=True)
    train, test = qp.stratified_split(df, 0.75, seed=42, by=qp.ITEM)
    assert len(train) + len(test) == len(df)
    # Reference: python_stratified_split's rule written out per group.
    np.random.seed(42)
    rand = np.random.rand(len(df))
    for item, group in df.assign(r=rand).groupby(qp.ITEM):
        ordered = group.sort_values("r")
        n = len(ordered)
        want = {i for rank, i in enumerate(ordered.index) if rank / n <= 0.75}
        assert set(train.index[train[qp.ITEM] == item]) == want


def test_yardsticks_on_tiny_data():
    # u1..u3 share a+b; c only with a for u4. u5 has a: most-popular gives b, both models give b.
    train = _events(
        [("u1", "a", 1), ("u1", "b", 2), ("u2", "a", 1), ("u2", "b", 2), ("u3", "b", 1), ("u3", "a", 2)]
        + [("u4", "a", 1), ("u4", "c", 2), ("u5", "a", 1), ("u6", "d", 1)]
    )
    data = qp.Interactions(train)
    assert qp.most_popular(data, ["u5"], k=2)["u5"] == ["b", "c"]
    assert qp.item_knn(data, ["u5"], k=1)["u5"] == ["b"]
    assert qp.ease(data, ["u5"], k=1, lambda_=1.0)["u5"] == ["b"]
    # An unknown user gets the popular items; seen items are never returned.
    assert qp.most_popular(data, ["new"], k=1)["new"] == ["a"]
    assert "a" not in qp.item_knn(data, ["u4"], k=3)["u4"]
