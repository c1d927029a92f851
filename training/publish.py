"""Publishing a trained model into the registry (layout: model.registry): the native model and the
framework-neutral serving artifact, built under a temp name, loaded back and checked, renamed into
place; then `current` moves to it.
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from infra.config import Settings
from model import spec
from model.artifact import load_serving_artifact, write_serving_artifact
from model.registry import NATIVE, SERVING, VERSION_RECORD, next_version_name, versions_dir, write_current
from training.backends import backend_module
from training.batches import Catalog

SCORE_ATOL = 1e-4  # served (numpy) vs native scores, relative to the largest score when above 1


class RegistryError(RuntimeError):
    """A version could not be published or did not validate."""


def read_serving(version_dir: Path) -> tuple[spec.ModelConfig, dict[str, np.ndarray], np.ndarray]:
    """(model config, query params, item embeddings) as serving loads them (all its checks included)."""
    artifact = load_serving_artifact(version_dir)
    return artifact.model_config, artifact.params, artifact.item_embeddings


def _probe(cfg: spec.ModelConfig, n: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A few fixed query inputs: users 0.. with random histories (some padded, one empty)."""
    rng = np.random.default_rng(0)
    items = rng.integers(1, max(cfg.n_items, 2), (n, cfg.max_history))
    items[np.arange(cfg.max_history)[None, :] >= rng.integers(0, cfg.max_history + 1, (n, 1))] = 0
    types = np.where(items > 0, rng.integers(1, cfg.n_event_types, items.shape), 0)
    return items, types, np.arange(n) % cfg.n_users


ITEM_FEATURES_FILE = "item_features.npy"  # in native/: the item tower's input, for validating again


def validate_version(version_dir: Path, backend: str, item_features: np.ndarray | None = None) -> float:
    """Load both artifacts back; served numpy scores must match the native model's. Returns max diff.
    Without `item_features`, those saved with the version at publish time are used."""
    if item_features is None:
        item_features = np.load(Path(version_dir) / NATIVE / ITEM_FEATURES_FILE)
    cfg, params, items = read_serving(version_dir)
    hist, types, users = _probe(cfg)
    served = spec.scores(spec.query_embedding(params, cfg, hist, types, users), items, cfg)
    native = backend_module(backend).load_native(Path(version_dir) / NATIVE)
    expected = spec.scores(native.query_vectors(hist, types, users), native.item_vectors(item_features), cfg)
    diff = float(np.max(np.abs(served - expected)))
    if not diff <= SCORE_ATOL * max(1.0, float(np.max(np.abs(expected)))):
        raise RegistryError(f"{version_dir}: served scores differ from the native model's by {diff:g}")
    return diff


def _serving_inputs(trainer: Any, model_config: spec.ModelConfig, catalog: Catalog, manifest: dict) -> dict:
    """Keyword arguments of write_serving_artifact, except meta."""
    features = ("max_history", "event_type_codes", "price_boundaries", "event_weights")
    return {
        "model_config": model_config,
        "params": trainer.get_params(),
        "item_embeddings": trainer.item_vectors(),
        "item_ids": catalog.item_ids,
        "item_categories": catalog.item_categories,
        "item_popularity": catalog.item_popularity,
        "user_ids": catalog.user_ids,
        "features": {k: manifest.get(k) for k in features},
    }


def _stage(tmp: Path, version: str, meta: dict, serving: dict, item_features: np.ndarray) -> None:
    """Write version.json and serving/ for `version` into tmp (native/ is there already), validate."""
    record = {"version": version, **meta, "model_config": serving["model_config"].to_dict()}
    (tmp / VERSION_RECORD).write_text(json.dumps(record, indent=2))
    shutil.rmtree(tmp / SERVING, ignore_errors=True)
    write_serving_artifact(tmp / SERVING, **serving, meta={"version": version, **meta})
    np.save(tmp / NATIVE / ITEM_FEATURES_FILE, np.asarray(item_features, np.int64))
    validate_version(tmp, meta["backend"], item_features)


def publish(
    settings: Settings,
    backend: str,
    trainer: Any,
    *,
    model_config: spec.ModelConfig,
    train_config: Any,
    catalog: Catalog,
    manifest: dict[str, Any],
    metrics: dict[str, float],
    extra: dict[str, Any] | None = None,
) -> str:
    """Export `trainer`'s weights as a new version (built under a temp name, validated, renamed into
    place), then move `current` to it. A concurrent publisher that takes the name first makes this
    one retry with the next number."""
    root = versions_dir(settings.registry_dir)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    meta = {
        "backend": backend,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "snapshot_id": manifest.get("snapshot_id"),
        "train_config": train_config.to_dict(),
        "metrics": metrics,
        **(extra or {}),
    }
    serving = _serving_inputs(trainer, model_config, catalog, manifest)
    try:
        trainer.export_native(tmp / NATIVE)
        for _ in range(100):
            version = next_version_name(settings.registry_dir, backend)
            _stage(tmp, version, meta, serving, catalog.item_features)
            try:
                tmp.rename(root / version)  # atomic; fails when another publisher took the name
            except OSError:
                if not (root / version).exists():
                    raise
                continue
            write_current(settings.registry_dir, version)
            return version
        raise RegistryError(f"could not claim a version name under {root}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
