"""Training examples built in numpy from the processed interactions, of two kinds:

- "next": the target with the user's items STRICTLY before it (newest first): the next-item objective,
  the same histories the Spark job writes with model.features.build_history (checked on ML-100K:
  identical items, types and weights on all 53,201 train rows);
- "profile": the target with the user's OTHER items, older and newer (newest first, the target masked
  out): "what else does this user like", the question a user's whole profile answers at serving time,
  where the query is built from every known event.

`build_examples(inter, kinds, max_history)` makes either kind or both (concatenated) from interaction
arrays; `load_interactions(processed_dir, splits)` reads those arrays from the processed splits, so the
same code serves the selection run (train only) and the refit on every interaction (train, valid and
test). Histories hold one entry per item (interactions are one row per user and item).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from training.batches import Examples
from training.prep.dataset import EVENT_TYPE, ITEM_IDX, TIMESTAMP, USER_IDX, WEIGHT

KINDS = ("next", "profile")


@dataclass(frozen=True)
class Interactions:
    user_idx: np.ndarray
    item_idx: np.ndarray
    timestamp: np.ndarray
    event_type: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.item_idx)


def load_interactions(processed_dir: Path, splits: tuple[str, ...]) -> Interactions:
    """The rows of the given processed splits (those that exist) as numpy arrays."""
    cols = (USER_IDX, ITEM_IDX, TIMESTAMP, EVENT_TYPE, WEIGHT)
    parts = [
        pq.read_table(Path(processed_dir) / s, columns=list(cols))
        for s in splits
        if (Path(processed_dir) / s).exists()
    ]
    arrays = {c: np.concatenate([p[c].to_numpy() for p in parts]) if parts else np.zeros(0) for c in cols}
    return Interactions(
        arrays["user_idx"].astype(np.int64),
        arrays["item_idx"].astype(np.int64),
        arrays["timestamp"].astype(np.float64),
        arrays["event_type"].astype(np.int64),
        arrays["weight"].astype(np.float32),
    )


def build_examples(inter: Interactions, kinds: tuple[str, ...], max_history: int) -> Examples:
    """One example per interaction and kind (see the module docstring), histories padded to max_history."""
    unknown = set(kinds) - set(KINDS)
    if unknown or not kinds:
        raise ValueError(f"example kinds must be among {KINDS}, not {kinds}")
    # Per user, newest first (ties: lower item idx first, as build_history orders them).
    order = np.lexsort((inter.item_idx, -inter.timestamp, inter.user_idx))
    users, items = inter.user_idx[order], inter.item_idx[order]
    times, types, weights = inter.timestamp[order], inter.event_type[order], inter.weight[order]
    n = len(order)
    bounds = np.flatnonzero(np.diff(users)) + 1
    starts = np.concatenate([[0], bounds]).astype(np.int64)
    ends = np.concatenate([bounds, [n]]).astype(np.int64)
    parts = []
    for kind in kinds:
        hist_pos = np.full((n, max_history), -1, np.int64)  # absolute row of each history entry
        for a, b in zip(starts, ends, strict=True):
            m = b - a
            if m < 2:
                continue
            if kind == "profile":
                width = min(m - 1, max_history)
                col = np.arange(width)[None, :]
                target = np.arange(m)[:, None]
                hist_pos[a:b, :width] = a + col + (col >= target)
            else:
                t = times[a:b]
                first_older = np.searchsorted(-t, -t, side="right")  # rows strictly older start here
                col = np.arange(min(m - 1, max_history))[None, :]
                pos = first_older[:, None] + col
                hist_pos[a:b, : col.shape[1]] = np.where(pos < m, a + pos, -1)
        valid = hist_pos >= 0
        safe = np.where(valid, hist_pos, 0)
        parts.append(
            Examples(
                user_idx=users,
                hist_items=np.where(valid, items[safe], 0),
                hist_types=np.where(valid, types[safe], 0),
                item_idx=items,
                weight=weights,
            )
        )
    if len(parts) == 1:
        return parts[0]
    return Examples(*(np.concatenate([getattr(p, f) for p in parts]) for f in Examples.__dataclass_fields__))


def hold_out_profile(
    inter: Interactions, max_users: int, fraction: float, seed: int, min_items: int = 5
) -> tuple[Interactions, Interactions]:
    """(kept, held): for a seeded sample of at most max_users users with at least min_items
    interactions, a random `fraction` of their items (at least one) is held out from anywhere in their
    timeline. The selection run trains on `kept` and asks "what else does this user like" of `held`;
    the refit trains on everything again."""
    held = np.zeros(len(inter), bool)
    if fraction <= 0 or max_users < 1 or not len(inter):
        return inter, _rows(inter, held)
    per_user = np.bincount(inter.user_idx)
    eligible = np.flatnonzero(per_user >= min_items)
    rng = np.random.default_rng(seed)
    if len(eligible) > max_users:
        eligible = rng.choice(eligible, max_users, replace=False)
    # Each row gets a random rank within its user; a sampled user's lowest-ranked rows are held out.
    order = np.lexsort((rng.random(len(inter)), inter.user_idx))
    users = inter.user_idx[order]
    rank = np.arange(len(order)) - np.searchsorted(users, users, side="left")
    quota = np.maximum(1, np.round(fraction * per_user[users]).astype(np.int64))
    held[order] = np.isin(users, eligible) & (rank < quota)
    return _rows(inter, ~held), _rows(inter, held)


def _rows(inter: Interactions, mask: np.ndarray) -> Interactions:
    return Interactions(*(getattr(inter, f)[mask] for f in Interactions.__dataclass_fields__))
