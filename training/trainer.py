"""The trainer interface, its configuration and the one training loop both backends run under.

`train(settings, "pytorch", epochs=1, embedding_dim=8)` reads the processed data, builds batches in
numpy, drives the chosen backend (imported lazily: the other framework is never loaded), early-stops on
validation NDCG, and publishes the best epoch's model to the registry.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from infra.config import Settings, config_file_section
from training.batches import (
    Batch,
    Catalog,
    Examples,
    batches_per_epoch,
    iter_batches,
    load_catalog,
    load_examples,
    read_manifest,
    vocab_sizes,
)
from training.model_spec import ModelConfig, init_params

log = logging.getLogger(__name__)

# Backend name -> module path; each module exposes `Trainer` and `load_native`.
BACKENDS = {
    "tensorflow": "training.backends.tensorflow_backend",
    "pytorch": "training.backends.pytorch_backend",
}
MODEL_KEYS = ("embedding_dim", "feature_dim", "query_hidden", "item_hidden", "output_dim", "temperature")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters shared by both backends: the `[train]` table of the config file, then kwargs."""

    embedding_dim: int = 64
    feature_dim: int = 16
    query_hidden: tuple[int, ...] = (128,)
    item_hidden: tuple[int, ...] = (128,)
    output_dim: int = 64
    temperature: float = 0.1
    l2_normalize: bool = True
    epochs: int = 10
    batch_size: int = 1024
    learning_rate: float = 0.002
    schedule: str = "constant"  # constant | cosine (after linear warm-up)
    warmup_steps: int = 0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    weight_decay: float = 0.0  # coupled L2 on every parameter (added to the gradient, as torch's Adam)
    # lazy: Adam updates only the rows of the id tables (model_spec.ROW_SPARSE) that a batch looks up,
    # with their moments, so a step costs the batch, not the table; dense: torch.optim.Adam exactly.
    embedding_updates: str = "lazy"
    # Skip each epoch's last, smaller batch (the next shuffle brings its examples back): in-batch
    # softmax would give its rows fewer negatives, and XLA would compile the step again for its shape.
    drop_remainder: bool = True
    user_dropout: float = 0.1  # so the unknown-user row (0) is trained for new users
    history_dropout: float = 0.0
    loss: str = "auto"  # auto | full | sampled
    full_softmax_max_items: int = 10_000  # auto: full softmax up to this catalog size
    seed: int = 0
    early_stopping_patience: int = 3
    eval_k: int = 10
    threads: int = 0  # 0 = every core
    xla: bool = True  # TensorFlow: compile the train step with XLA (PyTorch ignores it)

    def __post_init__(self) -> None:
        for key in ("query_hidden", "item_hidden"):
            object.__setattr__(self, key, tuple(int(v) for v in getattr(self, key)))
        if self.loss not in ("auto", "full", "sampled"):
            raise ValueError(f"loss must be auto, full or sampled, not {self.loss!r}")
        if self.embedding_updates not in ("lazy", "dense"):
            raise ValueError(f"embedding_updates must be lazy or dense, not {self.embedding_updates!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be constant or cosine, not {self.schedule!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1")

    @classmethod
    def load(cls, config_path: str | Path | None = None, **overrides: Any) -> TrainConfig:
        """Defaults < `[train]` of the config file < keyword overrides (None means not given)."""
        values = config_file_section("train", config_path)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown train settings: {sorted(unknown)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def use_full_softmax(self, n_items: int) -> bool:
        return self.loss == "full" or (self.loss == "auto" and n_items <= self.full_softmax_max_items)

    def learning_rate_at(self, step: int, total_steps: int) -> float:
        """The schedule, computed once here so both backends step with identical rates."""
        if self.warmup_steps and step < self.warmup_steps:
            return self.learning_rate * (step + 1) / self.warmup_steps
        if self.schedule == "constant":
            return self.learning_rate
        span = max(1, total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.learning_rate * 0.5 * (1.0 + math.cos(math.pi * progress))


class BackendTrainer(Protocol):
    """What each framework implements: build from numpy weights, step, and hand weights back."""

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        params: dict[str, np.ndarray],
        item_features: np.ndarray,
        item_log_q: np.ndarray,
    ) -> None: ...

    def train_step(self, batch: Batch, learning_rate: float) -> float: ...

    def query_vectors(
        self, hist_items: np.ndarray, hist_types: np.ndarray, user_idx: np.ndarray
    ) -> np.ndarray: ...

    def item_vectors(self) -> np.ndarray: ...

    def get_params(self) -> dict[str, np.ndarray]: ...

    def set_params(self, params: dict[str, np.ndarray]) -> None: ...

    def export_native(self, out_dir: Path) -> None: ...


def backend_module(name: str) -> Any:
    """The backend's module, imported only now (so the other framework never loads)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {sorted(BACKENDS)}")
    return importlib.import_module(BACKENDS[name])


def make_trainer(name: str, model_config: ModelConfig, train_config: TrainConfig, **kwargs: Any) -> Any:
    """A backend trainer started from `init_params(model_config, seed)` unless params are given."""
    params = kwargs.pop("params", None) or init_params(model_config, train_config.seed)
    return backend_module(name).Trainer(model_config, train_config, params, **kwargs)


def model_config_for(manifest: dict[str, Any], train_config: TrainConfig) -> ModelConfig:
    """The architecture: vocabulary sizes from the data, dimensions from the train config."""
    dims = {k: getattr(train_config, k) for k in MODEL_KEYS}
    return ModelConfig(
        **vocab_sizes(manifest),
        max_history=int(manifest.get("max_history", 50)),
        l2_normalize=train_config.l2_normalize,
        **dims,
    )


def item_log_q(popularity: np.ndarray) -> np.ndarray:
    """log of each item's share of training interactions: the in-batch sampling probability (logQ)."""
    counts = popularity.astype(np.float64) + 1e-3  # unseen items: tiny, finite probability
    return np.log(counts / counts.sum()).astype(np.float32)


@dataclass
class TrainResult:
    """What a run produced: the published version, the best epoch's metrics, and timings."""

    version: str | None
    backend: str
    metrics: dict[str, float]
    seconds_per_epoch: list[float]
    losses: list[float]
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def _score_fn(trainer: Any, model_config: ModelConfig, eval_set: Any) -> Callable[[np.ndarray], np.ndarray]:
    """score_fn(rows) for the evaluation module: backend query vectors against all item vectors."""
    items = trainer.item_vectors()

    def score(rows: np.ndarray) -> np.ndarray:
        width = model_config.max_history  # the model has position logits for this many entries
        query = trainer.query_vectors(
            np.asarray(eval_set.hist_items)[rows, :width],
            np.asarray(eval_set.hist_types)[rows, :width],
            np.asarray(eval_set.user_idx)[rows],
        )
        return (query @ items.T) / model_config.temperature

    return score


def prepare_run(
    backend: str, processed: Path, manifest: dict[str, Any], train_config: TrainConfig
) -> tuple[Any, ModelConfig, Examples, Catalog]:
    """(backend trainer at its initial weights, architecture, train examples, catalog) for the
    processed data at `processed`: what every training run starts from."""
    model_config = model_config_for(manifest, train_config)
    examples = load_examples(processed, "train", model_config.max_history)
    catalog = load_catalog(processed, model_config.n_items, model_config.n_users)
    trainer = make_trainer(
        backend,
        model_config,
        train_config,
        item_features=catalog.item_features,
        item_log_q=item_log_q(catalog.item_popularity),
    )
    return trainer, model_config, examples, catalog


def train(settings: Settings, backend: str, *, publish: bool = True, **overrides: Any) -> TrainResult:
    """Train `backend` on settings.processed_dir, early-stop on validation NDCG@k, publish the best."""
    train_config = TrainConfig.load(**overrides)
    processed = settings.processed_dir
    manifest = read_manifest(processed)
    trainer, model_config, examples, catalog = prepare_run(backend, processed, manifest, train_config)
    if not len(examples):
        raise ValueError(f"{processed}/train is empty: nothing to train on")
    result = fit(trainer, backend, model_config, train_config, examples, processed)
    if publish:
        from training.registry import publish as publish_version

        result.version = publish_version(
            settings,
            backend,
            trainer,
            model_config=model_config,
            train_config=train_config,
            catalog=catalog,
            manifest=manifest,
            metrics=result.metrics,
        )
    log.info("trained %s: version %s, metrics %s", backend, result.version, result.metrics)
    write_run_report(settings.var_dir / "reports" / (result.version or f"unpublished-{backend}"), result)
    return result


def write_run_report(out_dir: Path, result: TrainResult) -> None:
    """The run's metrics table and per-epoch curves (loss and every validation metric) as files."""
    from training.report import write_report

    series = sorted({key for row in result.history for key in row} - {"epoch", "seconds", "loss"})
    curves = {"loss": [row["loss"] for row in result.history]}
    curves.update({f"valid_{name}": [row.get(name, math.nan) for row in result.history] for name in series})
    write_report(out_dir, {result.backend: result.metrics}, {result.backend: curves})


def _evaluator(
    processed_dir: Path, split: str, k: int
) -> Callable[[Any, ModelConfig], dict[str, float]] | None:
    """metrics(trainer) on one split via training.evaluate, or None when it or the split is missing."""
    try:
        from training.evaluate import evaluate_scores, load_eval_set
    except ImportError:
        log.warning("training.evaluate is not available: no %s metrics, early stopping on loss", split)
        return None
    try:
        eval_set = load_eval_set(processed_dir, split)
    except FileNotFoundError:
        log.warning("no %s split in %s: no %s metrics", split, processed_dir, split)
        return None

    def metrics(trainer: Any, model_config: ModelConfig) -> dict[str, float]:
        score = _score_fn(trainer, model_config, eval_set)
        return {key: float(v) for key, v in evaluate_scores(score, eval_set, k=k).items()}

    return metrics


def epoch_batches(examples: Examples, cfg: TrainConfig, rng: np.random.Generator) -> Iterator[Batch]:
    """One epoch's batches exactly as training makes them from cfg (the speed bench uses it too)."""
    return iter_batches(
        examples, cfg.batch_size, rng, cfg.user_dropout, cfg.history_dropout, cfg.drop_remainder
    )


def _epoch(
    trainer: Any, cfg: TrainConfig, examples: Examples, rng: np.random.Generator, step: int, total_steps: int
) -> tuple[float, int]:
    """One pass over the shuffled examples; returns (mean loss, global step after it)."""
    losses = []
    for batch in epoch_batches(examples, cfg, rng):
        losses.append(trainer.train_step(batch, cfg.learning_rate_at(step, total_steps)))
        step += 1
    return float(np.mean(losses)), step


def fit(
    trainer: Any,
    backend: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    examples: Examples,
    processed_dir: Path,
) -> TrainResult:
    """Epochs of seeded batches; keep the weights of the best validation NDCG@k (or lowest loss)."""
    cfg = train_config
    rng = np.random.default_rng(cfg.seed)
    validate = _evaluator(processed_dir, "valid", cfg.eval_k)
    total_steps = cfg.epochs * batches_per_epoch(len(examples), cfg.batch_size, cfg.drop_remainder)
    step, stale = 0, 0
    best: dict[str, Any] = {"score": -math.inf, "epoch": 0, "metrics": {}, "params": None}
    seconds, losses, history = [], [], []
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        loss, step = _epoch(trainer, cfg, examples, rng, step, total_steps)
        seconds.append(time.perf_counter() - started)
        losses.append(loss)
        if not math.isfinite(loss):
            raise FloatingPointError(f"{backend}: loss is {loss} at epoch {epoch}")
        metrics = validate(trainer, model_config) if validate else {}
        history.append({"epoch": epoch, "loss": loss, "seconds": seconds[-1], **metrics})
        log.info("%s epoch %d: %s", backend, epoch, history[-1])
        score = metrics.get(f"ndcg@{cfg.eval_k}", -loss)
        if score > best["score"]:
            best = {"score": score, "epoch": epoch, "metrics": metrics, "params": trainer.get_params()}
            stale = 0
        else:
            stale += 1
            if cfg.early_stopping_patience and stale >= cfg.early_stopping_patience:
                break
    trainer.set_params(best["params"])
    metrics = {f"valid_{k}": v for k, v in best["metrics"].items()}
    test = _evaluator(processed_dir, "test", cfg.eval_k)
    if test:
        metrics.update({f"test_{k}": v for k, v in test(trainer, model_config).items()})
    metrics["train_loss"] = losses[best["epoch"] - 1]
    return TrainResult(None, backend, metrics, seconds, losses, best["epoch"], history)
