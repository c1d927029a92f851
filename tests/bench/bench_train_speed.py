"""Seconds per training epoch on 1M synthetic interactions, TensorFlow and PyTorch side by side.

Data: the processed-data format (tests/training/processed_data.py), 50k users x 20 interactions
(1M train rows), 20k items in 50 categories, max_history 50 (histories here reach 19 items);
default TrainConfig (64-d, batch 1024; 20k items > full_softmax_max_items, so in-batch sampled softmax).
An epoch includes everything the loop does per step (batching, tracing/compiling on first use); like
training, it skips the last, smaller batch (TrainConfig.drop_remainder: fewer than 1,024 of 1M examples).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.bench import row
from tests.training.processed_data import write_processed
from training.config import TrainConfig
from training.train import prepare_run
from training.trainer import epoch_batches

GOAL_SECONDS = 20.0
GOAL_RATIO = 2.0
SHAPE = {"n_users": 50_000, "n_items": 20_000, "n_categories": 50, "per_user": 22, "max_history": 50}


def _epoch_seconds(backend: str, data: Path, manifest: dict, cfg: TrainConfig) -> tuple[float, float]:
    trainer, _, examples, *_ = prepare_run(backend, data, manifest, cfg)
    rng = np.random.default_rng(cfg.seed)
    started, losses = time.perf_counter(), []
    for batch in epoch_batches(examples, cfg, rng):
        losses.append(trainer.train_step(batch, cfg.learning_rate))
    return time.perf_counter() - started, float(np.mean(losses))


def run() -> list[dict]:
    cfg = TrainConfig.load()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_processed(Path(tmp), **SHAPE)
        seconds = {}
        for backend in ("tensorflow", "pytorch"):
            seconds[backend], loss = _epoch_seconds(backend, Path(tmp), manifest, cfg)
            print(f"   {backend}: {seconds[backend]:.1f} s/epoch, mean loss {loss:.3f}", flush=True)
    ratio = max(seconds.values()) / min(seconds.values())
    load = os.getloadavg()[0]
    rows = [
        row(f"{b} seconds per epoch (1M interactions)", s, "s", f"<= {GOAL_SECONDS:g}", s <= GOAL_SECONDS)
        for b, s in seconds.items()
    ]
    rows.append(row("slower / faster backend", ratio, "x", f"<= {GOAL_RATIO:g}", ratio <= GOAL_RATIO))
    rows += [row(f"load average (1 min) {when}", v) for when, v in (("before", load_before), ("after", load))]
    return rows
