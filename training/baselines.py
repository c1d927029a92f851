"""Reference recommenders scored by the same evaluation as the trained models.

- MostPopular: every user gets the items with the most training interactions.
- EASE (Steck, 2019): a closed-form item-item linear model, B = I - P / diag(P) with
  P = (X^T X + lambda I)^-1 over the binary user x item matrix X; a user's scores are x_u B.
  A strong baseline on small catalogues (n_items x n_items dense matrices: keep it for < ~20k items).

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


def known_pairs(processed_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The interactions a model may learn from before evaluating `split`: train (+ valid for test)."""
    users, items = _pairs(processed_dir, "train")
    if split == "test" and (processed_dir / "valid").exists():
        valid_u, valid_i = _pairs(processed_dir, "valid")
        users, items = np.concatenate([users, valid_u]), np.concatenate([items, valid_i])
    return users, items


def run_baselines(
    processed_dir: str | Path, split: str = "test", k: int = 10, ease_lambda: float = 400.0
) -> dict[str, dict[str, float]]:
    """{"most_popular": metrics, "ease": metrics} on `split`, fitted on what precedes it."""
    processed_dir = Path(processed_dir)
    eval_set = load_eval_set(processed_dir, split)
    users, items = known_pairs(processed_dir, split)
    results = {}
    for name, model in (("most_popular", MostPopular()), ("ease", EASE(ease_lambda))):
        model.fit(users, items, eval_set.n_items)
        results[name] = evaluate_scores(model.score_fn(eval_set), eval_set, k=k)
    return results
