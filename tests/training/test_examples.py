"""training.examples: next-item and profile examples built in numpy, on hand-made interactions."""

from __future__ import annotations

import numpy as np
import pytest

from training.examples import Interactions, build_examples


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
