"""The two-tower model, defined once: its configuration, parameter names, initial values and a numpy
reference forward pass.

Both trainers (TensorFlow, PyTorch) build exactly this network, start from `init_params` and export
their weights under these names; serving runs `query_embedding` in numpy, so the API never imports a
deep-learning framework. Parity tests compare each backend against this module.

Query tower: the user's recent items (newest first, 0 = padding) are embedded and encoded into one
vector by one of two encoders (`query_encoder`):
- "pool": a masked softmax over learned per-event-type and per-position logits (an attention whose
  scores depend on what kind of interaction and how recent it was);
- "attention": one self-attention block in the spirit of SASRec: item + position + event-type
  embeddings; the newest entry asks (query) every entry of the history (keys, values), so what counts
  depends on what the user did last; a residual and a ReLU feed-forward layer with a residual.
  Reading out only the newest position is causal self-attention's last output: every entry it sees
  came before the target.
With `profile_mean`, the plain mean of the same history embeddings (every entry weighted alike: the
user's longer-term taste, where the encoder leans to what came last) is concatenated to the encoded
vector. Then a user-id embedding (row 0 = unknown user) is concatenated, and all pass through an MLP.
Item tower: item-id embedding concatenated with category, brand and price-bucket embeddings, then an MLP.
Score: dot product divided by the temperature (after L2 normalisation when `l2_normalize`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ITEM_FEATURES = ("category", "brand", "price_bucket")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture. Vocabulary sizes count row 0 (padding / unknown)."""

    n_users: int
    n_items: int
    n_categories: int = 1
    n_brands: int = 1
    n_price_buckets: int = 1
    n_event_types: int = 5  # 0 = padding, then view, add_to_cart, purchase, rating
    max_history: int = 50
    # Defaults chosen by the product-path quality benchmark (tests/bench/bench_quality.py).
    embedding_dim: int = 128
    feature_dim: int = 16
    query_hidden: tuple[int, ...] = ()
    item_hidden: tuple[int, ...] = (128,)
    output_dim: int = 128
    temperature: float = 0.1
    l2_normalize: bool = True
    query_encoder: str = "pool"  # pool | attention (see the module docstring)
    profile_mean: bool = True  # add the unweighted mean of the history to the query (docstring)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.query_encoder not in ("pool", "attention"):
            raise ValueError(f"query_encoder must be pool or attention, not {self.query_encoder!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("query_hidden", "item_hidden"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @property
    def query_layer_dims(self) -> list[tuple[int, int]]:
        """(in, out) of each query-MLP layer; the input is [encoded history, (history mean,) user
        embedding]."""
        dims = [(3 if self.profile_mean else 2) * self.embedding_dim, *self.query_hidden, self.output_dim]
        return list(zip(dims[:-1], dims[1:], strict=True))

    @property
    def item_layer_dims(self) -> list[tuple[int, int]]:
        dims = [
            self.embedding_dim + len(ITEM_FEATURES) * self.feature_dim,
            *self.item_hidden,
            self.output_dim,
        ]
        return list(zip(dims[:-1], dims[1:], strict=True))


# The sizes a user chooses (the `[train]` table sets them; training.config.TrainConfig takes its
# defaults from here). The rest of ModelConfig comes from the data: vocabulary sizes, max_history.
SIZE_KEYS = (
    "embedding_dim",
    "feature_dim",
    "query_hidden",
    "item_hidden",
    "output_dim",
    "temperature",
    "l2_normalize",
    "query_encoder",
    "profile_mean",
)
SIZE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ModelConfig) if f.name in SIZE_KEYS}


