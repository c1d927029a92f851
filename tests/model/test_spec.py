"""The numpy model spec's encoders on hand-made histories (the backends are held to it by the parity
tests; these pin what the encoders themselves do)."""

from __future__ import annotations

import numpy as np
import pytest

from model import spec


def _config(encoder: str) -> spec.ModelConfig:
    return spec.ModelConfig(
        n_users=5, n_items=20, max_history=6, embedding_dim=8, query_encoder=encoder, profile_mean=False
    )


def test_attention_reads_order_and_types_pool_with_flat_logits_does_not():
    cfg = _config("attention")
    params = spec.init_params(cfg, seed=1)
    items = np.array([[3, 7, 9, 0, 0, 0], [7, 3, 9, 0, 0, 0]])
    types = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0]])
    encoded = spec.encode_history(params, cfg, items, types)
    assert not np.allclose(encoded[0], encoded[1])  # which item came last matters
    purchase = types.copy()
    purchase[0, 0] = 3
    assert not np.allclose(spec.encode_history(params, cfg, items, purchase)[0], encoded[0])
    pool_cfg = _config("pool")
    pool = spec.init_params(pool_cfg, seed=1)  # zero logits: a plain mean, blind to order
    pooled = spec.encode_history(pool, pool_cfg, items, types)
    np.testing.assert_allclose(pooled[0], pooled[1], atol=1e-7)


def test_attention_ignores_padding_and_handles_an_empty_history():
    cfg = _config("attention")
    params = spec.init_params(cfg, seed=2)
    short = np.array([[4, 5, 0, 0, 0, 0]])
    types = np.array([[2, 1, 0, 0, 0, 0]])
    wide = spec.encode_history(params, cfg, short, types)
    narrow = spec.encode_history(params, cfg, short[:, :2], types[:, :2])
    np.testing.assert_allclose(wide, narrow, atol=1e-6)  # padding columns change nothing
    empty = spec.encode_history(params, cfg, np.zeros((2, 3), int), np.zeros((2, 3), int))
    assert np.all(np.isfinite(empty)) and np.allclose(empty[0], empty[1])
    (_, b1), (_, b2) = spec.A_FFN
    expected = np.maximum(params[b1], 0.0) @ params[spec.A_FFN[1][0]] + params[b2]
    np.testing.assert_allclose(empty[0], expected, atol=1e-6)  # nothing attended, only the biases


def test_each_encoder_has_its_own_parameters_and_a_bad_name_is_refused():
    assert spec.Q_TYPE_LOGIT in spec.param_shapes(_config("pool"))
    attention = spec.param_shapes(_config("attention"))
    assert spec.Q_TYPE_LOGIT not in attention and attention[spec.A_POSITION] == (6, 8)
    with pytest.raises(ValueError, match="query_encoder"):
        _config("transformer-xl")


def test_profile_mean_weighs_every_history_entry_alike_beside_the_recency_pool():
    cfg = spec.ModelConfig(n_users=5, n_items=20, max_history=6, embedding_dim=8, profile_mean=True)
    params = spec.init_params(cfg, seed=3)
    params[spec.Q_POSITION_LOGIT] = np.array([4.0, 0, 0, 0, 0, 0], np.float32)  # the pool leans to the newest
    items = np.array([[3, 7, 9, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    encoded = spec.encode_history(params, cfg, items, np.where(items > 0, 1, 0))
    assert encoded.shape == (2, 16) and spec.param_shapes(cfg)["query.mlp.0.kernel"] == (24, cfg.output_dim)
    table = params[spec.Q_HISTORY]
    np.testing.assert_allclose(encoded[0, 8:], table[[3, 7, 9]].mean(axis=0), atol=1e-6)
    assert not np.allclose(encoded[0, :8], encoded[0, 8:])  # the pool is not the plain mean here
    np.testing.assert_allclose(encoded[1], 0.0)  # an empty history: zeros, not NaN
