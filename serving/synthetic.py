"""Small valid serving artifacts from random weights (`model_spec.init_params`), so tests and
benchmarks never need a trained model. Item ids are "i1".., user ids "u1"..; categories cycle c0..c{k-1}."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ingest.schema import EVENT_TYPE_CODE
from serving.artifact import write_serving_artifact
from serving.pointer import write_current
from training import model_spec as spec


def synthetic_config(
    n_users: int = 20, n_items: int = 50, dim: int = 16, max_history: int = 10
) -> spec.ModelConfig:
    """A small model configuration (sizes count row 0)."""
    return spec.ModelConfig(
        n_users=n_users,
        n_items=n_items,
        n_categories=4,
        n_brands=3,
        n_price_buckets=3,
        max_history=max_history,
        embedding_dim=dim,
        feature_dim=4,
        query_hidden=(dim,),
        item_hidden=(dim,),
        output_dim=dim,
    )


def write_synthetic_artifact(
    out_dir: Path,
    cfg: spec.ModelConfig,
    *,
    version: str = "v00001-synthetic",
    seed: int = 0,
    n_categories: int = 3,
) -> Path:
    """A complete serving artifact in out_dir for cfg, with random weights from seed."""
    params = spec.init_params(cfg, seed=seed)
    rng = np.random.default_rng(seed)
    features = np.stack(
        [
            rng.integers(0, cfg.n_categories, cfg.n_items),
            rng.integers(0, cfg.n_brands, cfg.n_items),
            rng.integers(0, cfg.n_price_buckets, cfg.n_items),
        ],
        axis=1,
    )
    items = spec.item_embedding(params, cfg, features)
    items[0] = 0.0
    backend = version.split("-", 1)[-1]
    return write_serving_artifact(
        out_dir,
        model_config=cfg,
        params=params,
        item_embeddings=items,
        item_ids=[""] + [f"i{i}" for i in range(1, cfg.n_items)],
        item_categories=[None] + [f"c{i % n_categories}" for i in range(1, cfg.n_items)],
        item_popularity=[0] + [int(v) for v in rng.integers(0, 1000, cfg.n_items - 1)],
        user_ids=[""] + [f"u{i}" for i in range(1, cfg.n_users)],
        features={
            "max_history": cfg.max_history,
            "event_type_codes": dict(EVENT_TYPE_CODE),
            "price_boundaries": [10.0, 50.0],
            "event_weights": {"view": 1.0, "add_to_cart": 2.0, "purchase": 4.0, "rating": 1.0},
        },
        meta={
            "version": version,
            "backend": backend,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "snapshot_id": "synthetic",
            "train_config": {},
            "metrics": {},
        },
    )


def publish_synthetic(registry_dir: Path, cfg: spec.ModelConfig, version: str, seed: int = 0) -> Path:
    """Write versions/<version>/serving and point `current` at it (atomically); returns the version dir."""
    version_dir = Path(registry_dir) / "versions" / version
    write_synthetic_artifact(version_dir / "serving", cfg, version=version, seed=seed)
    write_current(registry_dir, version)
    return version_dir
