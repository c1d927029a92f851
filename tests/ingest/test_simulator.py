"""The simulator: deterministic, valid, realistic and with a signal a personalised model can learn."""

from __future__ import annotations

from collections import Counter, defaultdict

import pandas as pd
import pytest

from ingest import schema as s
from ingest.catalog import write_catalog
from ingest.simulator import generate


@pytest.fixture(scope="module")
def sim():
    return generate(8000, seed=11)


def test_deterministic_by_seed():
    a, b, c = generate(500, seed=1), generate(500, seed=1), generate(500, seed=2)
    assert a.events == b.events and a.catalog.equals(b.catalog)
    assert a.events != c.events


def test_events_valid_time_ordered_and_in_catalog(sim):
    assert len(sim.events) == 8000
    times = [e[s.TIMESTAMP] for e in sim.events]
    assert times == sorted(times)
    assert len({e[s.EVENT_ID] for e in sim.events}) == 8000
    assert all(s.validate_event(e) for e in sim.events)
    assert {e[s.ITEM_ID] for e in sim.events} <= set(sim.catalog["item_id"])
    assert list(sim.catalog.columns) == ["item_id", "category", "brand", "price", "title"]
    assert sim.catalog["category"].nunique() >= 10 and (sim.catalog["price"] > 0).all()


def test_funnel_and_power_law(sim):
    kinds = Counter(e[s.EVENT_TYPE] for e in sim.events)
    assert kinds[s.VIEW] > kinds[s.ADD_TO_CART] > kinds[s.PURCHASE] > kinds[s.RATING_EVENT] > 0
    # Every purchase follows an add_to_cart of the same item in the same session.
    carted = {(e[s.SESSION_ID], e[s.ITEM_ID]) for e in sim.events if e[s.EVENT_TYPE] == s.ADD_TO_CART}
    assert all((e[s.SESSION_ID], e[s.ITEM_ID]) in carted for e in sim.events if e[s.EVENT_TYPE] == s.PURCHASE)
    popularity = Counter(e[s.ITEM_ID] for e in sim.events).most_common()
    top_share = sum(n for _, n in popularity[: len(popularity) // 10]) / len(sim.events)
    assert top_share > 0.3  # the top 10% of items draw far more than 10% of events


def test_users_concentrate_on_few_categories(sim):
    category = dict(zip(sim.catalog["item_id"], sim.catalog["category"], strict=True))
    per_user = defaultdict(Counter)
    for e in sim.events:
        per_user[e[s.USER_ID]][category[e[s.ITEM_ID]]] += 1
    shares = [
        sum(n for _, n in c.most_common(3)) / sum(c.values()) for c in per_user.values() if c.total() >= 10
    ]
    assert sum(shares) / len(shares) > 0.8


def test_personal_signal_beats_most_popular(sim):
    """Leave-last-out hit rate @10: user's own categories and history vs the global top 10."""
    category = dict(zip(sim.catalog["item_id"], sim.catalog["category"], strict=True))
    history, last = defaultdict(list), {}
    for e in sim.events:
        if e[s.USER_ID] in last:
            history[e[s.USER_ID]].append(last[e[s.USER_ID]])
        last[e[s.USER_ID]] = e[s.ITEM_ID]
    train = [i for items in history.values() for i in items]
    global_top = [i for i, _ in Counter(train).most_common(10)]
    by_cat = defaultdict(Counter)
    for item in train:
        by_cat[category[item]][item] += 1
    pop_hits = personal_hits = users = 0
    for user, items in history.items():
        if len(items) < 5:
            continue
        users += 1
        fav = Counter(category[i] for i in items).most_common(1)[0][0]
        recent = list(dict.fromkeys(reversed(items)))[:5]
        picks = recent + [i for i, _ in by_cat[fav].most_common(10) if i not in recent]
        personal_hits += last[user] in picks[:10]
        pop_hits += last[user] in global_top
    assert users > 50
    assert personal_hits > 2 * pop_hits


def test_write_catalog(settings, sim):
    path = write_catalog(settings, sim.catalog)
    assert path == settings.data_dir / "catalog" / "items.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(path), sim.catalog)
    assert not list(path.parent.glob(".*tmp"))
