"""Exact top-K agrees with a full sort and honours the exclusion mask and the padding row."""

from __future__ import annotations

import numpy as np

from serving.retrieval import ExactIndex, top_k_of


def test_exact_top_k_matches_full_sort() -> None:
    rng = np.random.default_rng(0)
    items = rng.normal(size=(500, 8)).astype(np.float32)
    query = rng.normal(size=8).astype(np.float32)
    idx, scores = ExactIndex(items, temperature=0.5).top_k(query, 10)
    full = (items @ query) / 0.5
    full[0] = -np.inf
    expected = np.argsort(-full)[:10]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(scores, full[expected], rtol=1e-5)


def test_mask_and_padding() -> None:
    items = np.eye(4, dtype=np.float32)
    exclude = np.array([False, False, True, False])
    idx, _ = ExactIndex(items).top_k(np.array([1, 1, 1, 0], np.float32), 10, exclude)
    assert idx.tolist() == [1, 3]  # row 0 never, row 2 excluded; k larger than what is left


def test_top_k_of_drops_non_finite() -> None:
    idx, scores = top_k_of(np.array([-np.inf, 2.0, 5.0, -np.inf]), 3)
    assert idx.tolist() == [2, 1] and scores.tolist() == [5.0, 2.0]


def test_ties_keep_exactly_k() -> None:
    idx, scores = top_k_of(np.array([1.0, 3.0, 3.0, 3.0, 2.0]), 2)
    assert idx.tolist() == [1, 2] and scores.tolist() == [3.0, 3.0]
