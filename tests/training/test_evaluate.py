"""Ranking metrics against hand-computed cases, and eval sets read from processed data."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.training.processed_data import write_processed
from training.evaluate import EvalSet, evaluate_scores, load_eval_set, top_k

N_ITEMS = 6  # item 0 (padding) + items 1..5


def make_set(relevant, seen, popularity=(0, 4, 3, 2, 1, 1), candidates=None) -> EvalSet:
    n = len(relevant)
    return EvalSet(
        user_idx=np.arange(1, n + 1),
        hist_items=np.zeros((n, 2), np.int64),
        hist_types=np.zeros((n, 2), np.int64),
        relevant=[np.array(r, np.int64) for r in relevant],
        seen=[np.array(s, np.int64) for s in seen],
        n_items=N_ITEMS,
        item_popularity=np.array(popularity, np.int64),
        candidates=candidates,
    )


def descending(rows: np.ndarray) -> np.ndarray:
    """Item 0 scores highest (must still never be recommended), then items 1 > 2 > ... > 5."""
    return np.tile(np.array([99.0, 5, 4, 3, 2, 1]), (len(rows), 1))


IDCG2 = 1.0 + 1.0 / math.log2(3)


def test_every_metric_on_a_hand_computed_case() -> None:
    m = evaluate_scores(descending, make_set([[1, 3]], [[]]), k=3)
    assert m["precision@3"] == pytest.approx(2 / 3)
    assert m["recall@3"] == pytest.approx(1.0)
    assert m["ndcg@3"] == pytest.approx((1.0 + 1.0 / math.log2(4)) / IDCG2)
    assert m["map"] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert m["hit_rate@3"] == 1.0
    assert m["coverage"] == pytest.approx(3 / 5)
    shares = np.array([4, 3, 2]) / 11  # popularity of items 1, 2, 3 over the total (0 counted as 1)
    assert m["novelty"] == pytest.approx(float(np.mean(-np.log2(shares))))
    assert m["users"] == 1


def test_seen_items_are_excluded_and_map_divides_by_all_relevant() -> None:
    m = evaluate_scores(descending, make_set([[1, 3]], [[1]]), k=3)  # ranked: 2, 3, 4
    assert m["precision@3"] == pytest.approx(1 / 3)
    assert m["recall@3"] == pytest.approx(1 / 2)
    assert m["ndcg@3"] == pytest.approx((1.0 / math.log2(3)) / IDCG2)
    assert m["map"] == pytest.approx((1 / 2) / 2)


def test_map_counts_relevant_items_beyond_k() -> None:
    m = evaluate_scores(descending, make_set([[1, 2, 3, 4, 5]], [[]]), k=2)
    assert m["map"] == pytest.approx((1 + 1) / 5)
    assert m["ndcg@2"] == pytest.approx(1.0)  # ideal over min(5, 2) positions
    assert m["recall@2"] == pytest.approx(2 / 5)


def test_rows_without_relevant_items_are_skipped_and_metrics_average_over_users() -> None:
    m = evaluate_scores(descending, make_set([[1], [], [5]], [[], [], []]), k=1)
    assert m["users"] == 2
    assert m["precision@1"] == pytest.approx(0.5)  # user 1 hit, user 3 missed
    assert m["ndcg@1"] == pytest.approx(0.5)
    assert m["ndcg@1_se"] == pytest.approx(0.5 / math.sqrt(2))  # per-user 1 and 0: sd 0.5 over 2 users


def test_no_relevant_anywhere_gives_zeros() -> None:
    m = evaluate_scores(descending, make_set([[]], [[]]), k=3)
    assert m["users"] == 0
    assert m["ndcg@3"] == 0.0 and m["coverage"] == 0.0


def test_all_items_seen_recommends_nothing() -> None:
    m = evaluate_scores(descending, make_set([[2]], [[1, 2, 3, 4, 5]]), k=3)
    assert m["users"] == 1
    assert m["precision@3"] == 0.0 and m["ndcg@3"] == 0.0 and m["map"] == 0.0
    assert m["coverage"] == 0.0 and m["novelty"] == 0.0


def test_k_larger_than_the_catalog() -> None:
    m = evaluate_scores(descending, make_set([[5]], [[]]), k=10)  # item 5 comes last, rank 5
    assert m["precision@10"] == pytest.approx(1 / 10)
    assert m["recall@10"] == 1.0
    assert m["ndcg@10"] == pytest.approx(1.0 / math.log2(6))
    assert m["map"] == pytest.approx(1 / 5)
    assert m["coverage"] == 1.0


def test_only_candidate_items_are_ranked() -> None:
    candidates = np.array([False, False, True, True, True, True])  # item 1 never seen in training
    m = evaluate_scores(descending, make_set([[2]], [[]], candidates=candidates), k=1)
    assert m["precision@1"] == 1.0
    assert m["coverage"] == pytest.approx(1 / 4)


def test_batches_give_the_same_result_as_one_pass() -> None:
    rng = np.random.default_rng(0)
    table = rng.normal(size=(40, N_ITEMS))
    eval_set = make_set(
        [rng.choice(np.arange(1, 6), 2, replace=False) for _ in range(40)],
        [[int(rng.integers(1, 6))] for _ in range(40)],
    )

    def score(rows: np.ndarray) -> np.ndarray:
        return table[rows]

    one = evaluate_scores(score, eval_set, k=2, batch_size=1000)
    assert evaluate_scores(score, eval_set, k=2, batch_size=3) == pytest.approx(one)


def test_score_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="shape"):
        evaluate_scores(lambda rows: np.zeros((len(rows), 3)), make_set([[1]], [[]]), k=1)


def test_top_k_orders_best_first() -> None:
    assert top_k(np.array([[0.1, 0.9, 0.5, -np.inf]]), 3).tolist() == [[1, 2, 0]]


def test_load_eval_set_valid_and_test(tmp_path) -> None:
    write_processed(tmp_path, n_users=12, n_items=24, n_categories=2, per_user=6, max_history=4)
    valid, test = load_eval_set(tmp_path, "valid"), load_eval_set(tmp_path, "test")
    assert len(valid) == len(test) == 12
    assert valid.hist_items.shape == (12, 4)
    # test queries carry one more (the valid) item than valid queries, newest first
    assert (test.hist_items[:, 1:] == valid.hist_items[:, :3]).all()
    for r in range(12):
        assert len(valid.seen[r]) == 4 and len(test.seen[r]) == 5
        assert set(valid.relevant[r]) <= set(test.seen[r])
        assert not set(test.relevant[r]) & set(test.seen[r])
    assert valid.item_popularity.sum() == 12 * 4
    assert not valid.candidates[0]


def test_load_eval_set_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="preprocess"):
        load_eval_set(tmp_path, "test")
    write_processed(tmp_path, n_users=4, n_items=8, n_categories=1, per_user=4)
    with pytest.raises(ValueError, match="split"):
        load_eval_set(tmp_path, "train")


def test_an_empty_split_is_reported_like_a_missing_one(tmp_path) -> None:
    write_processed(tmp_path, n_users=4, n_items=8, n_categories=1, per_user=4)
    valid = pq.read_table(tmp_path / "valid")
    for f in (tmp_path / "valid").iterdir():
        f.unlink()
    pq.write_table(valid.slice(0, 0), tmp_path / "valid" / "part-0.parquet")
    with pytest.raises(FileNotFoundError, match="no rows"):
        load_eval_set(tmp_path, "valid")
    assert len(load_eval_set(tmp_path, "test")) == 4  # test seen = train only now
