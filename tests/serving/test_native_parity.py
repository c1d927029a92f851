"""What serving computes (numpy, from the framework-neutral artifact) equals each native exported
model's scores within 1e-4, for both backends, after real training."""

from __future__ import annotations

import numpy as np
import pytest

from infra.config import Settings
from model import spec
from model.registry import NATIVE, serving_dir, version_dir
from tests.training.processed_data import write_processed
from training.backends import backend_module
from training.batches import load_catalog, load_examples
from training.publish import read_serving
from training.train import train

TINY = {"embedding_dim": 8, "feature_dim": 4, "query_hidden": (16,), "item_hidden": (16,), "output_dim": 8}


@pytest.mark.parametrize("encoder", ["pool", "attention"])
@pytest.mark.parametrize("backend", ["pytorch", "tensorflow"])
def test_served_scores_equal_native_scores(settings: Settings, backend: str, encoder: str):
    write_processed(settings.processed_dir)
    result = train(settings, backend, epochs=2, batch_size=32, query_encoder=encoder, **TINY)
    assert (
        result.version
        and read_serving(serving_dir(settings.registry_dir, result.version))[0].query_encoder == encoder
    )
    cfg, params, items = read_serving(serving_dir(settings.registry_dir, result.version))
    rows = load_examples(settings.processed_dir, "valid", cfg.max_history)
    served = spec.scores(
        spec.query_embedding(params, cfg, rows.hist_items, rows.hist_types, rows.user_idx), items, cfg
    )
    native = backend_module(backend).load_native(version_dir(settings.registry_dir, result.version) / NATIVE)
    catalog = load_catalog(settings.processed_dir, cfg.n_items, cfg.n_users)
    native_items = native.item_vectors(catalog.item_features)
    expected = spec.scores(
        native.query_vectors(rows.hist_items, rows.hist_types, rows.user_idx), native_items, cfg
    )
    np.testing.assert_allclose(served, expected, atol=1e-4)
    short = native.query_vectors(
        rows.hist_items[:, :3], rows.hist_types[:, :3], np.zeros(len(rows), np.int64)
    )
    np.testing.assert_allclose(
        spec.query_embedding(
            params, cfg, rows.hist_items[:, :3], rows.hist_types[:, :3], np.zeros(len(rows), int)
        ),
        short,
        atol=1e-5,
    )
