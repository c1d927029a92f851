"""Atomic file writes: the one way every stage replaces a file that another process may be reading.

The bytes go to a hidden temp file in the same directory, are fsynced, and the temp file is renamed
over the target (os.replace), then the directory is fsynced: a reader sees the old file or the new
one, never half of one, and a crash leaves at most a stray `.<name>.*.tmp` file (Spark and the
landing-zone readers skip names starting with ".").
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_open(path: Path, *, durable: bool = True) -> Iterator[BinaryIO]:
    """A binary file handle whose contents replace `path` when the block ends without error.
    durable=False skips the fsyncs (files that are cheap to rebuild, such as reports)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    with atomic_open(path, durable=durable) as fh:
        fh.write(data)


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode(), durable=durable)


def atomic_write_with(path: Path, write: Callable[[BinaryIO], object], *, durable: bool = True) -> None:
    """Let `write(fh)` fill the file (a Parquet writer, a JSON dump), then replace `path` with it."""
    with atomic_open(path, durable=durable) as fh:
        write(fh)


def atomic_move(source: Path, target: Path) -> None:
    """Rename a finished file (written elsewhere, e.g. by Spark) over `target`, durably."""
    os.replace(source, target)
    fsync_dir(Path(target).parent)
