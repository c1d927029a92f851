"""Offline ranking metrics, one numpy module for both backends and the baselines.

`evaluate_scores(score_fn, eval_set, k)` asks the model for scores over the whole catalog, a batch of
users at a time (memory stays bounded by batch_size x n_items), removes what each user already has
(and item 0, the padding row), takes the top k and accumulates the metrics of
../shared/docs/benchmarks.md (Microsoft Recommenders' definitions, binary relevance):

- precision@k = hits / k;  recall@k = hits / |relevant|;  hit_rate@k = 1 if any hit;
- ndcg@k: binary gains, discount 1/log2(rank + 1), ideal DCG over min(|relevant|, k) positions;
- map: sum over hit ranks r of (hits up to r) / r, divided by |relevant| (not by min(k, |relevant|));
- coverage: distinct recommended items / candidate items; novelty: mean -log2(popularity share) of
  the recommended items (popularity from train, at least 1 so never-seen items stay finite).

Rows without relevant items are skipped: `users` counts the rows that were scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from model.features import build_history, pad_histories
from training.batches import pad_list_column
from training.examples import Interactions
from training.prep.dataset import (
    FULL_HIST_ITEMS,
    FULL_HIST_TYPES,
    HIST_ITEMS,
    HIST_TYPES,
    HISTORIES,
    ITEM_IDX,
    TEST,
    TRAIN,
    USER_IDX,
    VALID,
    read_manifest,
    vocab_sizes,
)

ScoreFn = Callable[[np.ndarray], np.ndarray]
SPLITS = (VALID, TEST)


@dataclass(frozen=True)
class EvalSet:
    """The query input, ground truth and exclusions of every evaluated user (one row per user)."""

    user_idx: np.ndarray  # int [U]
    hist_items: np.ndarray  # int [U, L], newest first, 0 = padding
    hist_types: np.ndarray  # int [U, L]
    relevant: list[np.ndarray]  # item_idx held out for each row
    seen: list[np.ndarray]  # item_idx to exclude for each row (the user's known interactions)
    n_items: int  # catalog size counting row 0
    item_popularity: np.ndarray  # train interactions per item_idx [n_items]
    candidates: np.ndarray | None = None  # bool [n_items]: rankable items (None = all but 0)

    def __len__(self) -> int:
        return len(self.user_idx)


def _group(users: np.ndarray, items: np.ndarray) -> dict[int, np.ndarray]:
    """user -> sorted distinct items."""
    if not len(users):
        return {}
    order = np.lexsort((items, users))
    users, items = users[order], items[order]
    cuts = np.flatnonzero(np.diff(users)) + 1
    return {
        int(u[0]): np.unique(i) for u, i in zip(np.split(users, cuts), np.split(items, cuts), strict=True)
    }


def _pairs(processed_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    path = processed_dir / split
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the processed data has no {split!r} split")
    table = pq.read_table(path, columns=[USER_IDX, ITEM_IDX])
    return table[USER_IDX].to_numpy().astype(np.int64), table[ITEM_IDX].to_numpy().astype(np.int64)


def load_eval_set(
    processed_dir: str | Path, split: str, max_users: int | None = None, seed: int = 0
) -> EvalSet:
    """Users with interactions in `split` ("valid" or "test"). The query is the user's train history
    (valid) or train + valid history (test); the same interactions are excluded from the ranking, and
    only items seen in those known interactions are ranked (the published protocol).

    max_users: a seeded sample of at most that many users (all when fewer), so that evaluating a
    large shop costs a bounded amount; the same seed gives the same users to every model."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    processed_dir = Path(processed_dir)
    manifest = read_manifest(processed_dir)
    n_items = vocab_sizes(manifest)["n_items"]
    max_history = int(manifest.get("max_history", 50))
    target_u, target_i = _pairs(processed_dir, split)
    if not len(target_u):  # e.g. valid_fraction 0: callers treat it like a missing split
        raise FileNotFoundError(f"{processed_dir / split} has no rows: nothing to evaluate")
    known_u, known_i = _pairs(processed_dir, TRAIN)
    popularity = np.bincount(known_i, minlength=n_items)[:n_items].astype(np.int64)
    if split == TEST and (processed_dir / VALID).exists():
        valid_u, valid_i = _pairs(processed_dir, VALID)
        known_u, known_i = np.concatenate([known_u, valid_u]), np.concatenate([known_i, valid_i])
    relevant, seen = _group(target_u, target_i), _group(known_u, known_i)
    users = np.array(sorted(relevant), dtype=np.int64)
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    items_col, types_col = (HIST_ITEMS, HIST_TYPES) if split == VALID else (FULL_HIST_ITEMS, FULL_HIST_TYPES)
    hist = pq.read_table(processed_dir / HISTORIES, columns=[USER_IDX, items_col, types_col])
    position = {int(u): r for r, u in enumerate(hist[USER_IDX].to_numpy())}
    rows = np.array([position.get(int(u), -1) for u in users], dtype=np.int64)
    pad = np.zeros((1, max_history), np.int64)  # row -1: users without a history row
    items = np.concatenate([pad_list_column(hist[items_col], max_history), pad])
    types = np.concatenate([pad_list_column(hist[types_col], max_history), pad])
    candidates = np.zeros(n_items, bool)
    candidates[known_i] = True
    candidates[0] = False
    empty = np.zeros(0, np.int64)
    return EvalSet(
        user_idx=users,
        hist_items=items[rows],
        hist_types=types[rows],
        relevant=[relevant[int(u)] for u in users],
        seen=[seen.get(int(u), empty) for u in users],
        n_items=n_items,
        item_popularity=popularity,
        candidates=candidates,
    )


