"""What a framework backend implements: the contract between the training loop and TensorFlow or
PyTorch. Both backends are held to it by the parity tests (tests/training/test_parity.py) and by the
loop, which types its trainer as `BackendTrainer`.

A backend module exposes `Trainer` (a `BackendTrainer` class) and `load_native(dir)` (a
`NativeModel`: the exported model loaded back, used to validate the serving artifact before
`current` moves).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:  # types only: neither module is imported at run time from here
    from model.spec import ModelConfig
    from training.batches import Batch
    from training.config import TrainConfig


class NativeModel(Protocol):
    """An exported model loaded back through its framework."""

    def query_vectors(
        self, hist_items: np.ndarray, hist_types: np.ndarray, user_idx: np.ndarray
    ) -> np.ndarray: ...

    def item_vectors(self, item_features: np.ndarray) -> np.ndarray: ...


class BackendTrainer(Protocol):
    """Build from numpy weights, step on a Batch, and hand weights and vectors back as numpy."""

    def train_step(self, batch: Batch, learning_rate: float) -> float: ...

    def query_vectors(
        self, hist_items: np.ndarray, hist_types: np.ndarray, user_idx: np.ndarray
    ) -> np.ndarray: ...

    def item_vectors(self) -> np.ndarray: ...

    def get_params(self) -> dict[str, np.ndarray]: ...

    def set_params(self, params: dict[str, np.ndarray]) -> None: ...

    def export_native(self, out_dir: Path) -> None: ...


class TrainerFactory(Protocol):
    def __call__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        params: dict[str, np.ndarray],
        item_features: np.ndarray,
        item_log_q: np.ndarray,
    ) -> BackendTrainer: ...


class BackendModule(Protocol):
    """A backend module as `training.backends.backend_module` returns it."""

    Trainer: TrainerFactory

    def load_native(self, native_dir: Path) -> NativeModel: ...
