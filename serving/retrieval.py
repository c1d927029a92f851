"""Top-K retrieval behind a small interface: exact (BLAS matmul + argpartition) by default; an
approximate index for large catalogs can implement the same `Retriever` protocol."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Retriever(Protocol):
    def top_k(
        self, query: np.ndarray, k: int, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(item indices, scores) of the k best items for one query vector, best first."""
        ...


class ExactIndex:
    """Scores every item with one matrix-vector product. Row 0 (padding) is never returned."""

    def __init__(self, item_embeddings: np.ndarray, temperature: float = 1.0) -> None:
        self.items = np.ascontiguousarray(item_embeddings, np.float32)
        self.temperature = float(temperature)

    def scores(self, query: np.ndarray) -> np.ndarray:
        # The temperature scales the 64-dim query, not the 10k scores: one pass over the scores less.
        return self.items @ (np.asarray(query, np.float32) / np.float32(self.temperature))

    def top_k(
        self, query: np.ndarray, k: int, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """exclude: boolean mask [n_items] of items never to return (seen, purchased, filtered)."""
        scores = self.scores(query)
        scores[0] = -np.inf
        if exclude is not None:
            scores[exclude] = -np.inf
        return top_k_of(scores, k)


def top_k_of(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest finite scores, best first (fewer when fewer are finite)."""
    n = scores.shape[0]
    k = min(k, n)
    if k < n:
        # The k-th largest value by partition, then the (few) indices at or above it: about half the
        # time of argpartition on 10k items. Ties can add candidates; the sort and cut keep k.
        threshold = np.partition(scores, n - k)[n - k]
        part = np.flatnonzero(scores >= threshold)
    else:
        part = np.arange(n)
    order = part[np.argsort(-scores[part], kind="stable")][:k]
    order = order[np.isfinite(scores[order])]
    return order, scores[order]
