"""Splits, yardsticks and metrics of the product-path quality benchmark (bench_quality.py), in plain
numpy/pandas so they can be unit-tested on tiny hand-made data (tests/bench/test_quality_protocol.py).

Protocols (../shared/docs/benchmarks.md):
- `stratified_split`: Microsoft Recommenders' python_stratified_split: one uniform random number per
  row (np.random.seed(seed), file order), rows sorted by (group, random), a row is train when
  cumcount / count <= ratio within its group. Grouped by item here (the protocol of benchmarks.md).
- `last_out_split`: each user's last event (by time, then file order) is the test target; users with
  fewer than `min_events` events are dropped from the test (their events stay in train).
Metrics, binary relevance, top k, averaged over test users with at least one relevant item:
precision@k = hits / k; recall@k = hits / |rel|; ndcg@k with ideal DCG over min(|rel|, k);
map = sum over hit ranks r of (hits up to r) / r, divided by |rel|; hit_rate@k = any hit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from training.baselines import EASE, ItemKNN, MostPopular
from training.evaluate import EvalSet

USER, ITEM, TS = "user_id", "item_id", "timestamp"


# ---- splits ----------------------------------------------------------------------------------------


def stratified_split(
    df: pd.DataFrame, ratio: float = 0.75, seed: int = 42, by: str = ITEM
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) as python_stratified_split(df, ratio, filter_by=by, seed=seed) splits them."""
    data = df.reset_index(drop=True).copy()
    np.random.seed(seed)
    data["_random"] = np.random.rand(len(data))
    data = data.sort_values([by, "_random"])
    groups = data.groupby(by)
    rank = groups.cumcount() / groups[by].transform("count")
    train = data[rank <= ratio].drop(columns="_random")
    test = data[rank > ratio].drop(columns="_random")
    return train, test


def last_out_split(df: pd.DataFrame, min_events: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test): each user's newest event (ties: the later row of the file) is test."""
    data = df.reset_index(drop=True)
    data = data.assign(_row=np.arange(len(data))).sort_values([USER, TS, "_row"])
    last = ~data.duplicated(USER, keep="last")
    enough = data.groupby(USER)[ITEM].transform("size") >= min_events
    test_mask = last & enough
    return data[~test_mask].drop(columns="_row"), data[test_mask].drop(columns="_row")


def relevant_sets(test: pd.DataFrame) -> dict[str, set[str]]:
    return {str(u): set(map(str, items)) for u, items in test.groupby(USER)[ITEM]}


# ---- metrics ---------------------------------------------------------------------------------------


def user_metrics(ranked: Sequence[str], relevant: set[str], k: int = 10) -> dict[str, float]:
    """The metrics of one user's top-k list (longer lists are cut to k)."""
    ranked = list(ranked)[:k]
    hits = np.array([item in relevant for item in ranked], np.float64)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    n_rel, n_hits = len(relevant), hits.sum()
    ideal = discount[: min(n_rel, k)].sum()
    ranks = np.arange(1, len(ranked) + 1)
    return {
        f"precision@{k}": n_hits / k,
        f"recall@{k}": n_hits / n_rel,
        f"ndcg@{k}": float(hits @ discount[: len(ranked)]) / ideal,
        "map": float((np.cumsum(hits) / ranks * hits).sum()) / n_rel,
        f"hit_rate@{k}": float(n_hits > 0),
    }


def score_lists(
    recommended: Mapping[str, Sequence[str]], relevant: Mapping[str, set[str]], k: int = 10
) -> dict[str, float]:
    """Mean metrics over the users of `relevant` with a relevant item (a missing list scores 0)."""
    users = [u for u, rel in relevant.items() if rel]
    if not users:
        raise ValueError("no user with a relevant item")
    sums: dict[str, float] = {}
    for u in users:
        for key, value in user_metrics(recommended.get(u, []), relevant[u], k).items():
            sums[key] = sums.get(key, 0.0) + value
    out = {key: value / len(users) for key, value in sums.items()}
    out["users"] = float(len(users))
    return out


# ---- yardsticks ------------------------------------------------------------------------------------


class Interactions:
    """The training part as index arrays: distinct (user, item) pairs, ids <-> rows."""

    def __init__(self, train: pd.DataFrame) -> None:
        pairs = train[[USER, ITEM]].astype(str).drop_duplicates()
        self.items = np.array(sorted(pairs[ITEM].unique()))
        self.users = np.array(sorted(pairs[USER].unique()))
        self.item_row = {item: i for i, item in enumerate(self.items)}
        self.user_row = {user: i for i, user in enumerate(self.users)}
        self.u = pairs[USER].map(self.user_row).to_numpy(np.int64)
        self.i = pairs[ITEM].map(self.item_row).to_numpy(np.int64)
        order = np.argsort(self.u, kind="stable")
        self.u, self.i = self.u[order], self.i[order]
        self.start = np.searchsorted(self.u, np.arange(len(self.users) + 1))
        self.popularity = np.bincount(self.i, minlength=len(self.items)).astype(np.float64)

    def seen(self, user_row: int) -> np.ndarray:
        return self.i[self.start[user_row] : self.start[user_row + 1]]


def _top_k_ids(data: Interactions, scores: np.ndarray, rows: Iterable[int], users: Sequence[str], k: int):
    out = {}
    for j, (r, user) in enumerate(zip(rows, users, strict=True)):
        s = scores[j]
        if r >= 0:
            s[data.seen(r)] = -np.inf
        kk = min(k, len(s))
        best = np.argpartition(-s, kk - 1)[:kk]
        best = best[np.argsort(-s[best], kind="stable")]
        out[user] = [str(x) for x in data.items[best[np.isfinite(s[best])]]]
    return out


def _answers(
    model, data: Interactions, users: Sequence[str], k: int, batch: int = 512
) -> dict[str, list[str]]:
    """Top k ids per user from a baseline of training.baselines (the implementation every training
    run reports beside its model), fitted on the training part."""
    model.fit(data.u, data.i, len(data.items))
    rows = [data.user_row.get(u, -1) for u in users]
    empty = np.zeros(0, np.int64)
    seen = [data.seen(r) if r >= 0 else empty for r in rows]
    eval_set = EvalSet(
        user_idx=np.arange(len(users)),
        hist_items=np.zeros((len(users), 1), np.int64),
        hist_types=np.zeros((len(users), 1), np.int64),
        relevant=[empty] * len(users),
        seen=seen,
        n_items=len(data.items),
        item_popularity=data.popularity.astype(np.int64),
    )
    score = model.score_fn(eval_set)
    out: dict[str, list[str]] = {}
    for start in range(0, len(users), batch):
        at = np.arange(start, min(start + batch, len(users)))
        scores = np.array(score(at), dtype=np.float64)
        out.update(_top_k_ids(data, scores, [rows[j] for j in at], [users[j] for j in at], k))
    return out


def most_popular(data: Interactions, users: Sequence[str], k: int = 10) -> dict[str, list[str]]:
    """Items by distinct training users, the user's own removed."""
    return _answers(MostPopular(), data, users, k)


def ease(data: Interactions, users: Sequence[str], k: int = 10, lambda_: float = 400.0):
    """EASE (Steck 2019) fitted on the training part; top k of x_u B per user."""
    return _answers(EASE(lambda_), data, users, k)


def item_knn(data: Interactions, users: Sequence[str], k: int = 10, neighbours: int = 100):
    """Item-kNN: cosine similarity of items' user sets, each item's `neighbours` most similar kept;
    a user's score of item j = sum over their items h of sim(h, j) (j among h's neighbours)."""
    return _answers(ItemKNN(neighbours), data, users, k, batch=256)
