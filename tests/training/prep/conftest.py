"""Preprocessing fixtures: isolated settings per module and tiny synthetic landed events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infra.config import Settings, load_settings
from tests.training.prep.landing_data import event

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
KINDS = ("view", "add_to_cart", "purchase")


def module_settings(tmp_path_factory: pytest.TempPathFactory, name: str) -> Settings:
    """Settings under a fresh tmp dir (module-scoped fixtures cannot use the `settings` fixture)."""
    root: Path = tmp_path_factory.mktemp(name)
    return load_settings(var_dir=root / "var", kafka_bootstrap_servers="127.0.0.1:1")


def clickstream(n_users: int, n_items: int, n_events: int, seed: int, user_prefix: str = "u") -> list[dict]:
    """Random valid events over 10 days (views, carts, purchases, some prices)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_events):
        kind = KINDS[int(rng.choice(3, p=[0.7, 0.2, 0.1]))]
        rows.append(
            event(
                f"{user_prefix}{rng.integers(n_users)}",
                f"i{rng.integers(n_items):03d}",
                T0 + float(rng.integers(0, 10 * 86_400)),
                kind,
                price=float(rng.integers(1, 100)) if rng.random() < 0.8 else None,
            )
        )
    return rows


def ratings(n_users: int, n_items: int, per_user: int, seed: int) -> list[dict]:
    """MovieLens-like rating events: each user rates `per_user` distinct items once."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for item in rng.choice(n_items, size=per_user, replace=False):
            ts = T0 + float(rng.integers(0, 30 * 86_400))
            rows.append(event(f"u{u}", f"i{item:03d}", ts, "rating", rating=float(rng.integers(1, 6))))
    return rows
