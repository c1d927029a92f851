"""`python -m training.train --backend tensorflow|pytorch`: train on the processed data and publish.

`train(settings, "pytorch", epochs=1, embedding_dim=8)` is the plain function: it reads the processed
data, starts the chosen backend (imported lazily: the other framework is never loaded) from
`model.spec.init_params`, runs the loop (training.trainer.fit), publishes the best epoch's model
(training.publish) and writes the run's report. The CLI only parses flags, which override the
`[train]` table of the config file (RECSYS_CONFIG, default ./recsys.toml).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from infra.config import Settings, load_settings
from infra.logs import setup_logging
from model.spec import ModelConfig, init_params
from training.backends import BACKENDS, backend_module
from training.backends.base import BackendTrainer
from training.baselines import run_baselines
from training.batches import Catalog, Examples, load_catalog
from training.config import TrainConfig, model_config_for
from training.evaluate import EvalSet, profile_eval_set
from training.examples import Interactions, build_examples, hold_out_profile, load_interactions
from training.prep.dataset import read_manifest, vocab_sizes
from training.publish import publish as publish_version
from training.report import write_report
from training.trainer import Holdout, TrainResult, fit, fit_epochs

log = logging.getLogger(__name__)


def make_trainer(
    name: str, model_config: ModelConfig, train_config: TrainConfig, **kwargs: Any
) -> BackendTrainer:
    """A backend trainer started from `init_params(model_config, seed)` unless params are given."""
    params = kwargs.pop("params", None) or init_params(model_config, train_config.seed)
    return backend_module(name).Trainer(model_config, train_config, params, **kwargs)


def trainer_for(
    backend: str, model_config: ModelConfig, cfg: TrainConfig, catalog: Catalog
) -> BackendTrainer:
    """A fresh trainer at the initial weights, over this catalogue's item features and popularity."""
    return make_trainer(
        backend,
        model_config,
        cfg,
        item_features=catalog.item_features,
        item_log_q=item_log_q(catalog.item_popularity),
    )


def item_log_q(popularity: np.ndarray) -> np.ndarray:
    """log of each item's share of training interactions: the in-batch sampling probability (logQ)."""
    counts = popularity.astype(np.float64) + 1e-3  # unseen items: tiny, finite probability
    return np.log(counts / counts.sum()).astype(np.float32)


def training_examples(inter: Interactions, cfg: TrainConfig, max_history: int) -> Examples:
    """The examples of cfg.examples (training.examples) built from these interactions."""
    kinds = ("next", "profile") if cfg.examples == "both" else (cfg.examples,)
    return build_examples(inter, kinds, max_history)


def prepare_run(
    backend: str, processed: Path, manifest: dict[str, Any], train_config: TrainConfig
) -> tuple[BackendTrainer, ModelConfig, Examples, Catalog, EvalSet | None]:
    """(backend trainer at its initial weights, architecture, train examples, catalog, profile
    holdout) for the processed data at `processed`: what every selection run starts from. The
    examples come from the train split less the profile holdout (training.examples.hold_out_profile)."""
    model_config = model_config_for(vocab_sizes(manifest), int(manifest.get("max_history", 50)), train_config)
    cfg = train_config
    kept, held = hold_out_profile(
        load_interactions(processed, ("train",)), cfg.eval_max_users, cfg.profile_holdout, cfg.seed
    )
    examples = training_examples(kept, cfg, model_config.max_history)
    profile = (
        profile_eval_set(kept, held, model_config.n_items, model_config.max_history) if len(held) else None
    )
    catalog = load_catalog(processed, model_config.n_items, model_config.n_users)
    trainer = trainer_for(backend, model_config, cfg, catalog)
    return trainer, model_config, examples, catalog, profile


def train(settings: Settings, backend: str, *, publish: bool = True, **overrides: Any) -> TrainResult:
    """Train `backend` on settings.processed_dir: choose the epoch count on the validation split,
    score the chosen model and the baselines on the holdout, refit on every interaction (unless
    `refit = false`), and publish; a model that loses to most-popular is published with a warning."""
    cfg = TrainConfig.load(**overrides)
    processed = settings.processed_dir
    manifest = read_manifest(processed)
    trainer, model_config, examples, catalog, profile = prepare_run(backend, processed, manifest, cfg)
    if not len(examples):
        raise ValueError(f"{processed}/train is empty: nothing to train on")
    holdout = dataclasses.replace(Holdout.load(processed, cfg), profile=profile)
    result = fit(trainer, backend, model_config, cfg, examples, holdout)
    if holdout.final is not None:
        split, eval_set = holdout.final
        result.baselines = run_baselines(processed, split, cfg.eval_k, eval_set=eval_set)
        result.heldout = {"split": split, "users": len(eval_set)}
    if cfg.refit:
        trainer, catalog, fitted = refit(backend, model_config, cfg, processed, catalog, result.best_epoch)
        result.fit = {"interactions": fitted, "epochs": result.best_epoch, "splits": "train+valid+test"}
    else:
        result.fit = {"interactions": len(examples), "epochs": result.best_epoch, "splits": "train"}
    result.warnings = loses_to_most_popular(result, cfg.eval_k)
    if publish:
        result.version = publish_version(
            settings,
            backend,
            trainer,
            model_config=model_config,
            train_config=cfg,
            catalog=catalog,
            manifest=manifest,
            metrics=result.metrics,
            extra={
                "baselines": result.baselines,
                "heldout": result.heldout,
                "fit": result.fit,
                "warnings": result.warnings,
            },
        )
    for warning in result.warnings:
        log.warning("%s", warning)
    write_run_report(settings.var_dir / "reports" / (result.version or f"unpublished-{backend}"), result)
    return result


