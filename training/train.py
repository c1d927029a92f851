"""`python -m training.train --backend tensorflow|pytorch`: train on the processed data and publish.

Flags override the `[train]` table of the config file (RECSYS_CONFIG, default ./recsys.toml).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from infra.config import load_settings
from training.trainer import BACKENDS, train


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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    overrides = {k: v for k, v in vars(args).items() if k not in ("backend", "config", "no_publish")}
    settings = load_settings(args.config)
    if args.config:
        overrides["config_path"] = args.config
    try:
        result = train(settings, args.backend, publish=not args.no_publish, **overrides)
    except (FileNotFoundError, ValueError) as exc:  # missing data or bad settings: say so, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = {
        "version": result.version,
        "backend": result.backend,
        "best_epoch": result.best_epoch,
        "seconds_per_epoch": [round(s, 2) for s in result.seconds_per_epoch],
        "metrics": result.metrics,
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
