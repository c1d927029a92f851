"""The serving artifact round-trips and every kind of damage is refused with ArtifactError."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from model import spec
from model.artifact import ArtifactError, load_serving_artifact
from tests.fixtures.synthetic import synthetic_config, write_synthetic_artifact


@pytest.fixture
def artifact_dir(tmp_path: Path) -> Path:
    return write_synthetic_artifact(
        tmp_path / "v00001-numpy" / "serving", synthetic_config(), version="v00001-numpy"
    )


def test_round_trip(artifact_dir: Path) -> None:
    art = load_serving_artifact(artifact_dir.parent)
    cfg = synthetic_config()
    assert art.version == "v00001-numpy" and art.backend == "numpy"
    assert art.model_config == cfg
    assert art.item_embeddings.shape == (cfg.n_items, cfg.output_dim)
    assert set(art.params) == {k for k in spec.param_shapes(cfg) if k.startswith("query.")}
    assert art.item_ids[0] == "" and art.item_ids[1] == "i1" and len(art.user_ids) == cfg.n_users
    assert art.features["max_history"] == cfg.max_history
    expected = spec.init_params(cfg)[spec.Q_USER]
    np.testing.assert_array_equal(art.params[spec.Q_USER], expected)


def _rewrite_manifest(root: Path, **changes) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    manifest.update(changes)
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_missing_manifest_is_incomplete(artifact_dir: Path) -> None:
    (artifact_dir / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="incomplete"):
        load_serving_artifact(artifact_dir)


def test_corrupt_file_fails_sha(artifact_dir: Path) -> None:
    with (artifact_dir / "items.json").open("a") as fh:
        fh.write(" ")
    with pytest.raises(ArtifactError, match="sha256"):
        load_serving_artifact(artifact_dir)


def test_wrong_format(artifact_dir: Path) -> None:
    _rewrite_manifest(artifact_dir, format="other")
    with pytest.raises(ArtifactError, match="format"):
        load_serving_artifact(artifact_dir)


def _replace_weights(root: Path, mutate) -> None:
    import hashlib

    weights = load_file(str(root / "weights.safetensors"))
    mutate(weights)
    save_file(weights, str(root / "weights.safetensors"))
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"]["weights.safetensors"] = hashlib.sha256(
        (root / "weights.safetensors").read_bytes()
    ).hexdigest()
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_wrong_shape(artifact_dir: Path) -> None:
    _replace_weights(artifact_dir, lambda w: w.update(item_embeddings=w["item_embeddings"][:-1]))
    with pytest.raises(ArtifactError, match="shape"):
        load_serving_artifact(artifact_dir)


def test_non_finite(artifact_dir: Path) -> None:
    def poison(w):
        w[spec.Q_USER][1, 0] = np.nan

    _replace_weights(artifact_dir, poison)
    with pytest.raises(ArtifactError, match="non-finite"):
        load_serving_artifact(artifact_dir)


def test_missing_tensor(artifact_dir: Path) -> None:
    _replace_weights(artifact_dir, lambda w: w.pop(spec.Q_TYPE_LOGIT))
    with pytest.raises(ArtifactError, match="missing tensors"):
        load_serving_artifact(artifact_dir)
