"""The registry's `current` pointer: the model version serving loads.

One small text file under the registry directory, replaced atomically. The trainers' registry (and test
fixtures) write it after a version validates; the API's hot reload reads it. Kept free of training and
framework imports so the API process stays small.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def read_current(registry_dir: Path) -> str | None:
    """The version named by `current`, or None before the first publish."""
    try:
        return (Path(registry_dir) / "current").read_text().strip() or None
    except (FileNotFoundError, IsADirectoryError):
        return None


def write_current(registry_dir: Path, version: str) -> None:
    """Point `current` at an existing version: temp file, fsync, os.replace (readers never see half)."""
    if not (Path(registry_dir) / "versions" / version).is_dir():
        raise FileNotFoundError(f"no such model version: {version}")
    tmp = Path(registry_dir) / f".current-{uuid.uuid4().hex}"
    with tmp.open("w") as fh:
        fh.write(version + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, Path(registry_dir) / "current")
