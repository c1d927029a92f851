"""The framework backends, one module each, imported only when chosen: `--backend pytorch` never
loads TensorFlow. Each module implements `training.backends.base` (a `Trainer` and `load_native`)."""

from __future__ import annotations

import importlib

from training.backends.base import BackendModule

# Backend name -> module path.
BACKENDS = {
    "tensorflow": "training.backends.tensorflow_backend",
    "pytorch": "training.backends.pytorch_backend",
}


def backend_module(name: str) -> BackendModule:
    """The backend's module, imported only now (so the other framework never loads)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {sorted(BACKENDS)}")
    return importlib.import_module(BACKENDS[name])  # type: ignore[return-value]
