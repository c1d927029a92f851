"""Reference recommenders scored by the same evaluation as the trained models.

- MostPopular: every user gets the items with the most training interactions.
- EASE (Steck, 2019): a closed-form item-item linear model, B = I - P / diag(P) with
  P = (X^T X + lambda I)^-1 over the binary user x item matrix X; a user's scores are x_u B.
  A strong baseline on small catalogues (n_items x n_items dense matrices: keep it for < ~20k items).
- ItemKNN: each item's `neighbours` most similar items by cosine over the users who interacted with
  both; a user's scores are the summed similarities of their items' neighbours. Sparse (numpy only),
  so it serves as the classic yardstick where EASE's dense matrix does not fit.

`yardstick(n_items)` picks the classic item-item model for a catalogue: EASE while it fits, else
ItemKNN. Every training run scores both baselines on its own holdout (training.train).

Each has `fit(user_idx, item_idx, n_items)` and `score_fn(eval_set)` for `evaluate_scores`. The input
of a user at scoring time is what the eval set excludes for that user (`eval_set.seen`: train, or train
+ valid for the test split), the same interactions the two-tower query is built from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.evaluate import EvalSet, ScoreFn, _pairs, evaluate_scores, load_eval_set

MAX_EASE_ITEMS = 20_000


class MostPopular:
    """Scores every item by its training interaction count (distinct users per item)."""

    def __init__(self) -> None:
        self.popularity: np.ndarray | None = None

    def fit(self, user_idx: np.ndarray, item_idx: np.ndarray, n_items: int) -> MostPopular:
        pairs = np.unique(np.stack([np.asarray(user_idx), np.asarray(item_idx)], axis=1), axis=0)
        self.popularity = np.bincount(pairs[:, 1], minlength=n_items)[:n_items].astype(np.float64)
        return self

    def score_fn(self, eval_set: EvalSet) -> ScoreFn:
        if self.popularity is None:
            raise RuntimeError("MostPopular: call fit() first")
        popularity = self.popularity

        def score(rows: np.ndarray) -> np.ndarray:
            return np.broadcast_to(popularity, (len(rows), len(popularity)))

        return score


def interaction_matrix(user_rows: list[np.ndarray], n_items: int) -> np.ndarray:
    """Binary float32 matrix [len(user_rows), n_items] with a 1 at each listed item."""
    out = np.zeros((len(user_rows), n_items), np.float32)
    for r, items in enumerate(user_rows):
        out[r, np.asarray(items, np.int64)] = 1.0
    return out


class EASE:
    """Embarrassingly Shallow Autoencoder: the item-item weights B, fitted in closed form."""

    def __init__(self, lambda_: float = 400.0) -> None:
        if lambda_ <= 0:
            raise ValueError("EASE: lambda_ must be > 0")
        self.lambda_ = float(lambda_)
        self.weights: np.ndarray | None = None

    def fit(self, user_idx: np.ndarray, item_idx: np.ndarray, n_items: int) -> EASE:
        if n_items > MAX_EASE_ITEMS:
            raise ValueError(f"EASE: {n_items} items is too many for a dense {n_items}^2 matrix")
        users, items = np.asarray(user_idx, np.int64), np.asarray(item_idx, np.int64)
        _, user_rows = np.unique(users, return_inverse=True)
        x = np.zeros((int(user_rows.max(initial=-1)) + 1, n_items), np.float64)
        x[user_rows, items] = 1.0
        gram = x.T @ x
        gram[np.diag_indices(n_items)] += self.lambda_
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)[None, :]
        b[np.diag_indices(n_items)] = 0.0
        self.weights = b.astype(np.float32)
        return self

    def score_fn(self, eval_set: EvalSet) -> ScoreFn:
        if self.weights is None:
            raise RuntimeError("EASE: call fit() first")
        weights = self.weights

        def score(rows: np.ndarray) -> np.ndarray:
            return interaction_matrix([eval_set.seen[r] for r in rows], weights.shape[0]) @ weights

        return score


class ItemKNN:
    """Item-item cosine neighbours (top `neighbours` per item), scored by summed similarity."""

    def __init__(self, neighbours: int = 100) -> None:
        self.neighbours = int(neighbours)
        self.rows: np.ndarray | None = None  # [n_items + 1] offsets into cols/sims (CSR)
        self.cols = self.sims = np.zeros(0)

    def fit(self, user_idx: np.ndarray, item_idx: np.ndarray, n_items: int) -> ItemKNN:
        pairs = np.unique(
            np.stack([np.asarray(user_idx), np.asarray(item_idx)], axis=1).astype(np.int64), axis=0
        )
        users, items = pairs[:, 0], pairs[:, 1]
        counts = np.bincount(items, minlength=n_items).astype(np.float64)
        a, b, together = _co_occurrences(users, items, n_items)
        cosine = together / np.sqrt(counts[a] * counts[b])
        # Keep each item's best `neighbours`: sort by (item, -similarity, neighbour), cut per item.
        order = np.lexsort((b, -cosine, a))
        a, b, cosine = a[order], b[order], cosine[order]
        starts = np.searchsorted(a, np.arange(n_items))
        keep = (np.arange(len(a)) - starts[a]) < self.neighbours
        a, self.cols, self.sims = a[keep], b[keep], cosine[keep].astype(np.float32)
        self.rows = np.searchsorted(a, np.arange(n_items + 1))
        return self

    def score_fn(self, eval_set: EvalSet) -> ScoreFn:
        if self.rows is None:
            raise RuntimeError("ItemKNN: call fit() first")
        rows_of, cols, sims = self.rows, self.cols, self.sims

        def score(rows: np.ndarray) -> np.ndarray:
            out = np.zeros((len(rows), eval_set.n_items), np.float32)
            for j, r in enumerate(rows):
                seen = np.asarray(eval_set.seen[r], np.int64)
                spans = [np.arange(rows_of[i], rows_of[i + 1]) for i in seen]
                at = np.concatenate(spans) if spans else np.zeros(0, np.int64)
                np.add.at(out[j], cols[at], sims[at])
            return out

        return score


def _co_occurrences(users: np.ndarray, items: np.ndarray, n_items: int) -> tuple[np.ndarray, ...]:
    """(item a, item b, users with both) for every pair a != b that shares a user. Users are
    grouped by how many items they have, so each group's pairs come from one broadcast."""
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    sizes = np.diff(np.r_[starts, len(users)])
    codes = []
    for size in np.unique(sizes[sizes > 1]):
        group = starts[sizes == size][:, None] + np.arange(size)[None, :]
        lists = items[group]  # [users of this size, size]
        a, b = lists[:, :, None], lists[:, None, :]
        codes.append((a * n_items + b)[a != b])
    if not codes:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    pair, together = np.unique(np.concatenate(codes), return_counts=True)
    return pair // n_items, pair % n_items, together.astype(np.float64)


