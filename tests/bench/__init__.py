"""Benchmarks (`make bench`): each bench_*.py module's `run()` returns rows built with `row`."""

from __future__ import annotations

import time

from infra.config import Settings
from ingest.schema import Event
from serving.store import open_store
from tests.fixtures.synthetic import publish_synthetic, synthetic_config


def row(
    measure: str, value: float, unit: str = "", goal: str = "", ok: bool | None = None, digits: int = 2
) -> dict:
    """One result row. `ok` None: a figure for information; else the goal's verdict, PASS or FAIL."""
    return {
        "measure": measure,
        "value": round(float(value), digits),
        "unit": unit,
        "goal": goal,
        "verdict": "info" if ok is None else ("PASS" if ok else "FAIL"),
    }


def serve_synthetic(settings: Settings, n_users: int, n_items: int, dim: int, per_user: int) -> None:
    """A synthetic model as the registry's current version, and `per_user` recent views of every user
    in the online store (spread over the catalog), so that answers are personalised."""
    cfg = synthetic_config(n_users, n_items, dim, max_history=50)
    publish_synthetic(settings.registry_dir, cfg, "v00001-bench")
    now = time.time()
    events = [
        Event(f"seed-{u}-{n}", f"u{u}", f"i{(u * 37 + n * 101) % (n_items - 1) + 1}", "view", now - 1000 + n)
        for u in range(1, n_users)
        for n in range(per_user)
    ]
    open_store(settings.online_store_url).add_events(events)
