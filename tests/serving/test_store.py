"""The SQLite online store: idempotent by event_id, shared across processes, survives reopening."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.schema import Event
from serving.store import SqliteStore, StoreError, open_store


def _ev(
    eid: str, user: str = "u1", item: str = "i1", ts: float = 1_700_000_000.0, kind: str = "view"
) -> Event:
    return Event(eid, user, item, kind, ts)


def test_idempotent_newest_first(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    assert store.add_events([_ev("a", ts=1.0e9), _ev("b", item="i2", ts=1.1e9)]) == 2
    assert store.add_events([_ev("a", ts=1.0e9), _ev("c", item="i3", ts=1.2e9)]) == 1
    assert [r[0] for r in store.user_events("u1", 10)] == ["i3", "i2", "i1"]
    assert store.user_events("u1", 2)[1] == ("i2", "view", 1.1e9)
    assert store.user_events("other", 10) == []


def test_wal_shared_with_another_process_and_reopened(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = SqliteStore(path)
    assert store._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    code = (
        "from serving.store import SqliteStore; from ingest.schema import Event; import sys; "
        "SqliteStore(sys.argv[1]).add_events([Event('x', 'u9', 'i9', 'purchase', 1.5e9)])"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    assert store.user_events("u9", 5) == [("i9", "purchase", 1.5e9)]
    assert SqliteStore(path).user_events("u9", 5) == [("i9", "purchase", 1.5e9)]


def test_trending_counts_and_meta(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'sub' / 's.sqlite'}")
    store.add_events([_ev("a"), _ev("b", user="u2"), _ev("c", item="i2")])
    assert store.recent_item_counts(time.time() - 60) == {"i1": 2, "i2": 1}
    assert store.recent_item_counts(time.time() + 60) == {}
    assert store.get_meta("lag") is None
    store.set_meta("lag", 3)
    assert store.get_meta("lag") == 3.0
    store.ping()


def test_unsupported_url() -> None:
    with pytest.raises(StoreError, match="unsupported"):
        open_store("redis://localhost:6379")


def test_retention_keeps_each_touched_users_newest_events(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}", keep_per_user=3)
    store.add_events([_ev(f"a{n}", item=f"i{n}", ts=1.0e9 + n) for n in range(5)])
    store.add_events([_ev("b0", user="u2"), _ev("b1", user="u2", item="i2", ts=1.8e9)])
    assert [r[0] for r in store.user_events("u1", 10)] == ["i4", "i3", "i2"]
    assert [r[0] for r in store.user_events("u2", 10)] == ["i2", "i1"]
    store.add_events([_ev("a9", item="old", ts=1.0e8)])  # older than the kept three: trimmed at once
    assert [r[0] for r in store.user_events("u1", 10)] == ["i4", "i3", "i2"]
    with pytest.raises(ValueError, match="keep_per_user"):
        SqliteStore(tmp_path / "t.sqlite", keep_per_user=-1)
