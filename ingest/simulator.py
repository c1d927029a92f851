"""A synthetic e-commerce clickstream with a learnable signal, deterministic by seed.

Users have strong tastes (1-3 preferred categories, a few favourite brands), item popularity follows a
power law inside each category, sessions funnel view -> add_to_cart -> purchase, users come back to
items they saw, and purchases pull in a fixed complement item (co-purchase structure). A personalised
model therefore beats most-popular clearly, while popularity still carries some signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ingest import schema as s
from ingest.catalog import BRAND, CATEGORY, ITEM_ID, PRICE, TITLE

START_TS = 1_704_067_200  # 2024-01-01T00:00:00Z
SPAN_DAYS = 28
CATEGORY_NAMES = [
    "books",
    "electronics",
    "kitchen",
    "garden",
    "toys",
    "sports",
    "beauty",
    "fashion",
    "shoes",
    "music",
    "movies",
    "games",
    "office",
    "pets",
    "baby",
    "grocery",
    "health",
    "tools",
    "auto",
    "jewelry",
]


@dataclass(frozen=True)
class Simulated:
    """The catalog (pandas: item_id, category, brand, price, title) and time-ordered raw events."""

    catalog: pd.DataFrame
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class _World:
    item_cat: np.ndarray  # category index of each item
    item_brand: np.ndarray
    item_price: np.ndarray
    cat_items: list[np.ndarray]  # items of each category, most popular first
    cat_cdf: list[np.ndarray]  # cumulative popularity inside each category
    complement: np.ndarray  # the item people buy together with each item


def _sizes(n_events: int, n_users: int | None, n_items: int | None) -> tuple[int, int, int]:
    n_cats = len(CATEGORY_NAMES)
    users = n_users or int(np.clip(n_events // 40, 20, 50_000))
    items = n_items or int(np.clip(n_events // 50, n_cats * 5, 20_000))
    return n_cats, users, items


def _world(rng: np.random.Generator, n_cats: int, n_items: int) -> tuple[_World, pd.DataFrame]:
    brands_per_cat = 6
    item_cat = rng.integers(0, n_cats, n_items)
    item_cat[:n_cats] = np.arange(n_cats)  # every category has at least one item
    item_brand = item_cat * brands_per_cat + rng.integers(0, brands_per_cat, n_items)
    base_price = np.exp(rng.uniform(1.5, 5.5, n_cats))
    item_price = np.round(base_price[item_cat] * rng.lognormal(0.0, 0.35, n_items), 2)
    cat_items, cat_cdf = [], []
    for c in range(n_cats):
        members = rng.permutation(np.flatnonzero(item_cat == c))
        weights = 1.0 / np.arange(1, len(members) + 1) ** 1.1  # power law by rank
        cat_items.append(members)
        cat_cdf.append(np.cumsum(weights) / weights.sum())
    neighbour = (item_cat + 1 + rng.integers(0, 2, n_items)) % n_cats
    complement = np.array(
        [cat_items[c][min(int(rng.integers(0, 3)), len(cat_items[c]) - 1)] for c in neighbour]
    )
    catalog = pd.DataFrame(
        {
            ITEM_ID: [f"i{i}" for i in range(n_items)],
            CATEGORY: [CATEGORY_NAMES[k] for k in item_cat],
            BRAND: [f"{CATEGORY_NAMES[b // brands_per_cat]}-brand{b % brands_per_cat}" for b in item_brand],
            PRICE: item_price.astype(float),
            TITLE: [f"{CATEGORY_NAMES[k].title()} item {i}" for i, k in enumerate(item_cat)],
        }
    )
    return _World(item_cat, item_brand, item_price, cat_items, cat_cdf, complement), catalog


def _pick_item(rng: np.random.Generator, world: _World, category: int, brands: np.ndarray) -> int:
    """A popular item of `category`, preferring the user's brands (tried a few times)."""
    items, cdf = world.cat_items[category], world.cat_cdf[category]
    for _ in range(3):
        item = int(items[min(int(np.searchsorted(cdf, rng.random())), len(items) - 1)])
        if world.item_brand[item] in brands:
            return item
    return item


