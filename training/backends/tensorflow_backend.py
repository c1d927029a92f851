"""The model of model/spec.py in TensorFlow: two towers, the losses, one Adam step, export.

Adam is torch.optim.Adam's update (epsilon outside the bias-corrected square root, coupled L2) run
through TF's fused Adam kernel, not Keras' Adam, which places epsilon differently; that keeps both
backends step-for-step equal.
Native export: one SavedModel with `query` and `items` signatures, plus all weights as safetensors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from safetensors.numpy import save_file

from model import spec
from training.batches import Batch

NATIVE_FILES = ("saved_model", "params.safetensors")
_INT = tf.int64


def configure_threads(n: int) -> None:
    """TF reads its thread pools once, before the first op; later calls are ignored."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))
    except RuntimeError:
        pass


def _mlp(x: tf.Tensor, layers: list[tuple[tf.Variable, tf.Variable]]) -> tf.Tensor:
    for i, (kernel, bias) in enumerate(layers):
        x = tf.matmul(x, kernel) + bias
        if i < len(layers) - 1:
            x = tf.nn.relu(x)
    return x


def _masked_softmax(logits: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Softmax over the True entries of each row; a row with none gets all-zero weights."""
    weights = tf.nn.softmax(tf.where(mask, logits, -1e9), axis=1) * tf.cast(mask, tf.float32)
    return weights / tf.maximum(tf.reduce_sum(weights, axis=1, keepdims=True), 1e-12)


def _normalize(x: tf.Tensor) -> tf.Tensor:
    return x / tf.maximum(tf.norm(x, axis=-1, keepdims=True), 1e-12)


class Towers(tf.Module):
    """Both towers over variables named as in model.spec; `query` and `items` are the signatures."""

    def __init__(self, cfg: spec.ModelConfig, params: dict[str, np.ndarray]) -> None:
        super().__init__(name="two_tower")
        self.l2_normalize = cfg.l2_normalize
        self.attention = cfg.query_encoder == "attention"
        self.profile_mean = cfg.profile_mean
        self.params = {k: tf.Variable(v, name=k.replace(".", "_")) for k, v in params.items()}
        self.query_layers = spec.mlp_names("query", len(cfg.query_layer_dims))
        self.item_layers = spec.mlp_names("item", len(cfg.item_layer_dims))

    def pool_history(self, history: tf.Tensor, hist_items: tf.Tensor, hist_types: tf.Tensor) -> tf.Tensor:
        p = self.params
        positions = p[spec.Q_POSITION_LOGIT][: tf.shape(hist_items)[1]]
        logits = tf.gather(p[spec.Q_TYPE_LOGIT], hist_types) + positions[None, :]
        weights = _masked_softmax(logits, hist_items > 0)
        return tf.reduce_sum(weights[:, :, None] * history, axis=1)

    def attend_history(self, history: tf.Tensor, hist_items: tf.Tensor, hist_types: tf.Tensor) -> tf.Tensor:
        """model.spec.attend_history: the newest entry attends over the whole history."""
        p = self.params
        mask = hist_items > 0
        x = history + p[spec.A_POSITION][: tf.shape(hist_items)[1]][None]
        x = x + tf.gather(p[spec.A_TYPE], hist_types)
        query = tf.matmul(x[:, 0], p[spec.A_QUERY])
        keys = tf.einsum("bld,de->ble", x, p[spec.A_KEY])
        values = tf.einsum("bld,de->ble", x, p[spec.A_VALUE])
        logits = tf.einsum("bld,bd->bl", keys, query) / float(np.sqrt(x.shape[-1]))
        attended = tf.einsum("bl,bld->bd", _masked_softmax(logits, mask), values)
        h = x[:, 0] * tf.cast(mask[:, :1], tf.float32) + attended
        (k1, b1), (k2, b2) = spec.A_FFN
        return h + tf.matmul(tf.nn.relu(tf.matmul(h, p[k1]) + p[b1]), p[k2]) + p[b2]

    def query_tower(self, hist_items: tf.Tensor, hist_types: tf.Tensor, user_idx: tf.Tensor) -> tf.Tensor:
        p = self.params
        encode = self.attend_history if self.attention else self.pool_history
        history = tf.gather(p[spec.Q_HISTORY], hist_items)
        parts = [encode(history, hist_items, hist_types)]
        if self.profile_mean:
            mask = tf.cast(hist_items > 0, tf.float32)[:, :, None]
            parts.append(tf.reduce_sum(mask * history, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0))
        x = tf.concat([*parts, tf.gather(p[spec.Q_USER], user_idx)], axis=1)
        x = _mlp(x, [(p[k], p[b]) for k, b in self.query_layers])
        return _normalize(x) if self.l2_normalize else x

    def item_tower(self, item_idx: tf.Tensor, item_features: tf.Tensor) -> tf.Tensor:
        p = self.params
        parts = [tf.gather(p[spec.I_ID], item_idx)]
        parts += [
            tf.gather(p[spec.I_FEATURE[n]], item_features[:, j]) for j, n in enumerate(spec.ITEM_FEATURES)
        ]
        x = _mlp(tf.concat(parts, axis=1), [(p[k], p[b]) for k, b in self.item_layers])
        return _normalize(x) if self.l2_normalize else x

    @tf.function(input_signature=[tf.TensorSpec([None, None], _INT)] * 2 + [tf.TensorSpec([None], _INT)])
    def query(self, hist_items: tf.Tensor, hist_types: tf.Tensor, user_idx: tf.Tensor) -> tf.Tensor:
        return self.query_tower(hist_items, hist_types, user_idx)

    @tf.function(input_signature=[tf.TensorSpec([None], _INT), tf.TensorSpec([None, 3], _INT)])
    def items(self, item_idx: tf.Tensor, item_features: tf.Tensor) -> tf.Tensor:
        return self.item_tower(item_idx, item_features)


def _weighted_mean(losses: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(losses * weight) / tf.maximum(tf.reduce_sum(weight), 1e-12)


def full_softmax_loss(query, items, target, weight, temperature: float) -> tf.Tensor:
    """Softmax over the whole catalog; item 0 (padding) is never a candidate."""
    logits = tf.matmul(query, items, transpose_b=True) / temperature
    pad = tf.one_hot(0, tf.shape(items)[0], on_value=-1e9, off_value=0.0)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=logits + pad[None, :])
    return _weighted_mean(losses, weight)


def sampled_softmax_loss(query, item_vecs, target, log_q, weight, temperature: float) -> tf.Tensor:
    """In-batch softmax with -log Q(item) correction; a repeated item is not its own negative."""
    logits = tf.matmul(query, item_vecs, transpose_b=True) / temperature - tf.gather(log_q, target)[None, :]
    n = tf.shape(target)[0]
    same = tf.logical_and(
        tf.equal(target[:, None], target[None, :]), tf.logical_not(tf.eye(n, dtype=tf.bool))
    )
    logits = tf.where(same, -1e9, logits)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.range(n, dtype=_INT), logits=logits)
    return _weighted_mean(losses, weight)


class Trainer:
    """training.backends.base.BackendTrainer for TensorFlow."""

    def __init__(self, model_config, train_config, params, item_features, item_log_q) -> None:
        configure_threads(train_config.threads or os.cpu_count() or 1)
        self.cfg, self.tcfg = model_config, train_config
        self.towers = Towers(model_config, params)
        self.features = tf.constant(np.asarray(item_features, np.int64))
        self.all_items = tf.range(tf.shape(self.features)[0], dtype=_INT)
        self.log_q = tf.constant(np.asarray(item_log_q, np.float32))
        self.full = train_config.use_full_softmax(model_config.n_items)
        self.names = list(spec.param_shapes(model_config))
        self.sparse = set(spec.ROW_SPARSE) if train_config.embedding_updates == "lazy" else set()
        tc = train_config
        self.adam = (tc.adam_beta1, tc.adam_beta2, tc.adam_epsilon, tc.weight_decay)
        self.variables = [self.towers.params[k] for k in self.names]
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.t = tf.Variable(0.0, trainable=False)
        self._step = tf.function(self._train_step, reduce_retracing=True, jit_compile=train_config.xla)

    def loss(self, hist_items, hist_types, user_idx, target, weight) -> tf.Tensor:
        query = self.towers.query_tower(hist_items, hist_types, user_idx)
        if self.full:
            items = self.towers.item_tower(self.all_items, self.features)
            return full_softmax_loss(query, items, target, weight, self.cfg.temperature)
        items = self.towers.item_tower(target, tf.gather(self.features, target))
        return sampled_softmax_loss(query, items, target, self.log_q, weight, self.cfg.temperature)

    def _train_step(self, hist_items, hist_types, user_idx, target, weight, lr) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = self.loss(hist_items, hist_types, user_idx, target, weight)
        grads = tape.gradient(loss, self.variables)
        self._adam(grads, lr)
        return loss

    def _adam(self, grads: list[Any], lr: tf.Tensor) -> None:
        """torch.optim.Adam's update through TF's fused kernel: ResourceApplyAdam puts epsilon outside
        the uncorrected sqrt(v); scaling it by sqrt(1 - beta2^t) gives torch's placement exactly.
        With lazy updates the id tables take `lazy_adam` instead (the rows a batch looked up)."""
        b1, b2, eps, wd = self.adam
        t = self.t.assign_add(1.0)
        b1_power, b2_power = tf.pow(b1, t), tf.pow(b2, t)
        epsilon = eps * tf.sqrt(1.0 - b2_power)
        for name, var, grad, m, v in zip(self.names, self.variables, grads, self.m, self.v, strict=True):
            if name in self.sparse:
                self.lazy_adam(var, grad, m, v, lr, b1_power, b2_power)
                continue
            g = tf.convert_to_tensor(grad)
            if wd:
                g = g + wd * var
            tf.raw_ops.ResourceApplyAdam(
                var=var.handle,
                m=m.handle,
                v=v.handle,
                beta1_power=b1_power,
                beta2_power=b2_power,
                lr=lr,
                beta1=tf.constant(b1, tf.float32),
                beta2=tf.constant(b2, tf.float32),
                epsilon=epsilon,
                grad=g,
            )

    def lazy_adam(self, var, grad: tf.IndexedSlices, m, v, lr, b1_power, b2_power) -> None:
        """The PyTorch backend's `lazy_adam`: torch's Adam on the looked-up rows only. Written
        without tf.unique (which XLA cannot compile): lookups are sorted, each gets its row's summed
        gradient, and repeated rows write the same values."""
        b1, b2, eps, wd = self.adam
        order = tf.argsort(grad.indices, stable=True)  # a fixed order to sum repeated rows in
        rows = tf.gather(grad.indices, order)
        first = tf.concat([[True], rows[1:] != rows[:-1]], axis=0)
        segment = tf.cumsum(tf.cast(first, tf.int32)) - 1
        summed = tf.math.unsorted_segment_sum(tf.gather(grad.values, order), segment, tf.size(rows))
        g = tf.gather(summed, segment)
        p = tf.gather(var, rows)
        if wd:
            g = g + wd * p
        m_rows = b1 * tf.gather(m, rows) + (1.0 - b1) * g
        v_rows = b2 * tf.gather(v, rows) + (1.0 - b2) * tf.square(g)
        denom = tf.sqrt(v_rows) / tf.sqrt(1.0 - b2_power) + eps
        at = rows[:, None]
        m.scatter_nd_update(at, m_rows)
        v.scatter_nd_update(at, v_rows)
        var.scatter_nd_update(at, p - (lr / (1.0 - b1_power)) * (m_rows / denom))

    def train_step(self, batch: Batch, learning_rate: float) -> float:
        loss = self._step(
            tf.constant(batch.hist_items),
            tf.constant(batch.hist_types),
            tf.constant(batch.user_idx),
            tf.constant(batch.item_idx),
            tf.constant(batch.weight),
            tf.constant(learning_rate, tf.float32),
        )
        return float(loss.numpy())

    def query_vectors(
        self, hist_items: np.ndarray, hist_types: np.ndarray, user_idx: np.ndarray
    ) -> np.ndarray:
        args = (tf.constant(np.asarray(a, np.int64)) for a in (hist_items, hist_types, user_idx))
        return self.towers.query(*args).numpy()

    def item_vectors(self) -> np.ndarray:
        return self.towers.items(self.all_items, self.features).numpy()

    def get_params(self) -> dict[str, np.ndarray]:
        return {k: self.towers.params[k].numpy().copy() for k in self.names}

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        for name in self.names:
            self.towers.params[name].assign(np.asarray(params[name], np.float32))

    def export_native(self, out_dir: Path) -> None:
        """A SavedModel of both towers (signatures `query` and `items`) + safetensors of all weights."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        signatures = {"query": self.towers.query, "items": self.towers.items}
        tf.saved_model.save(self.towers, str(out_dir / NATIVE_FILES[0]), signatures=signatures)
        save_file(self.get_params(), str(out_dir / NATIVE_FILES[1]))


class NativeModel:
    """The SavedModel loaded back; calls its serving signatures."""

    def __init__(self, native_dir: Path) -> None:
        self.model = tf.saved_model.load(str(Path(native_dir) / NATIVE_FILES[0]))

    def query_vectors(
        self, hist_items: np.ndarray, hist_types: np.ndarray, user_idx: np.ndarray
    ) -> np.ndarray:
        args = (tf.constant(np.asarray(a, np.int64)) for a in (hist_items, hist_types, user_idx))
        return self.model.query(*args).numpy()

    def item_vectors(self, item_features: np.ndarray) -> np.ndarray:
        features = tf.constant(np.asarray(item_features, np.int64))
        return self.model.items(tf.range(tf.shape(features)[0], dtype=_INT), features).numpy()


def load_native(native_dir: Path) -> Any:
    return NativeModel(native_dir)
