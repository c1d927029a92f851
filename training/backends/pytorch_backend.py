"""The model of model/spec.py in PyTorch: two towers, the losses, one Adam step, export.

Towers know nothing about the loss; the loss knows nothing about the loop (training/trainer.py).
Native export: torch.export programs of both towers (.pt2) plus all weights as safetensors.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from model import spec
from training.batches import Batch

NATIVE_FILES = ("query_tower.pt2", "item_tower.pt2", "params.safetensors")


def _mlp(x: torch.Tensor, layers: list[tuple[nn.Parameter, nn.Parameter]]) -> torch.Tensor:
    for i, (kernel, bias) in enumerate(layers):
        x = x @ kernel + bias
        if i < len(layers) - 1:
            x = torch.relu(x)
    return x


def _masked_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the True entries of each row; a row with none gets all-zero weights."""
    weights = torch.softmax(logits.masked_fill(~mask, -1e9), dim=1) * mask
    return weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-12)


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(1e-12)


class _Tower(nn.Module):
    """Holds parameters under their model.spec names (torch forbids dots, so they map to `__`)."""

    def __init__(self, params: dict[str, np.ndarray], prefix: str) -> None:
        super().__init__()
        self.sparse_grads = False  # lazy updates: id-table lookups go through `looked_up` rows
        self.looked_up: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.named = nn.ParameterDict(
            {
                k.replace(".", "__"): nn.Parameter(torch.from_numpy(v.copy()))
                for k, v in params.items()
                if k.startswith(prefix)
            }
        )

    def p(self, name: str) -> nn.Parameter:
        return self.named[name.replace(".", "__")]

    def lookup(self, name: str, idx: torch.Tensor) -> torch.Tensor:
        """Rows of table `name` for idx. With sparse_grads (training), an id table is read through a
        leaf tensor of the distinct rows looked up, kept in `looked_up` with their indices: backward
        then fills a gradient of those rows only, not of the whole table."""
        if not (self.sparse_grads and name in spec.ROW_SPARSE and torch.is_grad_enabled()):
            return nn.functional.embedding(idx, self.p(name))
        rows, inverse = torch.unique(idx, return_inverse=True)
        leaf = self.p(name).detach().index_select(0, rows).requires_grad_()
        self.looked_up[name] = (rows, leaf)
        # index_select rather than embedding(inverse, leaf): its backward is a plain index_add,
        # 16.6 vs 17.1 ms a step (median of six alternating rounds, speed-bench data).
        return leaf.index_select(0, inverse.reshape(-1)).view(*inverse.shape, leaf.shape[1])

    def spec_params(self) -> dict[str, nn.Parameter]:
        return {k.replace("__", "."): v for k, v in self.named.items()}


class QueryTower(_Tower):
    """History pooled by a masked softmax over type and position logits, plus user id, then an MLP."""

    def __init__(self, cfg: spec.ModelConfig, params: dict[str, np.ndarray]) -> None:
        super().__init__(params, "query.")
        self.l2_normalize = cfg.l2_normalize
        self.attention = cfg.query_encoder == "attention"
        self.profile_mean = cfg.profile_mean
        self.layers = spec.mlp_names("query", len(cfg.query_layer_dims))

    def pool_history(
        self, history: torch.Tensor, hist_items: torch.Tensor, hist_types: torch.Tensor
    ) -> torch.Tensor:
        logits = self.p(spec.Q_TYPE_LOGIT)[hist_types] + self.p(spec.Q_POSITION_LOGIT)[: hist_items.shape[1]]
        weights = _masked_softmax(logits, hist_items > 0)
        return (weights.unsqueeze(-1) * history).sum(dim=1)  # faster than a [B] batch of 1xL matmuls

    def attend_history(
        self, history: torch.Tensor, hist_items: torch.Tensor, hist_types: torch.Tensor
    ) -> torch.Tensor:
        """model.spec.attend_history: the newest entry attends over the whole history."""
        mask = hist_items > 0
        x = history + self.p(spec.A_POSITION)[: hist_items.shape[1]]
        x = x + self.p(spec.A_TYPE)[hist_types]
        query = x[:, 0] @ self.p(spec.A_QUERY)
        keys, values = x @ self.p(spec.A_KEY), x @ self.p(spec.A_VALUE)
        logits = torch.einsum("bld,bd->bl", keys, query) / math.sqrt(x.shape[-1])
        attended = torch.einsum("bl,bld->bd", _masked_softmax(logits, mask), values)
        h = x[:, 0] * mask[:, :1] + attended
        (k1, b1), (k2, b2) = spec.A_FFN
        return h + torch.relu(h @ self.p(k1) + self.p(b1)) @ self.p(k2) + self.p(b2)

    def forward(
        self, hist_items: torch.Tensor, hist_types: torch.Tensor, user_idx: torch.Tensor
    ) -> torch.Tensor:
        encode = self.attend_history if self.attention else self.pool_history
        history = self.lookup(spec.Q_HISTORY, hist_items)  # looked up once: lazy updates keep one leaf
        parts = [encode(history, hist_items, hist_types)]
        if self.profile_mean:
            mask = (hist_items > 0).unsqueeze(-1).to(history.dtype)
            parts.append((mask * history).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0))
        x = torch.cat([*parts, self.lookup(spec.Q_USER, user_idx)], dim=1)
        x = _mlp(x, [(self.p(k), self.p(b)) for k, b in self.layers])
        return _normalize(x) if self.l2_normalize else x


