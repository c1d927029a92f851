"""The online store: each user's recent events, shared by every API worker and the store consumer.

`OnlineStore` is the interface (room for Redis later); `SqliteStore` is the embedded default: one
SQLite file in WAL mode (many readers alongside one writer, across processes, survives restarts).
Writes are idempotent by event_id, so the API and the Kafka consumer may both deliver an event.
Retention: each write keeps only the newest `keep_per_user` events of the users it touched, so the
store holds what serving reads (a user's recent history) and does not grow with the event stream.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from ingest.schema import Event

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, item_id TEXT NOT NULL,
    event_type TEXT NOT NULL, ts REAL NOT NULL, stored_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_user ON events (user_id, ts);
CREATE INDEX IF NOT EXISTS events_stored ON events (stored_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
"""


class StoreError(RuntimeError):
    """The store could not be opened or answered."""


class OnlineStore(Protocol):
    """What serving needs from a store of recent user events."""

    def add_events(self, events: Iterable[Event]) -> int: ...
    def user_events(self, user_id: str, limit: int) -> list[tuple[str, str, float]]: ...
    def recent_item_counts(self, since: float) -> dict[str, int]: ...
    def set_meta(self, key: str, value: float) -> None: ...
    def get_meta(self, key: str) -> float | None: ...
    def ping(self) -> None: ...


class SqliteStore:
    """SQLite (WAL) store; one connection per thread, opened lazily."""

    def __init__(self, path: Path, busy_timeout_ms: int = 5000, keep_per_user: int = 0) -> None:
        if keep_per_user < 0:
            raise ValueError("keep_per_user must be >= 0 (0 keeps every event)")
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.keep_per_user = keep_per_user
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn().executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open online store {self.path}: {exc}") from exc
            self._local.conn = conn
        return conn

    def add_events(self, events: Iterable[Event]) -> int:
        """Insert events, ignoring event_ids already stored, then trim the touched users to their
        newest keep_per_user events; returns how many events were new."""
        now = time.time()
        rows = [(e.event_id, e.user_id, e.item_id, e.event_type, e.timestamp, now) for e in events]
        conn = self._conn()
        with conn:
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
            added = conn.total_changes - before
            if self.keep_per_user and added:
                conn.executemany(
                    "DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE user_id = ? "
                    "ORDER BY ts DESC LIMIT -1 OFFSET ?)",
                    [(user, self.keep_per_user) for user in {row[1] for row in rows}],
                )
            return added

    def user_events(self, user_id: str, limit: int) -> list[tuple[str, str, float]]:
        """(item_id, event_type, timestamp) of the user's latest `limit` events, newest first."""
        cur = self._conn().execute(
            "SELECT item_id, event_type, ts FROM events WHERE user_id = ? ORDER BY ts DESC LIMIT ?",
            (user_id, limit),
        )
        return cur.fetchall()

    def recent_item_counts(self, since: float) -> dict[str, int]:
        """Events per item stored since `since` (unix s): what is trending now."""
        cur = self._conn().execute(
            "SELECT item_id, COUNT(*) FROM events WHERE stored_at >= ? GROUP BY item_id", (since,)
        )
        return dict(cur.fetchall())

    def set_meta(self, key: str, value: float) -> None:
        with self._conn() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, float(value)))

    def get_meta(self, key: str) -> float | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else float(row[0])

    def ping(self) -> None:
        """Raise StoreError unless the store answers a query."""
        try:
            self._conn().execute("SELECT 1 FROM events LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"online store {self.path} not reachable: {exc}") from exc


def open_store(url: str, keep_per_user: int = 0) -> OnlineStore:
    """The store for a URL: `sqlite:///<path>` (the embedded default). Other schemes are not built yet.
    keep_per_user: retention, each user's newest N events (0 keeps all)."""
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")), keep_per_user=keep_per_user)
    raise StoreError(f"unsupported online store url {url!r} (expected sqlite:///path)")