def profile_eval_set(known: Interactions, held: Interactions, n_items: int, max_history: int) -> EvalSet:
    """The "what else" holdout (training.examples.hold_out_profile): each user of `held` is asked for
    its held-out items, with the query built from the user's known items (newest first, as serving
    builds it), those items excluded, and only items of `known` ranked."""
    relevant, seen = _group(held.user_idx, held.item_idx), _group(known.user_idx, known.item_idx)
    users = np.array(sorted(relevant), dtype=np.int64)
    order = np.argsort(known.user_idx, kind="stable")
    sorted_users = known.user_idx[order]
    bounds = zip(
        np.searchsorted(sorted_users, users), np.searchsorted(sorted_users, users, "right"), strict=True
    )
    item, kind, when = known.item_idx, known.event_type, known.timestamp
    histories = [
        build_history(item[rows], kind[rows], when[rows], np.inf, max_history)
        for rows in (order[a:b] for a, b in bounds)
    ]
    popularity = np.bincount(known.item_idx, minlength=n_items)[:n_items].astype(np.int64)
    candidates = popularity > 0
    candidates[0] = False
    empty = np.zeros(0, np.int64)
    return EvalSet(
        user_idx=users,
        hist_items=pad_histories([h[0] for h in histories], max_history),
        hist_types=pad_histories([h[1] for h in histories], max_history),
        relevant=[relevant[int(u)] for u in users],
        seen=[seen.get(int(u), empty) for u in users],
        n_items=n_items,
        item_popularity=popularity,
        candidates=candidates,
    )


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k best scores per row, best first (-inf entries sort last)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _mask(scores: np.ndarray, eval_set: EvalSet, rows: np.ndarray) -> np.ndarray:
    scores = np.array(scores, dtype=np.float32, copy=True)  # float32: half the memory traffic
    if scores.shape != (len(rows), eval_set.n_items):
        raise ValueError(f"score_fn returned shape {scores.shape}, expected {(len(rows), eval_set.n_items)}")
    if eval_set.candidates is not None:
        scores[:, ~eval_set.candidates] = -np.inf
    scores[:, 0] = -np.inf
    for j, r in enumerate(rows):
        scores[j, eval_set.seen[r]] = -np.inf
    return scores


class _Totals:
    """Running sums of the per-user metrics and the set of recommended items."""

    def __init__(self, k: int, n_items: int) -> None:
        self.k, self.users = k, 0
        self.sums = dict.fromkeys(("precision", "recall", "ndcg", "map", "hit_rate", "novelty"), 0.0)
        self.ndcg_squares = 0.0  # for the standard error of the mean NDCG
        self.recommended = np.zeros(n_items, bool)
        self.discount = 1.0 / np.log2(np.arange(2, k + 2))

    def add(self, ranked: np.ndarray, relevant: np.ndarray, self_info: np.ndarray) -> None:
        """One user's ranked list (only real, rankable items) against its relevant items."""
        hits = np.isin(ranked, relevant).astype(np.float64)
        n_rel, n_hits = len(relevant), hits.sum()
        ideal = self.discount[: min(n_rel, self.k)].sum()
        ranks = np.arange(1, len(ranked) + 1)
        self.sums["precision"] += n_hits / self.k
        self.sums["recall"] += n_hits / n_rel
        ndcg = float(hits @ self.discount[: len(ranked)]) / ideal
        self.sums["ndcg"] += ndcg
        self.ndcg_squares += ndcg * ndcg
        self.sums["map"] += float((np.cumsum(hits) / ranks * hits).sum()) / n_rel
        self.sums["hit_rate"] += float(n_hits > 0)
        self.sums["novelty"] += float(self_info[ranked].mean()) if len(ranked) else 0.0
        self.recommended[ranked] = True
        self.users += 1

    def result(self, n_candidates: int) -> dict[str, float]:
        n, k = max(self.users, 1), self.k
        out = {
            f"precision@{k}": self.sums["precision"] / n,
            f"recall@{k}": self.sums["recall"] / n,
            f"ndcg@{k}": self.sums["ndcg"] / n,
            # Standard error of that mean over users: how far apart two models must be to differ.
            f"ndcg@{k}_se": math.sqrt(max(self.ndcg_squares / n - (self.sums["ndcg"] / n) ** 2, 0.0) / n),
            "map": self.sums["map"] / n,
            f"hit_rate@{k}": self.sums["hit_rate"] / n,
            "coverage": float(self.recommended.sum()) / max(n_candidates, 1),
            "novelty": self.sums["novelty"] / n,
            "users": float(self.users),
        }
        return out


def evaluate_scores(
    score_fn: ScoreFn, eval_set: EvalSet, k: int = 10, batch_size: int = 1024
) -> dict[str, float]:
    """Top-k metrics of `score_fn(rows) -> scores [len(rows), n_items]` over the rows of eval_set."""
    if k < 1 or batch_size < 1:
        raise ValueError("k and batch_size must be >= 1")
    popularity = np.maximum(np.asarray(eval_set.item_popularity, np.float64), 1.0)
    self_info = -np.log2(popularity / popularity[1:].sum())  # row 0 is padding, not an item
    totals = _Totals(k, eval_set.n_items)
    rows_with_truth = np.array([r for r in range(len(eval_set)) if len(eval_set.relevant[r])], np.int64)
    for start in range(0, len(rows_with_truth), batch_size):
        rows = rows_with_truth[start : start + batch_size]
        scores = _mask(score_fn(rows), eval_set, rows)
        best = top_k(scores, k)
        for j, r in enumerate(rows):
            ranked = best[j][np.isfinite(scores[j, best[j]])]  # fewer than k when few are rankable
            totals.add(ranked, eval_set.relevant[r], self_info)
    n_candidates = int(eval_set.candidates.sum()) if eval_set.candidates is not None else eval_set.n_items - 1
    return totals.result(n_candidates)
