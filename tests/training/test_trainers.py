"""The trainer contract, for both backends: the loss falls, the model beats most-popular on learnable
data, the run publishes a version, and a seed makes a run repeatable."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

from infra.config import Settings, load_settings
from model import spec
from model.registry import read_current, serving_dir
from tests.training.processed_data import write_processed
from training import train as train_module
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
def test_learns_beats_most_popular_and_publishes_a_refit_on_everything(settings: Settings, backend: str):
    processed = write_processed(settings.processed_dir)
    result = train(
        settings, backend, epochs=12, batch_size=32, learning_rate=0.01, early_stopping_patience=0, **TINY
    )
    assert result.losses[-1] < 0.8 * result.losses[0]
    assert result.version == read_current(settings.registry_dir) and result.version.endswith(backend)
    assert len(result.seconds_per_epoch) == 12
    # The held-out comparison of the selection run, baselines beside it, in the run's report.
    report = json.loads((settings.var_dir / "reports" / result.version / "report.json").read_text())
    assert set(report["metrics"]) == {backend, "most_popular", "ease"} and report["warnings"] == []
    model_recall = report["metrics"][backend]["recall@10"]
    assert model_recall == result.metrics["test_recall@10"]
    assert model_recall > report["metrics"]["most_popular"]["recall@10"] + 0.1
    # The published model was refit on every interaction, as many epochs as the selection chose.
    manifest = json.loads((serving_dir(settings.registry_dir, result.version) / "manifest.json").read_text())
    assert manifest["fit"]["interactions"] == processed["counts"]["interactions"]  # train + valid + test
    assert manifest["fit"]["epochs"] == result.best_epoch and manifest["heldout"]["split"] == "test"
    assert manifest["baselines"] == {k: report["metrics"][k] for k in ("most_popular", "ease")}
    assert manifest["warnings"] == []
    cfg, params, items = read_serving(serving_dir(settings.registry_dir, result.version))
    selection = _selection_scores(settings, backend, result.best_epoch)
    test = load_examples(settings.processed_dir, "test", cfg.max_history)
    served = spec.scores(
        spec.query_embedding(params, cfg, test.hist_items, test.hist_types, test.user_idx), items, cfg
    )
    assert not np.allclose(served, selection, atol=1e-3)  # not the selection run's weights


def _selection_scores(settings: Settings, backend: str, epochs: int) -> np.ndarray:
    """Scores of the test rows by the same run without the refit (its selected weights)."""
    other = load_settings(
        var_dir=settings.var_dir.parent / "selection", kafka_bootstrap_servers="127.0.0.1:1"
    )
    write_processed(other.processed_dir)
    result = train(
        other,
        backend,
        epochs=12,
        batch_size=32,
        learning_rate=0.01,
        early_stopping_patience=0,
        refit=False,
        **TINY,
    )
    assert result.best_epoch == epochs
    cfg, params, items = read_serving(serving_dir(other.registry_dir, result.version))
    test = load_examples(other.processed_dir, "test", cfg.max_history)
    return spec.scores(
        spec.query_embedding(params, cfg, test.hist_items, test.hist_types, test.user_idx), items, cfg
    )


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

    def __init__(self, processed_dir, ndcg: list[float], se: float = 0.0) -> None:
        super().__init__("training.evaluate")
        self.ndcg, self.se, self.valid_scores = list(ndcg), se, []

    def load_eval_set(self, processed_dir, split: str, *sample):
        return load_examples(processed_dir, split, 10)

    def evaluate_scores(self, score_fn, eval_set, k: int = 10) -> dict[str, float]:
        scores = score_fn(np.arange(len(eval_set.user_idx)))
        assert scores.shape == (len(eval_set.user_idx), 49)
        if len(self.ndcg) > 0:  # validation calls come first, then one test call
            self.valid_scores.append(scores)
            return {f"ndcg@{k}": self.ndcg.pop(0), f"ndcg@{k}_se": self.se, f"recall@{k}": 0.0}
        return {f"ndcg@{k}": -1.0}


def _scripted_run(settings, monkeypatch, backend: str, scores: list[float], epochs: int, se: float = 0.0):
    """A run (patience 2, no refit) whose validation NDCG follows `scores`; (evaluation, result). The
    scores stand for the valid split alone: no profile holdout to score as well."""
    write_processed(settings.processed_dir)
    evaluation = _ScriptedEvaluation(settings.processed_dir, scores, se=se)
    monkeypatch.setattr(trainer_loop, "load_eval_set", evaluation.load_eval_set)
    monkeypatch.setattr(trainer_loop, "evaluate_scores", evaluation.evaluate_scores)
    monkeypatch.setattr(train_module, "run_baselines", lambda *args, **kw: {})
    result = train(
        settings,
        backend,
        epochs=epochs,
        early_stopping_patience=2,
        batch_size=64,
        refit=False,
        profile_holdout=0.0,
        **TINY,
    )
    return evaluation, result


@pytest.mark.parametrize("backend", BACKENDS)
def test_early_stopping_keeps_the_best_epoch(settings: Settings, backend: str, monkeypatch):
    evaluation, result = _scripted_run(settings, monkeypatch, backend, [0.1, 0.5, 0.2, 0.3], epochs=5)
    assert (result.best_epoch, len(result.losses)) == (2, 4)
    assert result.metrics["valid_ndcg@10"] == 0.5 and result.metrics["test_ndcg@10"] == -1.0
    cfg, params, items = read_serving(serving_dir(settings.registry_dir, result.version))
    valid = load_examples(settings.processed_dir, "valid", cfg.max_history)
    served = spec.scores(
        spec.query_embedding(params, cfg, valid.hist_items, valid.hist_types, valid.user_idx), items, cfg
    )
    np.testing.assert_allclose(served, evaluation.valid_scores[1], atol=1e-4)  # epoch 2's weights
    assert not np.allclose(served, evaluation.valid_scores[3], atol=1e-4)


def test_a_later_epoch_level_with_the_best_within_its_standard_error_is_chosen(
    settings: Settings, monkeypatch
):
    # Epoch 3 is 0.03 below epoch 2, within the 0.05 standard error: no evidence it is worse, and it
    # has trained longer. Epochs 4 and 5 fall below the band: early stopping after two of them.
    scores = [0.1, 0.5, 0.47, 0.3, 0.2, 0.9]
    _, result = _scripted_run(settings, monkeypatch, "pytorch", scores, epochs=6, se=0.05)
    assert (result.best_epoch, len(result.losses)) == (3, 5)
    assert result.metrics["valid_ndcg@10"] == 0.47
    assert trainer_loop.selection_se(
        {"ndcg@10_se": 0.03, "profile_ndcg@10_se": 0.04, "ndcg@10": 0.2, "profile_ndcg@10": 0.1}, 10
    ) == pytest.approx(0.025)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_that_loses_to_most_popular_is_published_with_a_warning(
    settings: Settings, backend: str, capsys
):
    # Every held-out target is the catalogue's most popular item, which no user has yet: most-popular
    # is perfect there, and a model that has barely moved from its random start is not.
    manifest = write_processed(settings.processed_dir, seed=3)
    target = _make_one_item_win(settings)
    result = train(settings, backend, epochs=1, batch_size=64, learning_rate=1e-9, **TINY)
    assert result.baselines["most_popular"]["ndcg@10"] == 1.0, target
    assert result.version is not None and len(result.warnings) == 1
    assert "loses to most-popular" in result.warnings[0]
    report = (settings.var_dir / "reports" / result.version / "report.md").read_text()
    assert "**WARNING:" in report and "loses to most-popular" in report
    served = json.loads((serving_dir(settings.registry_dir, result.version) / "manifest.json").read_text())
    assert served["warnings"] == result.warnings and manifest["max_history"] == 10
    status = _status_lines(settings, capsys)
    assert "WARNING:" in status and "most_popular 1.0000" in status


def _make_one_item_win(settings: Settings) -> int:
    """Rewrite the processed splits: half the users (A) get item `winner` in train and lose their
    test rows; the other half (B) never have it in train or valid, and it is their every test target."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    processed = settings.processed_dir
    tables = {split: pq.read_table(processed / split) for split in ("train", "valid", "test")}
    frames = {split: table.to_pandas() for split, table in tables.items()}
    winner = 1
    users = sorted(frames["train"]["user_idx"].unique())
    group_a = set(users[::2])
    train = frames["train"]
    in_a = train["user_idx"].isin(group_a)
    first_of_a = in_a & ~train.duplicated("user_idx")
    train.loc[first_of_a, "item_idx"] = winner
    for split in ("train", "valid"):  # group B never has the winner before the test
        frame = frames[split]
        frame.loc[~frame["user_idx"].isin(group_a) & (frame["item_idx"] == winner), "item_idx"] = winner + 1
    test = frames["test"][~frames["test"]["user_idx"].isin(group_a)].copy()
    test["item_idx"] = winner
    frames["test"] = test
    for split, frame in frames.items():
        table = pa.Table.from_pandas(frame, schema=tables[split].schema, preserve_index=False)
        pq.write_table(table, processed / split / "part-00000.parquet")
    return winner


def _status_lines(settings: Settings, capsys) -> str:
    from pipeline.status import status

    capsys.readouterr()
    status(settings)
    return capsys.readouterr().out


def test_the_epoch_is_chosen_on_both_questions_when_both_holdouts_exist():
    selection_score = trainer_loop.selection_score
    assert selection_score({"ndcg@10": 0.2, "profile_ndcg@10": 0.4}, 10, loss=3.0) == pytest.approx(0.3)
    assert selection_score({"ndcg@10": 0.2}, 10, loss=3.0) == pytest.approx(0.2)
    assert selection_score({"profile_ndcg@10": 0.4}, 10, loss=3.0) == pytest.approx(0.4)
    assert selection_score({}, 10, loss=3.0) == -3.0