class ItemTower(_Tower):
    """Item id embedding plus category, brand and price-bucket embeddings, then an MLP."""

    def __init__(self, cfg: spec.ModelConfig, params: dict[str, np.ndarray]) -> None:
        super().__init__(params, "item.")
        self.l2_normalize = cfg.l2_normalize
        self.layers = spec.mlp_names("item", len(cfg.item_layer_dims))

    def forward(self, item_idx: torch.Tensor, item_features: torch.Tensor) -> torch.Tensor:
        parts = [self.lookup(spec.I_ID, item_idx)]
        parts += [
            nn.functional.embedding(item_features[:, j], self.p(spec.I_FEATURE[n]))
            for j, n in enumerate(spec.ITEM_FEATURES)
        ]
        x = _mlp(torch.cat(parts, dim=1), [(self.p(k), self.p(b)) for k, b in self.layers])
        return _normalize(x) if self.l2_normalize else x


class Towers(nn.Module):
    """Both towers, as `towers.query_tower` and `towers.item_tower` (the TensorFlow backend's names)."""

    def __init__(self, cfg: spec.ModelConfig, params: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.query_tower = QueryTower(cfg, params)
        self.item_tower = ItemTower(cfg, params)

    def spec_params(self) -> dict[str, nn.Parameter]:
        return {**self.query_tower.spec_params(), **self.item_tower.spec_params()}


def _weighted_mean(losses: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (losses * weight).sum() / weight.sum().clamp_min(1e-12)


def full_softmax_loss(query, items, target, weight, temperature: float) -> torch.Tensor:
    """Softmax over the whole catalog; item 0 (padding) is never a candidate."""
    logits = ((query @ items.T) / temperature).index_fill(1, torch.tensor([0]), -1e9)
    return _weighted_mean(nn.functional.cross_entropy(logits, target, reduction="none"), weight)


def sampled_softmax_loss(query, item_vecs, target, log_q, weight, temperature: float) -> torch.Tensor:
    """In-batch softmax: other rows' items are the negatives, logits corrected by -log Q(item);
    the same item appearing twice in a batch is not its own negative."""
    logits = (query @ item_vecs.T) / temperature - log_q[target][None, :]
    same = (target[:, None] == target[None, :]) & ~torch.eye(len(target), dtype=torch.bool)
    logits = logits.masked_fill(same, -1e9)
    labels = torch.arange(len(target))
    return _weighted_mean(nn.functional.cross_entropy(logits, labels, reduction="none"), weight)


@torch.no_grad()
def lazy_adam(
    param: torch.Tensor,
    rows: torch.Tensor,
    p: torch.Tensor,
    g: torch.Tensor,
    m: torch.Tensor,
    v: torch.Tensor,
    step: int,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
) -> None:
    """torch.optim.Adam's update (coupled L2, epsilon after the bias-corrected sqrt) applied only to
    `rows` (distinct) of param and of its moments. p holds those rows' current values (the lookup
    already copied them; it is overwritten), g their gradient; `step` counts every step taken."""
    b1, b2 = betas
    if weight_decay:
        g = g + weight_decay * p
    m_rows = m.index_select(0, rows).mul_(b1).add_(g, alpha=1 - b1)
    v_rows = v.index_select(0, rows).mul_(b2).addcmul_(g, g, value=1 - b2)
    m.index_copy_(0, rows, m_rows)
    v.index_copy_(0, rows, v_rows)
    denom = (v_rows.sqrt_() / math.sqrt(1 - b2**step)).add_(eps)
    # A copy of the new rows, not index_add_: the rows are distinct, and the copy is 3-4x faster here.
    param.index_copy_(0, rows, p.addcdiv_(m_rows, denom, value=-lr / (1 - b1**step)))


@torch.no_grad()
def _run_query(
    query: Any, hist_items: np.ndarray, hist_types: np.ndarray, user_idx: np.ndarray
) -> np.ndarray:
    """Query vectors from a query tower (trained module or exported program) for numpy inputs."""
    args = (torch.from_numpy(np.asarray(a, np.int64)) for a in (hist_items, hist_types, user_idx))
    return query(*args).numpy()


class Trainer:
    """training.backends.base.BackendTrainer for PyTorch."""

    def __init__(self, model_config, train_config, params, item_features, item_log_q) -> None:
        torch.set_num_threads(train_config.threads or os.cpu_count() or 1)
        self.cfg, self.tcfg = model_config, train_config
        self.towers = Towers(model_config, params)
        self.features = torch.from_numpy(np.asarray(item_features, np.int64))
        self.all_items = torch.arange(len(self.features))
        self.log_q = torch.from_numpy(np.asarray(item_log_q, np.float32))
        self.full = train_config.use_full_softmax(model_config.n_items)
        lazy = train_config.embedding_updates == "lazy"
        self.towers.query_tower.sparse_grads = self.towers.item_tower.sparse_grads = lazy
        named = self.towers.spec_params()
        self.sparse = {k: named[k] for k in spec.ROW_SPARSE} if lazy else {}
        self.moments = {k: (torch.zeros_like(p), torch.zeros_like(p)) for k, p in self.sparse.items()}
        self.steps = 0
        self.optimizer = torch.optim.Adam(
            [p for k, p in named.items() if k not in self.sparse],
            lr=train_config.learning_rate,
            betas=(train_config.adam_beta1, train_config.adam_beta2),
            eps=train_config.adam_epsilon,
            weight_decay=train_config.weight_decay,
            fused=True,
        )

    def loss(self, batch: Batch) -> torch.Tensor:
        query = self.towers.query_tower(
            *(torch.from_numpy(a) for a in (batch.hist_items, batch.hist_types, batch.user_idx))
        )
        target, weight = torch.from_numpy(batch.item_idx), torch.from_numpy(batch.weight)
        if self.full:
            items = self.towers.item_tower(self.all_items, self.features)
            return full_softmax_loss(query, items, target, weight, self.cfg.temperature)
        items = self.towers.item_tower(target, self.features[target])
        return sampled_softmax_loss(query, items, target, self.log_q, weight, self.cfg.temperature)

    def train_step(self, batch: Batch, learning_rate: float) -> float:
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(batch)
        loss.backward()
        self.optimizer.step()
        self.steps += 1
        betas, eps, wd = (
            (self.tcfg.adam_beta1, self.tcfg.adam_beta2),
            self.tcfg.adam_epsilon,
            self.tcfg.weight_decay,
        )
        query_tower, item_tower = self.towers.query_tower, self.towers.item_tower
        looked_up = {**query_tower.looked_up, **item_tower.looked_up}
        query_tower.looked_up.clear()
        item_tower.looked_up.clear()
        for name, param in self.sparse.items():
            rows, leaf = looked_up[name]
            m, v = self.moments[name]
            lazy_adam(param, rows, leaf.detach(), leaf.grad, m, v, self.steps, learning_rate, betas, eps, wd)
        return float(loss.detach())

    def query_vectors(
        self, hist_items: np.ndarray, hist_types: np.ndarray, user_idx: np.ndarray
    ) -> np.ndarray:
        return _run_query(self.towers.query_tower, hist_items, hist_types, user_idx)

    @torch.no_grad()
    def item_vectors(self) -> np.ndarray:
        return self.towers.item_tower(self.all_items, self.features).numpy()

    def get_params(self) -> dict[str, np.ndarray]:
        named = self.towers.spec_params()
        return {k: named[k].detach().numpy().copy() for k in spec.param_shapes(self.cfg)}

    @torch.no_grad()
    def set_params(self, params: dict[str, np.ndarray]) -> None:
        for name, value in self.towers.spec_params().items():
            value.copy_(torch.from_numpy(np.asarray(params[name], np.float32)))

    def export_native(self, out_dir: Path) -> None:
        """torch.export programs of both towers (dynamic batch and history length) + safetensors."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        length_max = self.cfg.max_history
        batch, n = torch.export.Dim("batch"), torch.export.Dim("n")
        length = torch.export.Dim("length", max=length_max)
        # Distinct tensors: export would treat one tensor passed twice as a single aliased input.
        example = tuple(
            torch.ones(shape, dtype=torch.int64) for shape in ((2, length_max), (2, length_max), (2,))
        )
        with torch.no_grad():
            query = torch.export.export(
                self.towers.query_tower.eval(),
                example,
                dynamic_shapes=({0: batch, 1: length}, {0: batch, 1: length}, {0: batch}),
            )
            item = torch.export.export(
                self.towers.item_tower.eval(),
                (self.all_items[:2].clone(), self.features[:2].clone()),
                dynamic_shapes=({0: n}, {0: n}),
            )
        torch.export.save(query, out_dir / NATIVE_FILES[0])
        torch.export.save(item, out_dir / NATIVE_FILES[1])
        save_file(
            {k: torch.from_numpy(v) for k, v in self.get_params().items()}, str(out_dir / NATIVE_FILES[2])
        )


class NativeModel:
    """The exported towers loaded back (torch.export.load: no pickle of code)."""

    def __init__(self, native_dir: Path) -> None:
        self.query = torch.export.load(Path(native_dir) / NATIVE_FILES[0]).module()
        self.item = torch.export.load(Path(native_dir) / NATIVE_FILES[1]).module()

    def query_vectors(
        self, hist_items: np.ndarray, hist_types: np.ndarray, user_idx: np.ndarray
    ) -> np.ndarray:
        return _run_query(self.query, hist_items, hist_types, user_idx)

    @torch.no_grad()
    def item_vectors(self, item_features: np.ndarray) -> np.ndarray:
        features = torch.from_numpy(np.asarray(item_features, np.int64))
        return self.item(torch.arange(len(features)), features).numpy()


def load_native(native_dir: Path) -> Any:
    return NativeModel(native_dir)
