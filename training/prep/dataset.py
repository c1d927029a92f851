"""The processed data set: what the Spark job writes and the trainers, evaluation and baselines read.
Its names are spelled here only; the job and its readers import them.

    <processed_dir>/train/ valid/ test/   one row per (user, item) interaction: EXAMPLE_COLUMNS
    <processed_dir>/histories/            one row per user: newest-first train (and train + valid) items
    <processed_dir>/items.parquet         one row per item_idx: ids, features, popularity
    <processed_dir>/vocab/                users, items, categories, brands: id <-> idx (0 = unknown)
    <processed_dir>/manifest.json         counts, split, vocabulary sizes, snapshot id; written last
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TRAIN, VALID, TEST = "train", "valid", "test"
SPLITS = (TRAIN, VALID, TEST)
HISTORIES, ITEMS_FILE, VOCAB_DIR, MANIFEST = "histories", "items.parquet", "vocab", "manifest.json"

# Example rows (train / valid / test).
USER_IDX, ITEM_IDX, WEIGHT, TIMESTAMP, EVENT_TYPE, SPLIT = (
    "user_idx",
    "item_idx",
    "weight",
    "timestamp",
    "event_type",
    "split",
)
HIST_ITEMS, HIST_TYPES = "hist_items", "hist_types"
# Histories: HIST_* from train only (the query for valid), FULL_HIST_* from train + valid (for test).
FULL_HIST_ITEMS, FULL_HIST_TYPES = "full_hist_items", "full_hist_types"
# items.parquet, besides ITEM_IDX.
ITEM_ID, CATEGORY, POPULARITY = "item_id", "category", "popularity"
ITEM_FEATURE_COLUMNS = ("category_idx", "brand_idx", "price_bucket")
USER_ID = "user_id"


def read_manifest(processed_dir: Path) -> dict[str, Any]:
    """The processed snapshot's manifest.json, with a clear error when preprocessing has not run."""
    path = Path(processed_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the preprocessing first (make preprocess)")
    return json.loads(path.read_text())


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    (Path(out) / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))


def vocab_sizes(manifest: dict[str, Any]) -> dict[str, int]:
    """n_users, n_items, n_categories, n_brands, n_price_buckets (each counting row 0)."""
    source = manifest.get("vocab", manifest)
    keys = ("n_users", "n_items", "n_categories", "n_brands", "n_price_buckets")
    return {k: int(source[k]) for k in keys}
