"""The registry: publish -> load back round trip, version naming, the atomic `current` pointer, and a
version that fails validation never becomes current."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from infra.config import Settings
from model import spec
from model.artifact import ArtifactError
from model.registry import list_versions, read_current, serving_dir, version_dir, versions_dir, write_current
from tests.training.processed_data import write_processed
from training import publish
from training.batches import load_catalog
from training.config import TrainConfig, model_config_for
from training.prep.dataset import vocab_sizes
from training.train import make_trainer

TINY = {"embedding_dim": 8, "feature_dim": 4, "query_hidden": (8,), "item_hidden": (8,), "output_dim": 8}


def _publish(settings: Settings, backend: str = "pytorch", trainer=None) -> tuple[str, object]:
    manifest = write_processed(settings.processed_dir)
    tcfg = TrainConfig(**TINY)
    mcfg = model_config_for(vocab_sizes(manifest), int(manifest.get("max_history", 50)), tcfg)
    catalog = load_catalog(settings.processed_dir, mcfg.n_items, mcfg.n_users)
    trainer = trainer or make_trainer(
        backend,
        mcfg,
        tcfg,
        item_features=catalog.item_features,
        item_log_q=np.zeros(mcfg.n_items, np.float32),
    )
    version = publish.publish(
        settings,
        backend,
        trainer,
        model_config=mcfg,
        train_config=tcfg,
        catalog=catalog,
        manifest=manifest,
        metrics={"valid_ndcg@10": 0.5},
    )
    return version, trainer


def test_publish_round_trip(settings: Settings):
    assert read_current(settings.registry_dir) is None
    version, trainer = _publish(settings)
    assert version == "v00001-pytorch" == read_current(settings.registry_dir)
    serving = serving_dir(settings.registry_dir, version)
    manifest = json.loads((serving / "manifest.json").read_text())
    assert manifest["format"] == "streamrec-serving" and manifest["version"] == version
    assert manifest["snapshot_id"].startswith("synthetic") and manifest["train_config"]["embedding_dim"] == 8
    cfg, params, items = publish.read_serving(serving)
    assert set(params) == {k for k in spec.param_shapes(cfg) if k.startswith("query.")}
    np.testing.assert_allclose(items, trainer.item_vectors(), atol=1e-6)
    item_json = json.loads((serving / "items.json").read_text())
    assert item_json["item_id"][0] == "" and item_json["item_id"][1] == "i1" and len(items) == cfg.n_items
    assert json.loads((serving / "users.json").read_text())["user_id"][:2] == ["", "u1"]
    native = load_file(str(serving.parent / "native" / "params.safetensors"))
    assert set(native) == set(spec.param_shapes(cfg))
    assert not [p for p in (versions_dir(settings.registry_dir)).iterdir() if p.name.startswith(".")]


def test_versions_count_up_across_backends(settings: Settings):
    first, _ = _publish(settings, "pytorch")
    second, _ = _publish(settings, "tensorflow")
    assert list_versions(settings.registry_dir) == [first, second] == ["v00001-pytorch", "v00002-tensorflow"]
    assert read_current(settings.registry_dir) == second
    write_current(settings.registry_dir, first)
    assert read_current(settings.registry_dir) == first
    with pytest.raises(FileNotFoundError, match="no such model version"):
        write_current(settings.registry_dir, "v00009-pytorch")


def test_a_version_that_fails_validation_never_becomes_current(settings: Settings, monkeypatch):
    first, trainer = _publish(settings)
    honest = trainer.item_vectors
    monkeypatch.setattr(trainer, "item_vectors", lambda: honest() + 1.0)  # serving would disagree with native
    with pytest.raises(publish.RegistryError, match="differ"):
        _publish(settings, trainer=trainer)
    assert read_current(settings.registry_dir) == first
    assert list_versions(settings.registry_dir) == [first]
    assert not [p for p in (versions_dir(settings.registry_dir)).iterdir() if p.name.startswith(".")]


def test_tampered_version_fails_validation(settings: Settings):
    version, _ = _publish(settings)
    path: Path = version_dir(settings.registry_dir, version)
    catalog = load_catalog(settings.processed_dir, 49, 61)
    assert publish.validate_version(path, "pytorch", catalog.item_features) < 1e-4
    (serving_dir(settings.registry_dir, version) / "users.json").write_text('{"user_id": ["", "mallory"]}')
    with pytest.raises(ArtifactError, match="sha256"):
        publish.validate_version(path, "pytorch", catalog.item_features)
