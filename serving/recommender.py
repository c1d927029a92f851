"""Recommendations for one user from the loaded artifact and the online store.

Personalised when the user has at least `min_history` known items in the store (history built by the
shared `model.features` transforms, query tower in numpy, exact top-K); otherwise popular items
(artifact popularity blended with what is trending in the store). Seen items are excluded unless asked
otherwise; purchased items always; an optional category filter applies to both strategies.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.schema import EVENT_TYPE_CODE, PURCHASE
from model import spec
from model.artifact import ServingArtifact
from model.features import build_history, pad_histories  # the Spark job's own transforms
from serving.retrieval import ExactIndex, Retriever, top_k_of
from serving.store import OnlineStore

PERSONALIZED, POPULAR = "personalized", "popular"
ALL_EVENTS = 1_000_000  # a user's whole stored history (the store keeps at most keep_per_user of them)


@dataclass(frozen=True)
class Recommendation:
    items: list[dict[str, Any]]
    strategy: str


class Recommender:
    """Answers for one artifact; built once per loaded version, shared by the worker's threads."""

    def __init__(
        self,
        artifact: ServingArtifact,
        store: OnlineStore,
        *,
        min_history: int = 1,
        trending_window_s: float = 3600.0,
        trending_ttl_s: float = 1.0,
    ) -> None:
        self.artifact = artifact
        self.store = store
        self.cfg = artifact.model_config
        self.min_history = min_history
        self.trending_window_s = trending_window_s
        self.trending_ttl_s = trending_ttl_s
        self.index: Retriever = ExactIndex(artifact.item_embeddings, self.cfg.temperature)
        self.item_index = {item: i for i, item in enumerate(artifact.item_ids) if i > 0}
        self.user_index = {user: i for i, user in enumerate(artifact.user_ids) if i > 0}
        self.categories = np.array(
            [c if c is not None else "" for c in artifact.item_categories], dtype=object
        )
        self.type_codes = dict(artifact.features.get("event_type_codes") or EVENT_TYPE_CODE)
        self.max_history = int(artifact.features.get("max_history") or self.cfg.max_history)
        pop = artifact.item_popularity.astype(np.float64)
        self.base_popularity = pop / max(float(pop.max(initial=0.0)), 1.0)
        self._trending: tuple[float, np.ndarray] | None = None
        self._lock = threading.Lock()

    def history(self, user_id: str) -> tuple[np.ndarray, np.ndarray, set[int], set[int]]:
        """(hist items [1, L], hist types [1, L], seen item idxs, purchased item idxs) from the store."""
        window = max(4 * self.max_history, 200)
        rows = self.store.user_events(user_id, limit=window)
        if len(rows) >= window:
            # The window is full, so older events may exist: read them all, or "exclude seen" would
            # let items older than the window come back (ML-100K: 73 of 943 users got one).
            rows = self.store.user_events(user_id, limit=ALL_EVENTS)
        known = [
            (self.item_index[i], self.type_codes.get(t, 0), ts) for i, t, ts in rows if i in self.item_index
        ]
        seen = {r[0] for r in known}
        bought = {self.item_index[i] for i, t, _ in rows if t == PURCHASE and i in self.item_index}
        if not known:
            empty = np.zeros((1, 1), np.int64)
            return empty, empty.copy(), seen, bought
        idx, codes, ts = (np.asarray(col) for col in zip(*known, strict=True))
        items, types = build_history(idx, codes, ts, np.inf, self.max_history)
        # Padded to the history's own length, not max_history: the query tower masks padding, so the
        # query is the same and pooling touches fewer slots.
        length = max(len(items), 1)
        return pad_histories([items], length), pad_histories([types], length), seen, bought

    def _mask(self, seen: set[int], bought: set[int], exclude_seen: bool, category: str | None) -> np.ndarray:
        mask = np.zeros(self.cfg.n_items, dtype=bool)
        mask[0] = True
        mask[list(bought)] = True
        if exclude_seen:
            mask[list(seen)] = True
        if category is not None:
            mask |= self.categories != category
        return mask

    def popularity(self) -> np.ndarray:
        """Artifact popularity blended 50/50 with store events of the last window (cached briefly)."""
        now = time.monotonic()
        cached = self._trending
        if cached is not None and now - cached[0] < self.trending_ttl_s:
            return cached[1]
        recent = np.zeros(self.cfg.n_items)
        for item, count in self.store.recent_item_counts(time.time() - self.trending_window_s).items():
            if item in self.item_index:
                recent[self.item_index[item]] = count
        blended = 0.5 * self.base_popularity + 0.5 * recent / max(float(recent.max(initial=0.0)), 1.0)
        with self._lock:
            self._trending = (now, blended)
        return blended

    def recommend(
        self, user_id: str, k: int, exclude_seen: bool = True, category: str | None = None
    ) -> Recommendation:
        hist, types, seen, bought = self.history(user_id)
        mask = self._mask(seen, bought, exclude_seen, category)
        if int((hist[0] > 0).sum()) >= self.min_history:
            user = np.array([self.user_index.get(user_id, 0)])
            query = spec.query_embedding(self.artifact.params, self.cfg, hist, types, user)[0]
            idx, scores = self.index.top_k(query, k, mask)
            return Recommendation(self._items(idx, scores), PERSONALIZED)
        scores = self.popularity().copy()
        scores[mask] = -np.inf
        idx, scores = top_k_of(scores, k)
        return Recommendation(self._items(idx, scores), POPULAR)

    def similar(self, item_id: str, k: int) -> list[dict[str, Any]] | None:
        """Items closest to item_id by item-tower embedding (itself excluded); None if unknown."""
        i = self.item_index.get(item_id)
        if i is None:
            return None
        exclude = np.zeros(self.cfg.n_items, dtype=bool)
        exclude[i] = True
        idx, scores = self.index.top_k(self.artifact.item_embeddings[i], k, exclude)
        return self._items(idx, scores)

    def _items(self, idx: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
        ids, cats = self.artifact.item_ids, self.artifact.item_categories
        return [
            {"item_id": ids[i], "score": round(float(s), 6), "category": cats[i]}
            for i, s in zip(idx.tolist(), scores.tolist(), strict=True)
        ]