# Parameter names: the keys of every exported weight file. Kernels are [in, out] (x @ kernel + bias).
Q_HISTORY = "query.history_embedding"
Q_USER = "query.user_embedding"
Q_TYPE_LOGIT = "query.type_logit"
Q_POSITION_LOGIT = "query.position_logit"
# The attention encoder's own parameters (instead of the two pooling logits).
A_POSITION = "query.attention.position_embedding"
A_TYPE = "query.attention.type_embedding"
A_QUERY, A_KEY, A_VALUE = (f"query.attention.{n}.kernel" for n in ("query", "key", "value"))
A_FFN = [(f"query.attention.ffn.{i}.kernel", f"query.attention.ffn.{i}.bias") for i in range(2)]
I_ID = "item.id_embedding"
I_FEATURE = {name: f"item.{name}_embedding" for name in ITEM_FEATURES}
# The id tables, which grow with users and catalog: with lazy updates (TrainConfig.embedding_updates)
# Adam steps only the rows a batch looks up, in both backends.
ROW_SPARSE = (Q_HISTORY, Q_USER, I_ID)


def mlp_names(tower: str, n_layers: int) -> list[tuple[str, str]]:
    return [(f"{tower}.mlp.{i}.kernel", f"{tower}.mlp.{i}.bias") for i in range(n_layers)]


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter of the model with its shape, in a fixed order."""
    d = cfg.embedding_dim
    shapes: dict[str, tuple[int, ...]] = {Q_HISTORY: (cfg.n_items, d), Q_USER: (cfg.n_users, d)}
    if cfg.query_encoder == "attention":
        shapes.update({A_POSITION: (cfg.max_history, d), A_TYPE: (cfg.n_event_types, d)})
        shapes.update({name: (d, d) for name in (A_QUERY, A_KEY, A_VALUE)})
        for k, b in A_FFN:
            shapes[k], shapes[b] = (d, d), (d,)
    else:
        shapes.update({Q_TYPE_LOGIT: (cfg.n_event_types,), Q_POSITION_LOGIT: (cfg.max_history,)})
    for (k, b), (i, o) in zip(
        mlp_names("query", len(cfg.query_layer_dims)), cfg.query_layer_dims, strict=True
    ):
        shapes[k], shapes[b] = (i, o), (o,)
    shapes[I_ID] = (cfg.n_items, cfg.embedding_dim)
    sizes = {"category": cfg.n_categories, "brand": cfg.n_brands, "price_bucket": cfg.n_price_buckets}
    for name in ITEM_FEATURES:
        shapes[I_FEATURE[name]] = (sizes[name], cfg.feature_dim)
    for (k, b), (i, o) in zip(mlp_names("item", len(cfg.item_layer_dims)), cfg.item_layer_dims, strict=True):
        shapes[k], shapes[b] = (i, o), (o,)
    return shapes


def init_params(cfg: ModelConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Initial weights shared by both backends: embeddings N(0, 0.05), kernels Glorot-uniform,
    biases and pooling logits zero. Row 0 of id tables (padding) starts at zero."""
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith(".bias") or name in (Q_TYPE_LOGIT, Q_POSITION_LOGIT):
            value = np.zeros(shape)
        elif name.endswith(".kernel"):
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            value = rng.uniform(-limit, limit, size=shape)
        else:
            value = rng.normal(0.0, 0.05, size=shape)
            if name in (Q_HISTORY, I_ID):
                value[0] = 0.0
        params[name] = value.astype(np.float32)
    return params


def _mlp(x: np.ndarray, params: dict[str, np.ndarray], tower: str, n_layers: int) -> np.ndarray:
    for i, (k, b) in enumerate(mlp_names(tower, n_layers)):
        x = x @ params[k] + params[b]
        if i < n_layers - 1:
            x = np.maximum(x, 0.0)
    return x


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def pool_history(params: dict[str, np.ndarray], hist_items: np.ndarray, hist_types: np.ndarray) -> np.ndarray:
    """Masked softmax pooling of history embeddings. hist_* are [B, L] ints, newest first, 0 = pad."""
    length = hist_items.shape[1]
    logits = params[Q_TYPE_LOGIT][hist_types] + params[Q_POSITION_LOGIT][None, :length]
    weights = _masked_softmax(logits, hist_items > 0)
    return np.einsum("bl,bld->bd", weights, params[Q_HISTORY][hist_items])