def _session(rng, world: _World, taste: tuple, seen: list[int], start: float) -> list[tuple]:
    """One visit: (ts, item, event_type, rating) tuples, funnel ordered, seconds apart."""
    cats, cat_p, brands = taste
    category = (
        int(rng.choice(cats, p=cat_p)) if rng.random() < 0.9 else int(rng.integers(len(world.cat_items)))
    )
    out, ts = [], start
    for _ in range(int(rng.integers(1, 7))):
        if seen and rng.random() < 0.3:
            item = seen[int(rng.integers(len(seen)))]  # coming back to an item seen before
        else:
            item = _pick_item(rng, world, category, brands)
        ts += float(rng.uniform(5, 90))
        out.append((ts, item, s.VIEW, None))
        seen.append(item)
        if rng.random() < 0.3:
            ts += float(rng.uniform(5, 60))
            out.append((ts, item, s.ADD_TO_CART, None))
            if rng.random() < 0.5:
                ts += float(rng.uniform(30, 300))
                out.append((ts, item, s.PURCHASE, None))
                if rng.random() < 0.15:
                    out.append((ts + 1.0, item, s.RATING_EVENT, float(rng.choice([3.0, 4.0, 4.5, 5.0]))))
                buddy = int(world.complement[item])
                ts += float(rng.uniform(5, 60))
                out.append((ts, buddy, s.VIEW, None))
                seen.append(buddy)
    return out


def _tastes(rng: np.random.Generator, n_users: int, n_cats: int) -> list[tuple]:
    tastes = []
    for _ in range(n_users):
        k = int(rng.integers(1, 4))
        cats = rng.choice(n_cats, size=k, replace=False)
        brands = cats * 6 + rng.integers(0, 6, k)
        tastes.append((cats, rng.dirichlet(np.ones(k) * 2.0), brands))
    return tastes


def generate(
    n_events: int, seed: int = 0, n_users: int | None = None, n_items: int | None = None
) -> Simulated:
    """`n_events` time-ordered raw events (they pass validate_event) and the catalog they refer to."""
    if n_events < 0:
        raise ValueError("n_events must be >= 0")
    rng = np.random.default_rng(seed)
    n_cats, users, items = _sizes(n_events, n_users, n_items)
    world, catalog = _world(rng, n_cats, items)
    tastes = _tastes(rng, users, n_cats)
    activity = rng.pareto(1.5, users) + 1.0  # a few heavy users, many light ones
    activity_cdf = np.cumsum(activity) / activity.sum()
    seen: list[list[int]] = [[] for _ in range(users)]
    rows: list[tuple] = []
    while len(rows) < n_events:
        user = min(int(np.searchsorted(activity_cdf, rng.random())), users - 1)
        start = START_TS + float(rng.uniform(0, SPAN_DAYS * 86_400))
        session_id = f"s{seed}-{len(rows)}"
        for ts, item, kind, rating in _session(rng, world, tastes[user], seen[user], start):
            rows.append((ts, user, item, kind, rating, session_id))
    rows = sorted(rows[:n_events], key=lambda r: r[0])
    return Simulated(catalog, [_event(seed, i, row, world) for i, row in enumerate(rows)])


def _event(seed: int, i: int, row: tuple, world: _World) -> dict[str, Any]:
    ts, user, item, kind, rating, session_id = row
    return {
        s.EVENT_ID: f"sim{seed}-{i}",
        s.USER_ID: f"u{user}",
        s.ITEM_ID: f"i{item}",
        s.EVENT_TYPE: kind,
        s.TIMESTAMP: round(ts, 3),
        s.SESSION_ID: session_id,
        s.RATING: rating,
        s.PRICE: float(world.item_price[item]),
    }
