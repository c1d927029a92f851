"""The training configuration: the `[train]` table of the config file, then keyword overrides.

The model's sizes (embedding_dim ... l2_normalize) default to model.spec's ModelConfig, their one
definition; `model_config_for` joins them with the vocabulary sizes of the data.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.config import section_values
from model.spec import SIZE_DEFAULTS, SIZE_KEYS, ModelConfig


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters shared by both backends."""

    embedding_dim: int = SIZE_DEFAULTS["embedding_dim"]
    feature_dim: int = SIZE_DEFAULTS["feature_dim"]
    query_hidden: tuple[int, ...] = SIZE_DEFAULTS["query_hidden"]
    item_hidden: tuple[int, ...] = SIZE_DEFAULTS["item_hidden"]
    output_dim: int = SIZE_DEFAULTS["output_dim"]
    temperature: float = SIZE_DEFAULTS["temperature"]
    l2_normalize: bool = SIZE_DEFAULTS["l2_normalize"]
    query_encoder: str = SIZE_DEFAULTS["query_encoder"]  # pool | attention (model.spec)
    profile_mean: bool = SIZE_DEFAULTS["profile_mean"]  # the history's plain mean in the query too
    epochs: int = 10
    batch_size: int = 1024
    learning_rate: float = 0.005
    # cosine (after linear warm-up) | constant. Cosine decay, measured on ML-100K stratified (served
    # NDCG@10 of the refit after each epoch): constant 0.005 swings by up to 0.04 from one epoch to the
    # next, so two runs that stop an epoch apart (the two backends) land far apart; cosine rises
    # steadily and ends flat.
    schedule: str = "cosine"
    warmup_steps: int = 0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    # With cosine: 5e-4 ended at 0.425 (1e-4: 0.400, 2e-3: 0.416) on the same measurement.
    weight_decay: float = 5e-4  # coupled L2 on every parameter (added to the gradient, as torch's Adam)
    # lazy: Adam updates only the rows of the id tables (model.spec.ROW_SPARSE) that a batch looks up,
    # with their moments, so a step costs the batch, not the table; dense: torch.optim.Adam exactly.
    embedding_updates: str = "lazy"
    # Skip each epoch's last, smaller batch (the next shuffle brings its examples back): in-batch
    # softmax would give its rows fewer negatives, and XLA would compile the step again for its shape.
    drop_remainder: bool = True
    # Batches of similar history lengths (training.batches.length_grouped_order): padding work drops
    # where most histories are short (a shop's data); batches still come in a seeded random order.
    batches_by_length: bool = True
    user_dropout: float = 0.1  # so the unknown-user row (0) is trained for new users
    history_dropout: float = 0.0
    loss: str = "auto"  # auto | full | sampled
    full_softmax_max_items: int = 10_000  # auto: full softmax up to this catalog size
    seed: int = 0
    early_stopping_patience: int = 3
    eval_k: int = 10
    # Which training examples (training.examples): "next" = (target, the user's strictly earlier
    # items): what comes next; "profile" = (target, the user's other items, the target masked out):
    # what else this user likes; "both" = the two together, so one model answers both questions.
    examples: str = "both"
    # Validation after each epoch uses a seeded sample of at most this many users (all when fewer):
    # evaluation must cost less than the training it steers. The held-out figures use every user.
    eval_max_users: int = 2_000
    # The "what else" holdout of the selection run: this share of the items of at most eval_max_users
    # users (with >= 5 items), taken from anywhere in their train timelines; epochs are chosen on the
    # mean NDCG of it and of the valid split (the next events). 0 = the valid split alone.
    profile_holdout: float = 0.2
    # After choosing the epoch count on the holdout, train again from the start on every interaction
    # (train + valid + test) for that many epochs and publish that model; the registry keeps the
    # held-out figures of the selection run. False publishes the selection run's own model.
    refit: bool = True
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
        if self.examples not in ("next", "profile", "both"):
            raise ValueError(f"examples must be next, profile or both, not {self.examples!r}")
        if not 0 <= self.profile_holdout < 1:
            raise ValueError(f"profile_holdout must be in [0, 1), not {self.profile_holdout}")
        if self.epochs < 1 or self.batch_size < 1 or self.eval_max_users < 1:
            raise ValueError("epochs, batch_size and eval_max_users must be >= 1")

    @classmethod
    def load(cls, config_path: str | Path | None = None, **overrides: Any) -> TrainConfig:
        """Defaults < `[train]` of the config file < keyword overrides (None means not given)."""
        return cls(**section_values(cls, "train", config_path, overrides))

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


def model_config_for(vocab: dict[str, int], max_history: int, train_config: TrainConfig) -> ModelConfig:
    """The architecture: vocabulary sizes and history length from the data, sizes from the config."""
    sizes = {k: getattr(train_config, k) for k in SIZE_KEYS}
    return ModelConfig(**vocab, max_history=max_history, **sizes)
