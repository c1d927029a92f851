"""The model registry: versioned directories of native + framework-neutral artifacts, and a `current`
pointer that moves only after the new version has been loaded back and checked.

    <registry_dir>/versions/v00001-pytorch/{native/, serving/, version.json}
    <registry_dir>/current        (text: the version name; replaced with os.replace)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from infra.config import Settings
from training import model_spec as spec
from training.batches import Catalog

VERSION_RE = re.compile(r"^v(\d{5})-([a-z]+)$")
FORMAT, FORMAT_VERSION = "streamrec-serving", 1
SCORE_ATOL = 1e-4  # served (numpy) vs native scores, relative to the largest score when above 1


class RegistryError(RuntimeError):
    """A version could not be published or did not validate."""


def list_versions(registry_dir: Path) -> list[str]:
    """Complete versions, oldest first (temp and rejected dirs are not versions)."""
    root = Path(registry_dir) / "versions"
    names = [p.name for p in root.iterdir() if VERSION_RE.match(p.name)] if root.is_dir() else []
    return sorted(names, key=lambda n: int(VERSION_RE.match(n).group(1)))


def current_version(registry_dir: Path) -> str | None:
    """The version serving should load, or None before the first publish."""
    pointer = Path(registry_dir) / "current"
    if not pointer.is_file():
        return None
    return pointer.read_text().strip() or None


def set_current(registry_dir: Path, version: str) -> None:
    """Point `current` at version: write a temp file, fsync, os.replace (readers never see half)."""
    if not (Path(registry_dir) / "versions" / version).is_dir():
        raise RegistryError(f"no such version: {version}")
    tmp = Path(registry_dir) / f".current-{uuid.uuid4().hex}"
    with tmp.open("w") as fh:
        fh.write(version + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, Path(registry_dir) / "current")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_contract_artifact(out_dir: Path, **kw: Any) -> None:
    """The serving artifact in the contract format; stands in for serving.artifact until it lands."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = {
        k: np.ascontiguousarray(v, np.float32) for k, v in kw["params"].items() if k.startswith("query.")
    }
    weights["item_embeddings"] = np.ascontiguousarray(kw["item_embeddings"], np.float32)
    save_file(weights, str(out_dir / "weights.safetensors"))
    items = {
        "item_id": list(kw["item_ids"]),
        "category": list(kw["item_categories"]),
        "popularity": [int(v) for v in kw["item_popularity"]],
    }
    (out_dir / "items.json").write_text(json.dumps(items))
    (out_dir / "users.json").write_text(json.dumps({"user_id": list(kw["user_ids"])}))
    files = {name: _sha256(out_dir / name) for name in ("weights.safetensors", "items.json", "users.json")}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **kw["meta"],
        "model_config": kw["model_config"].to_dict(),
        "features": kw["features"],
        "files": files,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))  # last: marks it complete


def _write_serving(out_dir: Path, **kw: Any) -> None:
    try:
        from serving.artifact import write_serving_artifact
    except ImportError:
        write_serving_artifact = write_contract_artifact
    write_serving_artifact(out_dir, **kw)


def read_serving(serving_dir: Path) -> tuple[spec.ModelConfig, dict[str, np.ndarray], np.ndarray]:
    """(model config, query params, item embeddings) of a serving artifact, checking its sha256s."""
    manifest = json.loads((Path(serving_dir) / "manifest.json").read_text())
    if manifest.get("format") != FORMAT:
        raise RegistryError(f"{serving_dir}: not a {FORMAT} artifact")
    for name, digest in manifest["files"].items():
        if _sha256(Path(serving_dir) / name) != digest:
            raise RegistryError(f"{serving_dir}/{name}: sha256 mismatch")
    weights = load_file(str(Path(serving_dir) / "weights.safetensors"))
    items = weights.pop("item_embeddings")
    return spec.ModelConfig.from_dict(manifest["model_config"]), weights, items


def _probe(cfg: spec.ModelConfig, n: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A few fixed query inputs: users 0.. with random histories (some padded, one empty)."""
    rng = np.random.default_rng(0)
    items = rng.integers(1, max(cfg.n_items, 2), (n, cfg.max_history))
    items[np.arange(cfg.max_history)[None, :] >= rng.integers(0, cfg.max_history + 1, (n, 1))] = 0
    types = np.where(items > 0, rng.integers(1, cfg.n_event_types, items.shape), 0)
    return items, types, np.arange(n) % cfg.n_users


def validate_version(version_dir: Path, backend: str, item_features: np.ndarray) -> float:
    """Load both artifacts back; served numpy scores must match the native model's. Returns max diff."""
    from training.trainer import backend_module

    cfg, params, items = read_serving(Path(version_dir) / "serving")
    try:
        from serving.artifact import load_serving_artifact
    except ImportError:
        load_serving_artifact = None
    if load_serving_artifact is not None:
        load_serving_artifact(version_dir)  # serving's own checks (format, sha256s, shapes)
    hist, types, users = _probe(cfg)
    served = spec.scores(spec.query_embedding(params, cfg, hist, types, users), items, cfg)
    native = backend_module(backend).load_native(Path(version_dir) / "native")
    expected = spec.scores(native.query_vectors(hist, types, users), native.item_vectors(item_features), cfg)
    diff = float(np.max(np.abs(served - expected)))
    if not diff <= SCORE_ATOL * max(1.0, float(np.max(np.abs(expected)))):
        raise RegistryError(f"{version_dir}: served scores differ from the native model's by {diff:g}")
    return diff


def _next_name(root: Path, backend: str) -> str:
    versions = list_versions(root.parent)
    return f"v{int(VERSION_RE.match(versions[-1]).group(1)) + 1 if versions else 1:05d}-{backend}"


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
) -> str:
    """Export `trainer`'s weights as a new version (built under a temp name, validated, renamed into
    place), then move `current` to it. A concurrent publisher that takes the name first makes this
    one retry with the next number."""
    root = settings.registry_dir / "versions"
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    meta = {
        "backend": backend,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "snapshot_id": manifest.get("snapshot_id"),
        "train_config": train_config.to_dict(),
        "metrics": metrics,
    }
    features = {
        k: manifest.get(k) for k in ("max_history", "event_type_codes", "price_boundaries", "event_weights")
    }
    serving = {
        "model_config": model_config,
        "params": trainer.get_params(),
        "item_embeddings": trainer.item_vectors(),
        "item_ids": catalog.item_ids,
        "item_categories": catalog.item_categories,
        "item_popularity": catalog.item_popularity,
        "user_ids": catalog.user_ids,
        "features": features,
    }
    try:
        trainer.export_native(tmp / "native")
        for _ in range(100):
            version = _next_name(root, backend)
            (tmp / "version.json").write_text(
                json.dumps({"version": version, **meta, "model_config": model_config.to_dict()}, indent=2)
            )
            shutil.rmtree(tmp / "serving", ignore_errors=True)
            _write_serving(tmp / "serving", **serving, meta={"version": version, **meta})
            validate_version(tmp, backend, catalog.item_features)
            try:
                tmp.rename(root / version)  # atomic; fails when another publisher took the name
            except OSError:
                if not (root / version).exists():
                    raise
                continue
            set_current(settings.registry_dir, version)
            return version
        raise RegistryError(f"could not claim a version name under {root}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
