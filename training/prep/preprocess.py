"""`python -m training.prep`: landed events -> train/valid/test with histories, vocabularies,
item features and a manifest under settings.processed_dir (see the processed-data contract).

The snapshot is built in a temp dir beside processed_dir and swapped in with renames, so a failed
run leaves the previous outputs intact. `preprocess(settings, PreprocessConfig(...))` is the plain
function; the CLI only parses flags. Defaults come from the `[preprocess]` table of the config file.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.config import Settings, load_settings, section_values
from infra.logs import setup_logging
from ingest.catalog import catalog_path
from ingest.schema import EVENT_TYPE_CODE
from model.features import DEFAULT_EVENT_WEIGHTS
from training.prep import events as ev
from training.prep import item_features, snapshot, vocab
from training.prep.dataset import HISTORIES, ITEMS_FILE, TRAIN, VOCAB_DIR, write_manifest
from training.prep.histories import user_histories, with_histories
from training.prep.splits import SPLIT_KINDS, split_interactions

log = logging.getLogger("training.prep.preprocess")


@dataclass(frozen=True)
class PreprocessConfig:
    """Preprocessing settings. event_weights["rating"] multiplies the rating value (ratings by value)."""

    event_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    kcore: int = 0
    split: str = "temporal"
    test_fraction: float | None = None  # None: 0.2 (temporal), 0.25 (benchmark); unused by leave_last_out
    valid_fraction: float = 0.1
    max_history: int = 50
    n_price_buckets: int = 10
    seed: int = 42
    shuffle_partitions: int = 8

    def __post_init__(self) -> None:
        if self.split not in SPLIT_KINDS:
            raise ValueError(f"split: {self.split!r} is not one of {list(SPLIT_KINDS)}")
        if self.max_history < 1:
            raise ValueError("max_history must be >= 1")
        unknown = set(self.event_weights) - set(EVENT_TYPE_CODE)
        if unknown:
            raise ValueError(f"event_weights: unknown event types {sorted(unknown)}")
        if not 0 <= self.valid_fraction < 1 or not 0 <= (self.test_fraction or 0) < 1:
            raise ValueError("valid_fraction and test_fraction must be in [0, 1)")

    @property
    def effective_test_fraction(self) -> float:
        if self.test_fraction is not None:
            return self.test_fraction
        return 0.25 if self.split == "benchmark" else 0.2

    @classmethod
    def load(cls, config_path: str | Path | None = None, **overrides: Any) -> PreprocessConfig:
        """Defaults < the config file's [preprocess] table < keyword overrides (None = not given)."""
        values = section_values(cls, "preprocess", config_path, overrides)
        if "event_weights" in values:
            values["event_weights"] = {**DEFAULT_EVENT_WEIGHTS, **values["event_weights"]}
        return cls(**values)


def _build_vocabs(spark, settings: Settings, inter, catalog, out: Path) -> dict[str, Any]:
    """Extend the persisted vocabularies, write them into the snapshot, return them re-read."""
    sources = {
        "users": inter.select("user_id"),
        "items": inter.select("item_id"),
        "categories": catalog.select("category"),
        "brands": catalog.select("brand"),
    }
    result = {}
    out.mkdir(parents=True, exist_ok=True)
    for name, values in sources.items():
        extended = vocab.extend_vocab(
            vocab.read_vocab(spark, settings.data_dir / VOCAB_DIR, name), values, name
        )
        vocab.write_single_parquet(extended, out / f"{name}.parquet")
        result[name] = vocab.read_vocab(spark, out, name)
    return result


def _vocab_sizes(vocabs: dict, n_price_buckets: int) -> dict[str, int]:
    from pyspark.sql import functions as F

    sizes = {}
    for name, key in (
        ("users", "n_users"),
        ("items", "n_items"),
        ("categories", "n_categories"),
        ("brands", "n_brands"),
    ):
        idx = vocab.VOCABS[name][1]
        sizes[key] = int(vocabs[name].agg(F.coalesce(F.max(idx), F.lit(0))).first()[0]) + 1
    sizes["n_price_buckets"] = n_price_buckets
    return sizes


def _clean(spark, settings: Settings) -> tuple[Any, dict[str, int], dict[str, int | None]]:
    """Clean, deduplicated events (cached), their counts and time range."""
    from pyspark.sql import functions as F

    raw = ev.read_landed(spark, settings.landing_dir)
    events = ev.clean_events(raw).cache()
    n_raw = raw.count()  # answered from the Parquet footers
    clean = events.agg(
        F.count("*").alias("n"),
        F.sum("copies").alias("valid"),
        F.min("ts").alias("lo"),
        F.max("ts").alias("hi"),
    ).first()
    n_valid = int(clean["valid"] or 0)
    counts = {"raw": n_raw, "invalid": n_raw - n_valid, "duplicates": n_valid - int(clean["n"])}
    time_range = {
        "min": None if clean["lo"] is None else int(clean["lo"]),
        "max": None if clean["hi"] is None else int(clean["hi"]),
    }
    return events, counts, time_range


def _index(inter, vocabs: dict):
    return (
        inter.join(vocabs["users"], "user_id")
        .join(vocabs["items"], "item_id")
        .select("user_idx", "item_idx", "weight", "timestamp", "event_type")
    )