def yardstick(n_items: int, ease_lambda: float = 400.0) -> tuple[str, EASE | ItemKNN]:
    """The classic item-item model a run compares against: EASE while it fits, else ItemKNN."""
    return ("ease", EASE(ease_lambda)) if n_items <= MAX_EASE_ITEMS else ("item_knn", ItemKNN())


def known_pairs(processed_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The interactions a model may learn from before evaluating `split`: train (+ valid for test)."""
    users, items = _pairs(processed_dir, "train")
    if split == "test" and (processed_dir / "valid").exists():
        valid_u, valid_i = _pairs(processed_dir, "valid")
        users, items = np.concatenate([users, valid_u]), np.concatenate([items, valid_i])
    return users, items


def run_baselines(
    processed_dir: str | Path,
    split: str = "test",
    k: int = 10,
    ease_lambda: float = 400.0,
    eval_set: EvalSet | None = None,
) -> dict[str, dict[str, float]]:
    """{"most_popular": metrics, "ease" or "item_knn": metrics} on `split` (the users of eval_set when
    given, so a model scored on the same set compares row for row), fitted on what precedes it."""
    processed_dir = Path(processed_dir)
    eval_set = eval_set if eval_set is not None else load_eval_set(processed_dir, split)
    users, items = known_pairs(processed_dir, split)
    results = {}
    for name, model in (("most_popular", MostPopular()), yardstick(eval_set.n_items, ease_lambda)):
        model.fit(users, items, eval_set.n_items)
        results[name] = evaluate_scores(model.score_fn(eval_set), eval_set, k=k)
    return results