def _masked_softmax(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Softmax over the True entries of each row; a row with none gets all-zero weights."""
    logits = np.where(mask, logits, -np.inf)
    top = np.max(logits, axis=1, keepdims=True)
    weights = np.where(mask, np.exp(logits - np.where(np.isfinite(top), top, 0.0)), 0.0)
    return weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)


def attend_history(
    params: dict[str, np.ndarray], hist_items: np.ndarray, hist_types: np.ndarray
) -> np.ndarray:
    """The attention encoder: the newest entry (column 0) attends over the whole history."""
    length = hist_items.shape[1]
    mask = hist_items > 0
    x = params[Q_HISTORY][hist_items] + params[A_POSITION][None, :length] + params[A_TYPE][hist_types]
    query = x[:, 0] @ params[A_QUERY]  # [B, d]
    keys, values = x @ params[A_KEY], x @ params[A_VALUE]  # [B, L, d]
    logits = np.einsum("bld,bd->bl", keys, query) / np.sqrt(x.shape[-1])
    attended = np.einsum("bl,bld->bd", _masked_softmax(logits, mask), values)
    h = x[:, 0] * mask[:, :1] + attended  # an empty history has no newest entry
    (k1, b1), (k2, b2) = A_FFN
    return h + np.maximum(h @ params[k1] + params[b1], 0.0) @ params[k2] + params[b2]


def mean_history(params: dict[str, np.ndarray], hist_items: np.ndarray) -> np.ndarray:
    """The unweighted mean of the history's embeddings (zeros for an empty history)."""
    mask = (hist_items > 0).astype(np.float32)
    total = np.einsum("bl,bld->bd", mask, params[Q_HISTORY][hist_items])
    return total / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)


def encode_history(
    params: dict[str, np.ndarray], cfg: ModelConfig, hist_items: np.ndarray, hist_types: np.ndarray
) -> np.ndarray:
    """[B, L] histories -> [B, embedding_dim] by the configured encoder ([B, 2 x embedding_dim]
    with the history mean after it when cfg.profile_mean)."""
    if cfg.query_encoder == "attention":
        encoded = attend_history(params, hist_items, hist_types)
    else:
        encoded = pool_history(params, hist_items, hist_types)
    if cfg.profile_mean:
        encoded = np.concatenate([encoded, mean_history(params, hist_items)], axis=1)
    return encoded


def query_embedding(
    params: dict[str, np.ndarray],
    cfg: ModelConfig,
    hist_items: np.ndarray,
    hist_types: np.ndarray,
    user_idx: np.ndarray,
) -> np.ndarray:
    """Query vectors [B, output_dim] for histories [B, L] (L <= max_history) and user ids [B]."""
    encoded = encode_history(params, cfg, hist_items, hist_types)
    x = np.concatenate([encoded, params[Q_USER][user_idx]], axis=1)
    x = _mlp(x, params, "query", len(cfg.query_layer_dims))
    return _normalize(x) if cfg.l2_normalize else x


def item_embedding(params: dict[str, np.ndarray], cfg: ModelConfig, item_features: np.ndarray) -> np.ndarray:
    """Item vectors [n_items, output_dim]. item_features is [n_items, 3]: category, brand, price bucket."""
    ids = np.arange(item_features.shape[0])
    parts = [params[I_ID][ids]] + [
        params[I_FEATURE[n]][item_features[:, j]] for j, n in enumerate(ITEM_FEATURES)
    ]
    x = _mlp(np.concatenate(parts, axis=1), params, "item", len(cfg.item_layer_dims))
    return _normalize(x) if cfg.l2_normalize else x


def scores(query: np.ndarray, items: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """Logits [B, n_items]: dot product over the temperature."""
    return (query @ items.T) / cfg.temperature
