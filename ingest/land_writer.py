"""The landing writer: a child process that validates flushed batches and writes them as Parquet.

Why a process: the landing consumer's polling thread spends its time in kafka-python's record parsing,
under the GIL. With the writer as a thread beside it, every batch it decoded and wrote slowed the
polling down (landing at 0.67x a consume-only loop, 200,000 events); a process has its own interpreter
and runs on the other core. The parent keeps every message until its batch is acknowledged here.

One duplex pipe, one batch in flight:
  parent -> child: a `Layout` (pickled), then every payload of the batch joined as one bytes message;
  child -> parent: ("ok", files, landed, dead) with dead = [(index in the batch, reason)], or
                   ("error", text): the parent then raises and commits nothing.
The child exits when the pipe closes. It ignores SIGTERM and SIGINT (stopping is the parent's call: it
finishes the batch first) and on Linux it dies with its parent (PR_SET_PDEATHSIG), so a consumer killed
with SIGKILL leaves no writer behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from ingest.parquet_sink import with_provenance, write_partitioned
from ingest.schema import decode_event, events_table
from ingest.schema_batch import decode_batch


@dataclass(frozen=True)
class Layout:
    """A batch without its payloads: per poll, per partition (topic, partition, offsets); the length of
    each payload in the joined bytes; the positions of tombstones (None payloads, sent as b"")."""

    polls: list[list[tuple[str, int, list[int]]]]
    lengths: list[int]
    tombstones: list[int]


@dataclass(frozen=True)
class Landed:
    files: list[str]
    landed: int
    dead: list[tuple[int, str]]  # (index of the message in the batch, reason)


class WriterError(RuntimeError):
    """The writer failed or is gone; nothing of the batch may be committed."""


def split(joined: bytes, layout: Layout) -> list[bytes | None]:
    payloads: list[bytes | None] = []
    start = 0
    for length in layout.lengths:
        payloads.append(joined[start : start + length])
        start += length + 1
    for i in layout.tombstones:
        payloads[i] = None
    return payloads


def land(landing_dir: Path, max_bytes: int, layout: Layout, payloads: list[bytes | None]) -> Landed:
    """Validate a batch and write its valid events; the invalid ones are returned with their reasons."""
    dead: list[tuple[int, str]] = []
    tables = _decode(layout.polls, payloads, 0, max_bytes, dead)
    files = write_partitioned(landing_dir, tables) if tables else []
    return Landed([str(f) for f in files], sum(t.num_rows for t in tables), dead)


def _decode(polls: list, payloads: list, first: int, max_bytes: int, dead: list) -> list:
    """`polls` hold payloads[first:...] in order -> with_provenance tables. All of them go through one
    decode_batch call; when that refuses, each poll is tried alone, and a poll holding anything unusual
    is decoded one message at a time, its invalid messages joining `dead`."""
    parts = [part for poll in polls for part in poll]
    count = sum(len(offsets) for _, _, offsets in parts)
    mine = payloads[first : first + count]
    try:
        fields = decode_batch(mine, max_bytes)
    except Exception:  # Arrow refusing a payload some other way: decoded one by one below
        fields = None
    if fields is None and len(polls) > 1:
        tables, start = [], first
        for poll in polls:
            tables.extend(_decode([poll], payloads, start, max_bytes, dead))
            start += sum(len(offsets) for _, _, offsets in poll)
        return tables
    tables, start = [], 0
    for topic, partition, offsets in parts:
        if fields is not None:
            events, kept = fields.slice(start, len(offsets)), offsets
        else:
            valid, kept = [], []
            for i, offset in enumerate(offsets, start):
                try:
                    valid.append(decode_event(mine[i], max_bytes))
                except Exception as exc:  # bad input of any kind is dead-lettered, never fatal
                    dead.append((first + i, str(exc) or type(exc).__name__))
                else:
                    kept.append(offset)
            events = events_table(valid)
        start += len(offsets)
        if kept:
            tables.append(with_provenance(events, topic, partition, kept))
    return tables


def _die_with_parent(parent: int) -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the closed pipe still ends the child
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def _child(conn: Connection, landing_dir: str, max_bytes: int, parent: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    # Warm up while the consumer joins its group: the first call loads Arrow's JSON reader and
    # compute kernels (about 0.2 s, which would otherwise hold up the first batch).
    sample = b'{"user_id":"u","item_id":"i","event_type":"view","timestamp":1700000000,"schema_version":1}'
    decode_batch([sample], max_bytes)
    while True:
        try:
            layout = conn.recv()
            joined = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            done = land(Path(landing_dir), max_bytes, layout, split(joined, layout))
        except Exception:
            conn.send(("error", traceback.format_exc()))
        else:
            conn.send(("ok", done))


class WriterProcess:
    """The parent's handle on the child: submit a batch, then poll `ready` or wait for `result`.

    The child is `python -m ingest.land_writer` on one end of a socket pair (not multiprocessing's
    spawn, which re-runs the caller's main module: any script calling run_landing would need a
    __main__ guard).
    """

    def __init__(self, landing_dir: Path, max_bytes: int) -> None:
        mine, theirs = socket.socketpair()
        with theirs:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ingest.land_writer", str(theirs.fileno()), str(landing_dir)]
                + [str(max_bytes), str(os.getpid())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
            )
        self.conn = Connection(mine.detach())

    def submit(self, polls: list[list[tuple[str, int, list[int]]]], payloads: list[bytes | None]) -> None:
        tombstones = [i for i, p in enumerate(payloads) if p is None]
        if tombstones:
            payloads = [b"" if p is None else p for p in payloads]
        try:
            self.conn.send(Layout(polls, [len(p) for p in payloads], tombstones))
            self.conn.send_bytes(b"\n".join(payloads))
        except OSError as exc:
            raise WriterError(f"landing writer is gone: {exc}") from exc

    def ready(self) -> bool:
        return self.conn.poll()

    def result(self) -> Landed:
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WriterError(f"landing writer died (exit code {self.proc.poll()})") from exc
        if status != "ok":
            raise WriterError(f"landing writer failed:\n{value}")
        return value

    def close(self) -> None:
        self.conn.close()  # the child sees EOF and exits
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    # Through the package name, so that what is pickled names ingest.land_writer, not __main__.
    from ingest import land_writer

    _fd, _dir, _max_bytes, _parent = sys.argv[1:5]
    land_writer._child(Connection(int(_fd)), _dir, int(_max_bytes), int(_parent))