def refit(
    backend: str, model_config: ModelConfig, cfg: TrainConfig, processed: Path, catalog: Catalog, epochs: int
) -> tuple[BackendTrainer, Catalog, int]:
    """A new model from the same initial weights, trained on every interaction for `epochs` epochs:
    what gets published, so the newest interactions and items are in it. Returns (trainer, catalog
    with popularity over all interactions, number of interactions)."""
    inter = load_interactions(processed, ("train", "valid", "test"))
    everything = training_examples(inter, cfg, model_config.max_history)
    popularity = np.bincount(inter.item_idx, minlength=model_config.n_items)[: model_config.n_items]
    catalog = dataclasses.replace(catalog, item_popularity=popularity.astype(np.int64))
    trainer = trainer_for(backend, model_config, cfg, catalog)
    losses = fit_epochs(trainer, cfg, everything, epochs)
    log.info("%s refit on %d interactions for %d epochs: losses %s", backend, len(inter), epochs, losses)
    return trainer, catalog, len(inter)


def loses_to_most_popular(result: TrainResult, k: int) -> list[str]:
    """The warning a run carries when its model ranks worse than most-popular on its own holdout."""
    split = result.heldout.get("split")
    key = f"ndcg@{k}"
    model, popular = result.metrics.get(f"{split}_{key}"), result.baselines.get("most_popular", {}).get(key)
    if model is None or popular is None or model >= popular:
        return []
    return [
        f"{result.backend} model loses to most-popular on its holdout ({split}): {key} "
        f"{model:.4f} < {popular:.4f}. It is published, but a most-popular list would serve better."
    ]


def write_run_report(out_dir: Path, result: TrainResult) -> None:
    """The run's table (the model's held-out metrics beside the baselines') and per-epoch curves
    (loss and every validation metric) as files; warnings at the top of report.md."""
    series = sorted({key for row in result.history for key in row} - {"epoch", "seconds", "loss"})
    curves = {"loss": [row["loss"] for row in result.history]}
    curves.update({f"valid_{name}": [row.get(name, math.nan) for row in result.history] for name in series})
    write_report(out_dir, heldout_table(result), {result.backend: curves}, result.warnings)


def heldout_table(result: TrainResult) -> dict[str, dict[str, float]]:
    """model and baselines -> their metrics on the holdout (the model's from the selection run)."""
    split = result.heldout.get("split", "test")
    prefix = f"{split}_"
    own = {k.removeprefix(prefix): v for k, v in result.metrics.items() if k.startswith(prefix)}
    return {result.backend: own or dict(result.metrics), **result.baselines}


def summary_lines(result: TrainResult, k: int) -> list[str]:
    """What `make train` / `make up` print: the held-out comparison, the published version, warnings."""
    key = f"ndcg@{k}"
    held = result.heldout
    lines = [f"held-out {key} ({held.get('split', '-')}, {held.get('users', 0)} users):"]
    lines += [
        f"  {name:<14} {metrics.get(key, math.nan):.4f}" for name, metrics in heldout_table(result).items()
    ]
    fit_info = result.fit
    lines.append(
        f"published {result.version or '(not published)'}: fit on {fit_info.get('interactions', 0):,} "
        f"interactions ({fit_info.get('splits')}) for {fit_info.get('epochs')} epochs"
    )
    lines += [f"WARNING: {w}" for w in result.warnings]
    return lines


def _hidden(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", required=True, choices=sorted(BACKENDS))
    parser.add_argument("--config", help="TOML config file with a [train] table")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--embedding-dim", type=int)
    parser.add_argument("--output-dim", type=int)
    parser.add_argument("--query-hidden", type=_hidden, help="comma-separated layer sizes, e.g. 128,64")
    parser.add_argument("--item-hidden", type=_hidden)
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--user-dropout", type=float)
    parser.add_argument("--loss", choices=["auto", "full", "sampled"])
    parser.add_argument(
        "--embedding-updates",
        choices=["lazy", "dense"],
        help="lazy (default): Adam steps only the id-table rows a batch looks up; dense: every row",
    )
    parser.add_argument("--seed", type=int)
    parser.add_argument("--early-stopping-patience", type=int)
    parser.add_argument("--no-publish", action="store_true", help="train and evaluate only")
    parser.add_argument("--json", action="store_true", help="print the run's summary as JSON, not a table")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging("train")
    overrides = {k: v for k, v in vars(args).items() if k not in ("backend", "config", "no_publish", "json")}
    settings = load_settings(args.config)
    if args.config:
        overrides["config_path"] = args.config
    try:
        result = train(settings, args.backend, publish=not args.no_publish, **overrides)
    except (FileNotFoundError, ValueError) as exc:  # missing data or bad settings: say so, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        summary = {
            "version": result.version,
            "backend": result.backend,
            "best_epoch": result.best_epoch,
            "seconds_per_epoch": [round(s, 2) for s in result.seconds_per_epoch],
            "metrics": result.metrics,
            "baselines": result.baselines,
            "heldout": result.heldout,
            "fit": result.fit,
            "warnings": result.warnings,
        }
        print(json.dumps(summary, indent=2))
    else:
        print("\n".join(summary_lines(result, TrainConfig.load(**overrides).eval_k)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
