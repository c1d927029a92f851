"""Most-popular and EASE on tiny data, and both run through the processed-data evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from tests.training.processed_data import write_processed
from training.baselines import EASE, MAX_EASE_ITEMS, ItemKNN, MostPopular, run_baselines, yardstick
from training.evaluate import EvalSet, evaluate_scores


def tiny_set(seen: list[list[int]], relevant: list[list[int]], n_items: int) -> EvalSet:
    n = len(seen)
    return EvalSet(
        user_idx=np.arange(1, n + 1),
        hist_items=np.zeros((n, 1), np.int64),
        hist_types=np.zeros((n, 1), np.int64),
        relevant=[np.array(r) for r in relevant],
        seen=[np.array(s) for s in seen],
        n_items=n_items,
        item_popularity=np.ones(n_items, np.int64),
    )


def test_most_popular_counts_distinct_users_and_ranks_by_them() -> None:
    users = np.array([1, 1, 1, 2, 2, 3])  # user 1 has item 3 twice: counted once
    items = np.array([3, 3, 2, 3, 2, 1])
    model = MostPopular().fit(users, items, n_items=5)
    assert model.popularity.tolist() == [0, 1, 2, 2, 0]
    scores = model.score_fn(tiny_set([[]], [[1]], 5))(np.array([0, 0]))
    assert scores.shape == (2, 5) and scores[1, 2] == 2


def test_ease_closed_form_matches_the_definition() -> None:
    rng = np.random.default_rng(0)
    x = (rng.random((30, 8)) < 0.4).astype(np.float64)
    x[:, 0] = 0  # padding column
    users, items = np.nonzero(x)
    model = EASE(lambda_=5.0).fit(users, items, n_items=8)
    p = np.linalg.inv(x.T @ x + 5.0 * np.eye(8))
    expected = np.eye(8) - p / np.diag(p)
    assert np.allclose(model.weights, expected, atol=1e-5)
    assert np.allclose(np.diag(model.weights), 0)


def test_ease_recommends_the_co_occurring_item() -> None:
    # items 1 and 2 always together, 3 and 4 always together; 5 is the most popular overall
    pairs = [(u, i) for u in range(20) for i in ((1, 2, 5) if u % 2 else (3, 4, 5))]
    users, items = np.array(pairs).T
    eval_set = tiny_set([[1], [3]], [[2], [4]], n_items=6)
    ease = EASE(lambda_=1.0).fit(users, items, n_items=6)
    metrics = evaluate_scores(ease.score_fn(eval_set), eval_set, k=1)
    assert metrics["precision@1"] == 1.0
    popular = MostPopular().fit(users, items, n_items=6)
    assert evaluate_scores(popular.score_fn(eval_set), eval_set, k=1)["precision@1"] == 0.0


def test_unfitted_and_bad_arguments_raise() -> None:
    eval_set = tiny_set([[]], [[1]], 3)
    with pytest.raises(RuntimeError, match="fit"):
        EASE().score_fn(eval_set)
    with pytest.raises(RuntimeError, match="fit"):
        MostPopular().score_fn(eval_set)
    with pytest.raises(ValueError, match="lambda"):
        EASE(lambda_=0)


def test_run_baselines_on_processed_data(tmp_path) -> None:
    # every user sticks to one category: item-item EASE should beat global popularity
    write_processed(tmp_path, n_users=80, n_items=40, n_categories=4, per_user=8, max_history=8)
    results = run_baselines(tmp_path, "test", k=5, ease_lambda=10.0)
    assert set(results) == {"most_popular", "ease"}
    assert results["ease"]["users"] == 80
    assert results["ease"]["ndcg@5"] > results["most_popular"]["ndcg@5"]
    assert 0 < results["most_popular"]["coverage"] < results["ease"]["coverage"]


def test_item_knn_keeps_the_top_cosine_neighbours_and_sums_them() -> None:
    rng = np.random.default_rng(1)
    x = (rng.random((40, 12)) < 0.3).astype(np.float64)
    x[:, 0] = 0
    users, items = np.nonzero(x)
    model = ItemKNN(neighbours=3).fit(users, np.concatenate([items[:5], items[5:]]), n_items=12)
    norms = np.sqrt(x.sum(axis=0))
    cosine = (x.T @ x) / np.maximum(np.outer(norms, norms), 1e-12)
    np.fill_diagonal(cosine, 0.0)
    for item in range(1, 12):
        got = dict(
            zip(
                model.cols[model.rows[item] : model.rows[item + 1]].tolist(),
                model.sims[model.rows[item] : model.rows[item + 1]].tolist(),
                strict=True,
            )
        )
        positive = np.flatnonzero(cosine[item] > 0)
        best = positive[np.lexsort((positive, -cosine[item][positive]))][:3]
        assert sorted(got) == sorted(best.tolist())
        assert np.allclose([got[j] for j in best], cosine[item][best], atol=1e-6)
    eval_set = tiny_set([[1, 2], [5]], [[3], [4]], n_items=12)
    scores = model.score_fn(eval_set)(np.array([0, 1]))
    dense = np.zeros((12, 12))
    for item in range(12):
        span = slice(model.rows[item], model.rows[item + 1])
        dense[item, model.cols[span]] = model.sims[span]
    assert np.allclose(scores, np.stack([dense[[1, 2]].sum(axis=0), dense[[5]].sum(axis=0)]), atol=1e-6)


def test_yardstick_is_ease_while_it_fits_then_item_knn() -> None:
    assert yardstick(MAX_EASE_ITEMS)[0] == "ease" and yardstick(MAX_EASE_ITEMS + 1)[0] == "item_knn"
