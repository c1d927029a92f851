"""Both backends from the same numpy weights on the same batches: losses and weights agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model import spec
from model.registry import serving_dir
from tests.training.processed_data import write_processed
from training.batches import iter_batches, load_examples
from training.config import TrainConfig
from training.train import prepare_run
from training.trainer import epoch_batches

# float32 sums in a different order: agreement to about 1e-6 measured, 1e-4 relative asserted.
LOSS_RTOL = 1e-4
TINY = {"embedding_dim": 8, "feature_dim": 4, "query_hidden": (16,), "item_hidden": (16,), "output_dim": 8}


def _run(
    backend: str, data: Path, manifest: dict, loss: str, updates: str, xla: bool = True, encoder: str = "pool"
) -> tuple[list[float], dict]:
    cfg = TrainConfig.load(
        **TINY,
        query_encoder=encoder.removesuffix("+mean"),
        profile_mean=encoder.endswith("+mean"),
        xla=xla,
        batch_size=32,
        loss=loss,
        embedding_updates=updates,
        weight_decay=1e-4,
        user_dropout=0.2,
        history_dropout=0.1,
    )
    trainer, _, examples, *_ = prepare_run(backend, data, manifest, cfg)
    rng = np.random.default_rng(7)
    batches = list(epoch_batches(examples, cfg, rng))[:6]
    losses = [trainer.train_step(batch, 0.01) for batch in batches]
    return losses, trainer.get_params()


@pytest.mark.parametrize(
    ("loss", "updates", "xla", "encoder"),
    [
        ("full", "lazy", True, "pool"),
        ("full", "dense", True, "pool"),
        ("sampled", "lazy", True, "pool"),
        ("sampled", "dense", True, "pool"),
        ("sampled", "lazy", False, "pool"),  # TensorFlow's graph without XLA takes the same lazy update
        ("full", "lazy", True, "attention"),
        ("sampled", "dense", False, "attention"),
        ("full", "lazy", True, "pool+mean"),  # the history's plain mean beside the encoder
        ("sampled", "lazy", False, "attention+mean"),
    ],
)
def test_losses_and_weights_agree(tmp_path: Path, loss: str, updates: str, xla: bool, encoder: str):
    manifest = write_processed(tmp_path)
    torch_losses, torch_params = _run("pytorch", tmp_path, manifest, loss, updates, encoder=encoder)
    tf_losses, tf_params = _run("tensorflow", tmp_path, manifest, loss, updates, xla, encoder)
    np.testing.assert_allclose(tf_losses, torch_losses, rtol=LOSS_RTOL)
    assert torch_losses[-1] < torch_losses[0]  # the steps did something
    for name, value in torch_params.items():
        np.testing.assert_allclose(tf_params[name], value, atol=1e-4, err_msg=name)


def test_batches_repeat_with_the_seed(tmp_path: Path):
    manifest = write_processed(tmp_path)
    examples = load_examples(tmp_path, "train", manifest["max_history"])
    first, second = (
        list(iter_batches(examples, 16, np.random.default_rng(3), user_dropout=0.5)) for _ in range(2)
    )
    assert all(
        np.array_equal(a.user_idx, b.user_idx) and np.array_equal(a.item_idx, b.item_idx)
        for a, b in zip(first, second, strict=True)
    )
    dropped = np.concatenate([b.user_idx for b in first]) == 0
    assert 0.3 < dropped.mean() < 0.7  # the unknown-user row gets trained


@pytest.mark.slow
def test_full_runs_agree(settings):
    """After whole training runs on the same data the backends' losses and served scores agree
    (tolerances: 1e-3 relative on epoch losses, 1e-2 absolute on scores after 8 epochs)."""
    from training.publish import read_serving
    from training.train import train

    write_processed(settings.processed_dir)
    runs = {
        b: train(settings, b, epochs=8, batch_size=32, learning_rate=0.01, **TINY)
        for b in ("pytorch", "tensorflow")
    }
    np.testing.assert_allclose(runs["tensorflow"].losses, runs["pytorch"].losses, rtol=1e-3)
    served = {}
    for backend, result in runs.items():
        cfg, params, items = read_serving(serving_dir(settings.registry_dir, result.version))
        rows = load_examples(settings.processed_dir, "test", cfg.max_history)
        query = spec.query_embedding(params, cfg, rows.hist_items, rows.hist_types, rows.user_idx)
        served[backend] = spec.scores(query, items, cfg)
    np.testing.assert_allclose(served["tensorflow"], served["pytorch"], atol=1e-2)


def test_drop_remainder_keeps_only_full_batches(tmp_path: Path):
    manifest = write_processed(tmp_path)
    examples = load_examples(tmp_path, "train", manifest["max_history"])
    n, size = len(examples), 48
    assert n % size and n > size  # the data has a partial last batch to drop
    kept = list(iter_batches(examples, size, np.random.default_rng(0), drop_remainder=True))
    every = list(iter_batches(examples, size, np.random.default_rng(0)))
    assert [len(b.item_idx) for b in kept] == [size] * (n // size) == [len(b.item_idx) for b in every[:-1]]
    assert sum(len(b.item_idx) for b in every) == n
    # With no full batch to keep, nothing is dropped.
    (whole,) = iter_batches(examples, n + 1, np.random.default_rng(0), drop_remainder=True)
    assert len(whole.item_idx) == n


def test_length_grouped_batches_cover_every_example_once_with_less_padding():
    from training.batches import Examples

    rng = np.random.default_rng(1)
    n, width = 1000, 40
    lengths = rng.integers(0, width + 1, n)
    hist = np.where(np.arange(width)[None, :] < lengths[:, None], rng.integers(1, 50, (n, width)), 0)
    examples = Examples(np.arange(n), hist, hist % 4, np.arange(n) + 1, np.ones(n, np.float32))
    grouped = list(iter_batches(examples, 32, np.random.default_rng(0), by_length=True))
    plain = list(iter_batches(examples, 32, np.random.default_rng(0)))
    assert sorted(np.concatenate([b.user_idx for b in grouped]).tolist()) == list(range(n))
    padded = [sum(b.hist_items.size for b in batches) for batches in (grouped, plain)]
    assert padded[0] < 0.75 * padded[1]
    again = list(iter_batches(examples, 32, np.random.default_rng(0), by_length=True))
    assert all(np.array_equal(a.item_idx, b.item_idx) for a, b in zip(grouped, again, strict=True))