@contextlib.contextmanager
def _step(name: str) -> Iterator[None]:
    """Log how long one step of the job took (where the time goes, run after run)."""
    started = time.perf_counter()
    yield
    log.info("step %s: %.1f s", name, time.perf_counter() - started)


def _build(spark, settings: Settings, config: PreprocessConfig, out: Path) -> dict[str, Any]:
    """Every output of the snapshot into `out`; returns the manifest."""
    with _step("clean"):
        events, counts, time_range = _clean(spark, settings)
    if counts["raw"] - counts["invalid"] == 0:
        raise ValueError(
            f"no valid events in {settings.landing_dir}: {counts['invalid']} rows failed the schema"
        )
    with _step("interactions"):
        inter = ev.kcore(ev.interactions(events, config.event_weights), config.kcore).cache()
        inter.count()
    with _step("vocabularies"):
        catalog = item_features.read_catalog(spark, catalog_path(settings))
        catalog = catalog if catalog is not None else item_features.empty_catalog(spark)
        vocabs = _build_vocabs(spark, settings, inter, catalog, out / VOCAB_DIR)
    with _step("split"):
        split_df, split_info = split_interactions(
            _index(inter, vocabs),
            config.split,
            config.effective_test_fraction,
            config.valid_fraction,
            config.seed,
        )
        split_df = split_df.cache()
    with _step("examples with histories"):
        snapshot.write_splits(with_histories(split_df, config.max_history), out)
    with _step("user histories"):
        user_histories(split_df, config.max_history).write.parquet(str(out / HISTORIES))
    with _step("items"):
        train = spark.read.parquet(str(out / TRAIN))
        items, boundaries = item_features.item_table(
            vocabs["items"],
            catalog,
            events,
            vocabs["categories"],
            vocabs["brands"],
            train,
            config.n_price_buckets,
        )
        vocab.write_single_parquet(items, out / ITEMS_FILE)
    with _step("counts"):
        counts.update(snapshot.split_counts(out))
        counts.update(_interaction_counts(split_df))
        sizes = _vocab_sizes(vocabs, len(boundaries) + 2 if boundaries else 1)
    for df in (events, inter, split_df):
        df.unpersist()
    return {
        "snapshot_id": snapshot.snapshot_id(settings),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "counts": counts,
        "time_range": time_range,
        "split": split_info,
        "config": dataclasses.asdict(config),
        "vocab": sizes,
        "max_history": config.max_history,
        "event_weights": dict(config.event_weights),
        "price_boundaries": boundaries,
        "event_type_codes": dict(EVENT_TYPE_CODE),
    }


def _interaction_counts(split_df) -> dict[str, int]:
    from pyspark.sql import functions as F

    row = split_df.agg(
        F.count("*").alias("interactions"),
        F.countDistinct("user_idx").alias("users"),
        F.countDistinct("item_idx").alias("items"),
    ).first()
    return {k: int(row[k]) for k in ("interactions", "users", "items")}


def preprocess(settings: Settings, config: PreprocessConfig | None = None, spark=None) -> dict[str, Any]:
    """Run the job: landed events (+ catalog) -> settings.processed_dir, swapped in atomically.
    The persisted vocabularies (settings.data_dir / "vocab") are updated before the swap (appending
    ids is harmless should the swap fail). Returns the manifest."""
    config = config or PreprocessConfig.load()
    ev.require_landed(settings.landing_dir)  # before paying for a Spark start
    if spark is None:
        from training.prep.spark_session import build_spark

        spark = build_spark(
            app_name="preprocess", shuffle_partitions=config.shuffle_partitions, settings=settings
        )
    with snapshot.building(settings.processed_dir) as out:
        manifest = _build(spark, settings, config, out)
        write_manifest(out, manifest)
        vocab.persist_vocabs(out / VOCAB_DIR, settings.data_dir / VOCAB_DIR)
    log.info("preprocessed %s -> %s: %s", settings.landing_dir, settings.processed_dir, manifest["counts"])
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.prep", description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=SPLIT_KINDS, help="split kind (default temporal)")
    parser.add_argument("--max-history", type=int, help="history length per example (default 50)")
    parser.add_argument("--kcore", type=int, help="keep users/items with >= k interactions (0 = off)")
    parser.add_argument("--test-fraction", type=float, help="test share (0.2 temporal, 0.25 benchmark)")
    parser.add_argument("--valid-fraction", type=float, help="validation share carved from train (0.1)")
    parser.add_argument("--price-buckets", type=int, dest="n_price_buckets", help="price buckets (10)")
    parser.add_argument("--seed", type=int, help="seed of the benchmark split (42)")
    parser.add_argument("--config", help="TOML config file with a [preprocess] table")
    args = vars(parser.parse_args(argv))
    setup_logging("preprocess")
    try:
        config = PreprocessConfig.load(args.pop("config"), **args)
        manifest = preprocess(load_settings(), config)
    except (ValueError, FileNotFoundError) as exc:
        print(f"preprocess: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"snapshot_id": manifest["snapshot_id"], "counts": manifest["counts"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
