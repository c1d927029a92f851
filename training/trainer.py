"""The training loop both backends run under: seeded epochs of numpy batches, validation NDCG after
each epoch, early stopping, and the best epoch's weights restored. Nothing else: the configuration is
training.config, the data training.batches, the frameworks training.backends, and the orchestration
(load, fit, publish, report) training.train.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.spec import ModelConfig
from training.backends.base import BackendTrainer
from training.batches import Batch, Examples, batches_per_epoch, iter_batches
from training.config import TrainConfig
from training.evaluate import EvalSet, evaluate_scores, load_eval_set

log = logging.getLogger(__name__)
PROFILE = "profile"


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
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> held-out metrics
    heldout: dict[str, Any] = field(default_factory=dict)  # split and users the figures are on
    fit: dict[str, Any] = field(default_factory=dict)  # what the published model was fit on
    warnings: list[str] = field(default_factory=list)


def _score_fn(
    trainer: BackendTrainer, model_config: ModelConfig, eval_set: EvalSet
) -> Callable[[np.ndarray], np.ndarray]:
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


@dataclass(frozen=True)
class Holdout:
    """The held-out users a run is judged on, loaded once: `valid` steers early stopping, `test` (or
    valid, when there is no test split) gives the figures reported beside the baselines."""

    valid: EvalSet | None
    test: EvalSet | None
    # "What else does this user like": items held out from anywhere in sampled users' train timelines
    # (training.examples.hold_out_profile). The epoch is chosen on the mean NDCG@k of both questions.
    profile: EvalSet | None = None

    @classmethod
    def load(cls, processed_dir: Path, cfg: TrainConfig) -> Holdout:
        sets = {}
        for split, max_users in (("valid", cfg.eval_max_users), ("test", None)):
            try:
                sets[split] = load_eval_set(processed_dir, split, max_users, cfg.seed)
            except FileNotFoundError:
                log.warning("no %s split in %s: no %s metrics", split, processed_dir, split)
                sets[split] = None
        return cls(**sets)

    @property
    def final(self) -> tuple[str, EvalSet] | None:
        """(split name, eval set) of the figures a run reports."""
        if self.test is not None:
            return "test", self.test
        return ("valid", self.valid) if self.valid is not None else None


def evaluate(
    trainer: BackendTrainer, model_config: ModelConfig, eval_set: EvalSet, k: int
) -> dict[str, float]:
    score = _score_fn(trainer, model_config, eval_set)
    return {key: float(v) for key, v in evaluate_scores(score, eval_set, k=k).items()}


def validation_metrics(
    trainer: BackendTrainer, model_config: ModelConfig, holdout: Holdout, k: int
) -> dict[str, float]:
    """The valid split's metrics, and the profile holdout's prefixed `profile_`."""
    metrics = evaluate(trainer, model_config, holdout.valid, k) if holdout.valid is not None else {}
    if holdout.profile is not None:
        profile = evaluate(trainer, model_config, holdout.profile, k)
        metrics.update({f"{PROFILE}_{key}": v for key, v in profile.items()})
    return metrics


def selection_score(metrics: dict[str, float], k: int, loss: float) -> float:
    """What the best epoch maximises: the mean NDCG@k over the holdouts present (the next events of
    the valid split, the profile holdout's items), or -loss without any."""
    scores = [metrics[key] for key in (f"ndcg@{k}", f"{PROFILE}_ndcg@{k}") if key in metrics]
    return float(np.mean(scores)) if scores else -loss


def epoch_line(backend: str, row: dict[str, float], k: int) -> str:
    """One short console line of an epoch: loss, time and each holdout's NDCG@k with its standard
    error (the whole metrics dict goes to the DEBUG log)."""
    parts = [f"{backend} epoch {int(row['epoch'])}: loss {row['loss']:.4f}, {row['seconds']:.1f} s"]
    for label, prefix in (("next", ""), ("what else", f"{PROFILE}_")):
        key = f"{prefix}ndcg@{k}"
        if key in row:
            parts.append(f"{label} ndcg@{k} {row[key]:.4f} ± {row.get(key + '_se', 0.0):.4f}")
    return ", ".join(parts)


def selection_se(metrics: dict[str, float], k: int) -> float:
    """The standard error of selection_score (that of a mean of independent estimates); 0 if unknown."""
    errors = [metrics.get(f"{key}_se", 0.0) for key in (f"ndcg@{k}", f"{PROFILE}_ndcg@{k}") if key in metrics]
    return math.sqrt(sum(e * e for e in errors)) / len(errors) if errors else 0.0


def epoch_batches(examples: Examples, cfg: TrainConfig, rng: np.random.Generator) -> Iterator[Batch]:
    """One epoch's batches exactly as training makes them from cfg (the speed bench uses it too)."""
    return iter_batches(
        examples,
        cfg.batch_size,
        rng,
        cfg.user_dropout,
        cfg.history_dropout,
        cfg.drop_remainder,
        cfg.batches_by_length,
    )


def _epoch(
    trainer: BackendTrainer,
    cfg: TrainConfig,
    examples: Examples,
    rng: np.random.Generator,
    step: int,
    total_steps: int,
) -> tuple[float, int]:
    """One pass over the shuffled examples; returns (mean loss, global step after it)."""
    losses = []
    for batch in epoch_batches(examples, cfg, rng):
        losses.append(trainer.train_step(batch, cfg.learning_rate_at(step, total_steps)))
        step += 1
    return float(np.mean(losses)), step


def fit(
    trainer: BackendTrainer,
    backend: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    examples: Examples,
    holdout: Holdout,
) -> TrainResult:
    """Epochs of seeded batches; keep the weights of the chosen epoch: the latest one whose validation
    score (selection_score) is within one standard error of the best epoch's. A difference smaller
    than the measurement's own noise is no reason to stop earlier, and the refit, on more data,
    runs that many epochs of the same schedule. Early stopping counts the epochs below that band."""
    cfg = train_config
    rng = np.random.default_rng(cfg.seed)
    total_steps = cfg.epochs * batches_per_epoch(len(examples), cfg.batch_size, cfg.drop_remainder)
    step, stale = 0, 0
    top_score, top_se = -math.inf, 0.0  # the best epoch's selection score and its standard error
    best: dict[str, Any] = {"epoch": 0, "metrics": {}, "params": None}  # the chosen epoch
    seconds, losses, history = [], [], []
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        loss, step = _epoch(trainer, cfg, examples, rng, step, total_steps)
        seconds.append(time.perf_counter() - started)
        losses.append(loss)
        if not math.isfinite(loss):
            raise FloatingPointError(f"{backend}: loss is {loss} at epoch {epoch}")
        metrics = validation_metrics(trainer, model_config, holdout, cfg.eval_k)
        history.append({"epoch": epoch, "loss": loss, "seconds": seconds[-1], **metrics})
        log.info("%s", epoch_line(backend, history[-1], cfg.eval_k))
        log.debug("%s epoch %d: %s", backend, epoch, history[-1])
        score = selection_score(metrics, cfg.eval_k, loss)
        if score > top_score:
            top_score, top_se = score, selection_se(metrics, cfg.eval_k)
        if score >= top_score - top_se:  # the best, or level with it within the noise
            best = {"epoch": epoch, "metrics": metrics, "params": trainer.get_params()}
            stale = 0
        else:
            stale += 1
            if cfg.early_stopping_patience and stale >= cfg.early_stopping_patience:
                break
    trainer.set_params(best["params"])
    metrics = {f"valid_{k}": v for k, v in best["metrics"].items()}
    if holdout.test is not None:
        metrics.update(
            {f"test_{k}": v for k, v in evaluate(trainer, model_config, holdout.test, cfg.eval_k).items()}
        )
    metrics["train_loss"] = losses[best["epoch"] - 1]
    return TrainResult(None, backend, metrics, seconds, losses, best["epoch"], history)


def fit_epochs(
    trainer: BackendTrainer, train_config: TrainConfig, examples: Examples, epochs: int
) -> list[float]:
    """Exactly `epochs` epochs with no evaluation (the refit on every interaction); mean losses."""
    cfg = train_config
    rng = np.random.default_rng(cfg.seed)
    total_steps = cfg.epochs * batches_per_epoch(len(examples), cfg.batch_size, cfg.drop_remainder)
    step, losses = 0, []
    for _ in range(epochs):
        loss, step = _epoch(trainer, cfg, examples, rng, step, total_steps)
        losses.append(loss)
    return losses
