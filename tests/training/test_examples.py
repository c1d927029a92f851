"""training.examples: next-item and profile examples built in numpy, on hand-made interactions."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate import profile_eval_set
from training.examples import Interactions, build_examples, hold_out_profile


def _inter():
    # user 1: items 10 (t=1), 11 (t=2), 12 (t=2), 13 (t=3); user 2: a single item 20.
    return Interactions(
        user_idx=np.array([1, 1, 1, 1, 2]),
        item_idx=np.array([12, 10, 13, 11, 20]),
        timestamp=np.array([2.0, 1.0, 3.0, 2.0, 5.0]),
        event_type=np.array([3, 1, 4, 2, 3]),
        weight=np.array([1, 2, 3, 4, 5], np.float32),
    )


def _rows(ex):
    return {
        (int(u), int(i)): [int(h) for h in row if h]
        for u, i, row in zip(ex.user_idx, ex.item_idx, ex.hist_items, strict=True)
    }


def test_next_examples_hold_strictly_earlier_items_newest_first():
    got = _rows(build_examples(_inter(), ("next",), max_history=3))
    assert got == {(1, 13): [11, 12, 10], (1, 11): [10], (1, 12): [10], (1, 10): [], (2, 20): []}


def test_profile_examples_hold_every_other_item_with_the_target_masked():
    ex = build_examples(_inter(), ("profile",), max_history=2)
    got = _rows(ex)
    assert got == {(1, 13): [11, 12], (1, 11): [13, 12], (1, 12): [13, 11], (1, 10): [13, 11], (2, 20): []}
    types = {int(i): [int(t) for t in row if t] for i, row in zip(ex.item_idx, ex.hist_types, strict=True)}
    assert types[10] == [4, 2]  # the history's own event types
    assert dict(zip(ex.item_idx.tolist(), ex.weight.tolist(), strict=True))[13] == 3.0


def test_both_concatenates_the_kinds():
    ex = build_examples(_inter(), ("next", "profile"), max_history=3)
    assert len(ex) == 10 and ex.hist_items.shape == (10, 3)
    with pytest.raises(ValueError):
        build_examples(_inter(), ("sideways",), max_history=3)


def _many(n_users=30, per_user=10, seed=0):
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(1, n_users + 1), per_user)
    items = np.concatenate([rng.choice(np.arange(1, 60), per_user, replace=False) for _ in range(n_users)])
    return Interactions(
        user_idx=users,
        item_idx=items,
        timestamp=rng.random(len(users)),
        event_type=np.full(len(users), 4),
        weight=np.ones(len(users), np.float32),
    )


def test_profile_holdout_takes_a_share_of_sampled_users_items_and_keeps_the_rest():
    inter = _many()
    kept, held = hold_out_profile(inter, max_users=12, fraction=0.2, seed=3)
    assert len(kept) + len(held) == len(inter)
    held_users, counts = np.unique(held.user_idx, return_counts=True)
    assert len(held_users) == 12 and set(counts) == {2}  # 20% of 10 items, for 12 of the 30 users
    pairs = set(zip(kept.user_idx.tolist(), kept.item_idx.tolist(), strict=True))
    assert not pairs & set(zip(held.user_idx.tolist(), held.item_idx.tolist(), strict=True))
    again = hold_out_profile(inter, max_users=12, fraction=0.2, seed=3)[1]
    assert np.array_equal(again.item_idx, held.item_idx)  # seeded
    assert len(hold_out_profile(inter, max_users=12, fraction=0.0, seed=3)[1]) == 0


def test_profile_holdout_skips_users_with_too_few_items():
    kept, held = hold_out_profile(_inter(), max_users=10, fraction=0.5, seed=0, min_items=4)
    assert set(held.user_idx.tolist()) == {1} and len(held) == 2 and len(kept) == 3


def test_profile_eval_set_asks_for_held_items_from_the_known_ones_newest_first():
    inter = _inter()
    held_mask = inter.item_idx == 11
    known = Interactions(*(getattr(inter, f)[~held_mask] for f in Interactions.__dataclass_fields__))
    held = Interactions(*(getattr(inter, f)[held_mask] for f in Interactions.__dataclass_fields__))
    es = profile_eval_set(known, held, n_items=30, max_history=4)
    assert es.user_idx.tolist() == [1]
    assert es.hist_items[0].tolist() == [13, 12, 10, 0] and es.hist_types[0].tolist() == [4, 3, 1, 0]
    assert es.relevant[0].tolist() == [11] and es.seen[0].tolist() == [10, 12, 13]
    assert not es.candidates[11] and es.candidates[[10, 12, 13, 20]].all()
