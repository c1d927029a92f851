"""The trainer contract, for both backends: the loss falls, the model beats most-popular on learnable
data, the run publishes a version, and a seed makes a run repeatable."""

from __future__ import annotations

import types

import numpy as np
import pytest

from infra.config import Settings
from model import spec
from model.registry import read_current, serving_dir
from tests.training.processed_data import write_processed
from training import trainer as trainer_loop
from training.batches import load_examples
from training.config import TrainConfig
from training.publish import read_serving
from training.train import train

BACKENDS = ["pytorch", "tensorflow"]
TINY = {"embedding_dim": 16, "feature_dim": 4, "query_hidden": (32,), "item_hidden": (32,), "output_dim": 16}


def _recall_at_10(scores: np.ndarray, seen: np.ndarray, target: np.ndarray) -> float:
    scores = scores.copy()
    scores[:, 0] = -np.inf
    np.put_along_axis(scores, seen, -np.inf, axis=1)
    top = np.argsort(-scores, axis=1)[:, :10]
    return float(np.mean([t in row for t, row in zip(target, top, strict=True)]))


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_learns_and_beats_most_popular(settings: Settings, backend: str):
    write_processed(settings.processed_dir)
    result = train(
        settings, backend, epochs=12, batch_size=32, learning_rate=0.01, early_stopping_patience=0, **TINY
    )
    assert result.losses[-1] < 0.8 * result.losses[0]
    assert result.version == read_current(settings.registry_dir) and result.version.endswith(backend)
    assert len(result.seconds_per_epoch) == 12
    assert (settings.var_dir / "reports" / result.version / "report.md").is_file()
    cfg, params, items = read_serving(serving_dir(settings.registry_dir, result.version))
    test = load_examples(settings.processed_dir, "test", cfg.max_history)
    model = spec.scores(
        spec.query_embedding(params, cfg, test.hist_items, test.hist_types, test.user_idx), items, cfg
    )
    train_rows = load_examples(settings.processed_dir, "train", cfg.max_history)
    popularity = np.bincount(train_rows.item_idx, minlength=cfg.n_items).astype(float)
    popular = np.tile(popularity, (len(test), 1))
    seen = test.hist_items  # the user's train items (padding 0 is excluded anyway)
    model_recall = _recall_at_10(model, seen, test.item_idx)
    popular_recall = _recall_at_10(popular, seen, test.item_idx)
    assert model_recall > popular_recall + 0.1, (model_recall, popular_recall)


@pytest.mark.parametrize("backend", BACKENDS)
def test_seed_makes_a_run_repeatable(settings: Settings, backend: str):
    write_processed(settings.processed_dir, n_users=20, per_user=5)
    runs = [
        train(settings, backend, epochs=2, publish=False, loss="sampled", **TINY).losses for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert all(np.isfinite(runs[0]))


def test_config_file_then_overrides(tmp_path):
    path = tmp_path / "recsys.toml"
    path.write_text('[train]\nepochs = 3\nloss = "sampled"\nquery_hidden = [8, 4]\n')
    cfg = TrainConfig.load(path, epochs=5)
    assert (cfg.epochs, cfg.loss, cfg.query_hidden) == (5, "sampled", (8, 4))
    assert cfg.use_full_softmax(10) is False
    assert TrainConfig.load(path, loss="auto").use_full_softmax(10)


@pytest.mark.parametrize("bad", [{"loss": "nope"}, {"epochs": 0}, {"not_a_setting": 1}])
def test_bad_config_is_a_clear_error(tmp_path, bad):
    with pytest.raises(ValueError):
        TrainConfig.load(tmp_path / "missing.toml", **bad)


def test_missing_processed_data_is_a_clear_error(settings: Settings):
    with pytest.raises(FileNotFoundError, match="preprocessing"):
        train(settings, "pytorch", epochs=1)


def test_cosine_schedule_ends_near_zero():
    cfg = TrainConfig(schedule="cosine", warmup_steps=2, learning_rate=1.0)
    rates = [cfg.learning_rate_at(s, 10) for s in range(10)]
    assert rates[0] == 0.5 and rates[1] == 1.0 and rates[-1] < 0.05


class _ScriptedEvaluation(types.ModuleType):
    """Stands in for training.evaluate (the evaluation engineer's module, same API) so the loop's
    early stopping can be driven: validation NDCG follows a script; scores seen are recorded."""

    def __init__(self, processed_dir, ndcg: list[float]) -> None:
        super().__init__("training.evaluate")
        self.ndcg, self.valid_scores = list(ndcg), []

    def load_eval_set(self, processed_dir, split: str):
        return load_examples(processed_dir, split, 10)

    def evaluate_scores(self, score_fn, eval_set, k: int = 10) -> dict[str, float]:
        scores = score_fn(np.arange(len(eval_set.user_idx)))
        assert scores.shape == (len(eval_set.user_idx), 49)
        if len(self.ndcg) > 0:  # validation calls come first, then one test call
            self.valid_scores.append(scores)
            return {f"ndcg@{k}": self.ndcg.pop(0), f"recall@{k}": 0.0}
        return {f"ndcg@{k}": -1.0}


@pytest.mark.parametrize("backend", BACKENDS)
def test_early_stopping_keeps_the_best_epoch(settings: Settings, backend: str, monkeypatch):
    write_processed(settings.processed_dir)
    evaluation = _ScriptedEvaluation(settings.processed_dir, [0.1, 0.5, 0.2, 0.3])
    monkeypatch.setattr(trainer_loop, "load_eval_set", evaluation.load_eval_set)
    monkeypatch.setattr(trainer_loop, "evaluate_scores", evaluation.evaluate_scores)
    result = train(settings, backend, epochs=5, early_stopping_patience=2, batch_size=64, **TINY)
    assert (result.best_epoch, len(result.losses)) == (2, 4)
    assert result.metrics["valid_ndcg@10"] == 0.5 and result.metrics["test_ndcg@10"] == -1.0
    cfg, params, items = read_serving(serving_dir(settings.registry_dir, result.version))
    valid = load_examples(settings.processed_dir, "valid", cfg.max_history)
    served = spec.scores(
        spec.query_embedding(params, cfg, valid.hist_items, valid.hist_types, valid.user_idx), items, cfg
    )
    np.testing.assert_allclose(served, evaluation.valid_scores[1], atol=1e-4)  # epoch 2's weights
    assert not np.allclose(served, evaluation.valid_scores[3], atol=1e-4)
