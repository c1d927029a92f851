"""The recommender on its own: a synthetic artifact, a real SQLite store, answers checked against the
numpy model spec computed here by hand."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from ingest.schema import EVENT_TYPE_CODE, Event
from model import spec
from model.artifact import load_serving_artifact
from model.features import build_history
from serving.recommender import PERSONALIZED, POPULAR, Recommender
from serving.store import SqliteStore
from tests.fixtures.synthetic import synthetic_config, write_synthetic_artifact

NOW = time.time()


@pytest.fixture
def recommender(tmp_path: Path) -> Recommender:
    cfg = synthetic_config(n_users=10, n_items=30, dim=8, max_history=5)
    write_synthetic_artifact(tmp_path / "v00001-numpy", cfg, version="v00001-numpy", seed=3)
    store = SqliteStore(tmp_path / "store.sqlite")
    store.add_events(
        [
            Event("e1", "u1", "i3", "view", NOW - 30),
            Event("e2", "u1", "i7", "add_to_cart", NOW - 20),
            Event("e3", "u1", "i5", "purchase", NOW - 10),
            Event("e4", "u1", "not-in-catalogue", "view", NOW - 5),
        ]
    )
    return Recommender(load_serving_artifact(tmp_path / "v00001-numpy"), store)


def _expected_top(rec: Recommender, user: str, exclude: set[int], k: int) -> list[str]:
    """Top k by the spec's own forward pass over the user's known events (newest first)."""
    known = [(3, "view", NOW - 30), (7, "add_to_cart", NOW - 20), (5, "purchase", NOW - 10)]
    idx, codes, ts = zip(*[(i, EVENT_TYPE_CODE[t], s) for i, t, s in known], strict=True)
    items, types = build_history(np.array(idx), np.array(codes), np.array(ts), np.inf, rec.cfg.max_history)
    query = spec.query_embedding(
        rec.artifact.params,
        rec.cfg,
        items[None, :].astype(np.int64),
        types[None, :].astype(np.int64),
        np.array([rec.user_index[user]]),
    )
    scores = spec.scores(query, rec.artifact.item_embeddings, rec.cfg)[0]
    scores[[0, *exclude]] = -np.inf
    return [rec.artifact.item_ids[i] for i in np.argsort(-scores, kind="stable")[:k]]


def test_personalised_answer_is_the_model_spec(recommender: Recommender):
    answer = recommender.recommend("u1", 5)
    assert answer.strategy == PERSONALIZED
    assert [it["item_id"] for it in answer.items] == _expected_top(recommender, "u1", {3, 5, 7}, 5)


def test_seen_items_can_be_kept_but_purchases_never(recommender: Recommender):
    kept = [it["item_id"] for it in recommender.recommend("u1", 29, exclude_seen=False).items]
    assert {"i3", "i7"} <= set(kept) and "i5" not in kept
    assert kept == _expected_top(recommender, "u1", {5}, 29)[: len(kept)]


def test_category_filter_applies_to_both_strategies(recommender: Recommender):
    for user in ("u1", "somebody-new"):
        items = recommender.recommend(user, 30, category="c1").items
        assert items and {it["category"] for it in items} == {"c1"}


def test_unknown_user_gets_popular_items_without_seen_ones(recommender: Recommender):
    answer = recommender.recommend("somebody-new", 4)
    assert answer.strategy == POPULAR
    popularity = recommender.artifact.item_popularity.astype(float)
    popularity[0] = -np.inf
    # Nothing trends in the store within the window except u1's items, which the blend lifts.
    trending = {3, 5, 7}
    blended = 0.5 * popularity / popularity[1:].max()
    blended[list(trending)] += 0.5
    expected = [recommender.artifact.item_ids[i] for i in np.argsort(-blended, kind="stable")[:4]]
    assert [it["item_id"] for it in answer.items] == expected


def test_similar_items_exclude_the_item_and_follow_embeddings(recommender: Recommender):
    assert recommender.similar("no-such-item", 3) is None
    similar = [it["item_id"] for it in recommender.similar("i4", 3)]
    vectors = recommender.artifact.item_embeddings
    scores = vectors @ vectors[4] / recommender.cfg.temperature
    scores[[0, 4]] = -np.inf
    assert similar == [f"i{i}" for i in np.argsort(-scores, kind="stable")[:3]]
