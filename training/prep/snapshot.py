"""The processed snapshot on disk: its input hash, split folders, row counts and the atomic swap."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import DataFrame

from infra.config import Settings
from ingest.catalog import catalog_path
from ingest.parquet_sink import events_dir, landed_files
from training.prep.dataset import SPLITS


def snapshot_id(settings: Settings) -> str:
    """A hash of the input: every landed file's name and size (names are unique) plus the catalog."""
    digest = hashlib.sha256()
    events = events_dir(settings.landing_dir)
    for path in landed_files(settings.landing_dir):
        digest.update(f"{path.relative_to(events)}:{path.stat().st_size}\n".encode())
    catalog = catalog_path(settings)
    if catalog.is_file():
        digest.update(hashlib.sha256(catalog.read_bytes()).digest())
    return digest.hexdigest()[:16]


def write_splits(examples: DataFrame, out: Path) -> None:
    """Write the examples once, partitioned by split, then move each split folder to out/<split>;
    a split with no rows still gets a readable empty dataset."""
    staging = out / "_examples"
    examples.write.partitionBy("split").parquet(str(staging))
    parts = sorted(staging.glob("split=*/*.parquet"))
    for split in SPLITS:
        source = staging / f"split={split}"
        if source.exists():
            source.rename(out / split)
            continue
        (out / split).mkdir()
        if parts:
            pq.write_table(pq.read_schema(parts[0]).empty_table(), out / split / "part-00000.parquet")
    shutil.rmtree(staging)


def split_counts(out: Path) -> dict[str, int]:
    """Rows per split, from the Parquet footers."""
    return {
        split: sum(pq.ParquetFile(f).metadata.num_rows for f in (out / split).glob("*.parquet"))
        for split in SPLITS
    }


@contextlib.contextmanager
def building(target: Path) -> Iterator[Path]:
    """A temp dir beside `target`; on success it replaces `target` (renames), on failure it is removed
    and `target` is left as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.building-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    swap_in(tmp, target)


def swap_in(new: Path, target: Path) -> None:
    """Move `new` to `target`; the old target is renamed aside first and deleted after."""
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    if target.exists():
        target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        if old.exists():
            old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
