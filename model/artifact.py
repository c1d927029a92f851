"""The framework-neutral serving artifact: write it (trainers) and load it back checked (the API).

    serving/weights.safetensors  every `query.*` parameter + `item_embeddings` [n_items, output_dim]
    serving/items.json           {"item_id", "category", "popularity"} indexed by item_idx (0 = padding)
    serving/users.json           {"user_id"} indexed by user_idx (0 = "")
    serving/manifest.json        format, version, model config, features, sha256 of every file; LAST

No pickles: safetensors and JSON only, so loading an artifact never runs code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from infra.files import atomic_write_text
from model import spec
from model.registry import SERVING, read_current, serving_dir

FORMAT, FORMAT_VERSION = "streamrec-serving", 1
WEIGHTS, ITEMS, USERS, MANIFEST = "weights.safetensors", "items.json", "users.json", "manifest.json"
ITEM_EMBEDDINGS = "item_embeddings"


class ArtifactError(RuntimeError):
    """A serving artifact that is missing, incomplete, corrupt or inconsistent; the message says which."""


@dataclass(frozen=True)
class ServingArtifact:
    """Everything the API needs to answer, loaded and checked."""

    path: Path
    manifest: dict[str, Any]
    model_config: spec.ModelConfig
    params: dict[str, np.ndarray]  # query.* only
    item_embeddings: np.ndarray  # [n_items, output_dim], row 0 padding
    item_ids: list[str]
    item_categories: list[str | None]
    item_popularity: np.ndarray  # int64 [n_items]
    user_ids: list[str]

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", ""))

    @property
    def backend(self) -> str:
        return str(self.manifest.get("backend", ""))

    @property
    def features(self) -> dict[str, Any]:
        return dict(self.manifest.get("features") or {})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, data: Any, **dump_kw: Any) -> None:
    atomic_write_text(path, json.dumps(data, **(dump_kw or {"separators": (",", ":")})))


def write_serving_artifact(
    out_dir: Path,
    *,
    model_config: spec.ModelConfig,
    params: dict[str, np.ndarray],
    item_embeddings: np.ndarray,
    item_ids: Sequence[str],
    item_categories: Sequence[str | None],
    item_popularity: Sequence[int],
    user_ids: Sequence[str],
    features: dict[str, Any],
    meta: dict[str, Any],
) -> Path:
    """Write the artifact into out_dir (manifest.json last, so its presence marks completeness)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = {k: np.ascontiguousarray(v, np.float32) for k, v in params.items() if k.startswith("query.")}
    weights[ITEM_EMBEDDINGS] = np.ascontiguousarray(item_embeddings, np.float32)
    save_file(weights, str(out_dir / WEIGHTS))
    items = {
        "item_id": [str(i) if i is not None else "" for i in item_ids],
        "category": [None if c is None else str(c) for c in item_categories],
        "popularity": [int(p) for p in item_popularity],
    }
    _write_json(out_dir / ITEMS, items)
    _write_json(out_dir / USERS, {"user_id": [str(u) if u is not None else "" for u in user_ids]})
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": meta.get("version"),
        "backend": meta.get("backend"),
        "created_at": meta.get("created_at"),
        "snapshot_id": meta.get("snapshot_id"),
        "model_config": model_config.to_dict(),
        "train_config": meta.get("train_config"),
        "metrics": meta.get("metrics"),
        "features": features,
        "files": {name: _sha256(out_dir / name) for name in (WEIGHTS, ITEMS, USERS)},
    }
    manifest.update({k: v for k, v in meta.items() if k not in manifest})
    _write_json(out_dir / MANIFEST, manifest, indent=2, default=str)
    return out_dir


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{root}: no {MANIFEST} (incomplete or not a serving artifact)")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{path}: format is not {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{path}: format_version {manifest.get('format_version')!r} != {FORMAT_VERSION}")
    files = manifest.get("files")
    if not isinstance(files, dict) or not {WEIGHTS, ITEMS, USERS} <= set(files):
        raise ArtifactError(f"{path}: 'files' must list {WEIGHTS}, {ITEMS}, {USERS} with sha256s")
    for name, digest in files.items():
        if not (root / name).is_file():
            raise ArtifactError(f"{root / name}: missing")
        if _sha256(root / name) != digest:
            raise ArtifactError(f"{root / name}: sha256 mismatch (corrupt or modified)")
    return manifest


def _check_weights(cfg: spec.ModelConfig, weights: dict[str, np.ndarray], root: Path) -> None:
    expected = {k: v for k, v in spec.param_shapes(cfg).items() if k.startswith("query.")}
    expected[ITEM_EMBEDDINGS] = (cfg.n_items, cfg.output_dim)
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise ArtifactError(f"{root / WEIGHTS}: missing tensors {missing}")
    for name, shape in expected.items():
        if tuple(weights[name].shape) != tuple(shape):
            raise ArtifactError(f"{root / WEIGHTS}: {name} has shape {weights[name].shape}, expected {shape}")
        if not np.all(np.isfinite(weights[name])):
            raise ArtifactError(f"{root / WEIGHTS}: {name} has non-finite values")


def _load_json(path: Path, keys: Sequence[str], length: int) -> dict[str, list]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: unreadable ({exc})") from exc
    for key in keys:
        if not isinstance(data.get(key), list) or len(data[key]) != length:
            raise ArtifactError(f"{path}: {key!r} must be a list of {length} entries")
    return data


def load_serving_artifact(version_dir: Path) -> ServingArtifact:
    """Load `version_dir/serving` (or a serving dir itself), checking format, sha256s, shapes and
    finite values. Raises ArtifactError with the reason; never returns a half-valid artifact."""
    root = Path(version_dir)
    if (root / SERVING).is_dir():
        root = root / SERVING
    manifest = _read_manifest(root)
    try:
        cfg = spec.ModelConfig.from_dict(manifest["model_config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{root / MANIFEST}: bad model_config ({exc})") from exc
    try:
        weights = load_file(str(root / WEIGHTS))
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ArtifactError(f"{root / WEIGHTS}: unreadable ({exc})") from exc
    _check_weights(cfg, weights, root)
    items = _load_json(root / ITEMS, ("item_id", "category", "popularity"), cfg.n_items)
    users = _load_json(root / USERS, ("user_id",), cfg.n_users)
    embeddings = np.ascontiguousarray(weights.pop(ITEM_EMBEDDINGS), np.float32)
    return ServingArtifact(
        path=root,
        manifest=manifest,
        model_config=cfg,
        params={k: v for k, v in weights.items() if k.startswith("query.")},
        item_embeddings=embeddings,
        item_ids=[str(i) for i in items["item_id"]],
        item_categories=list(items["category"]),
        item_popularity=np.asarray(items["popularity"], dtype=np.int64),
        user_ids=[str(u) for u in users["user_id"]],
    )


def current_manifest(registry_dir: Path) -> tuple[str | None, dict[str, Any] | None]:
    """(current version, its serving manifest) without loading or checking the weights; the manifest
    is None when no version is current or its manifest cannot be read."""
    version = read_current(registry_dir)
    if version is None:
        return None, None
    try:
        return version, json.loads((serving_dir(registry_dir, version) / MANIFEST).read_text())
    except (OSError, ValueError):
        return version, None
