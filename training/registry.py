"""`python -m training.registry list | show VERSION | promote VERSION | rollback`: the model registry
(layout: model.registry) as an operator uses it.

- list: every version, oldest first, with backend, data snapshot, the selection run's held-out
  NDCG@10 beside its baselines, what the published model was fit on, and which one serves (*);
- show: one version's whole record (version.json) as JSON;
- promote: point `current` at a version after the checks a publish runs (the serving artifact loads
  as the API loads it, and its numpy scores match the native model's); the running API reloads it
  within a second;
- rollback: back to the version that served before the current one (the registry's history).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from infra.config import Settings, load_settings
from model.artifact import ArtifactError, load_serving_artifact
from model.registry import (
    NATIVE,
    VERSION_RECORD,
    list_versions,
    read_current,
    roll_back,
    serving_dir,
    version_dir,
    write_current,
)


class RegistryCommandError(RuntimeError):
    """What the command refuses to do, in a sentence."""


def record(registry_dir: Path, version: str) -> dict[str, Any]:
    """version.json of `version` (its backend, snapshot, config, held-out metrics, baselines, fit)."""
    path = version_dir(registry_dir, version) / VERSION_RECORD
    if not path.is_file():
        raise RegistryCommandError(f"no such model version: {version}")
    return json.loads(path.read_text())


def rows(registry_dir: Path) -> list[dict[str, Any]]:
    """One summary per version, oldest first."""
    current = read_current(registry_dir)
    out = []
    for version in list_versions(registry_dir):
        try:
            rec = record(registry_dir, version)
        except (RegistryCommandError, ValueError):
            rec = {}
        split = (rec.get("heldout") or {}).get("split", "test")
        baselines = rec.get("baselines") or {}
        out.append(
            {
                "version": version,
                "current": version == current,
                "backend": rec.get("backend"),
                "created_at": rec.get("created_at"),
                "snapshot_id": rec.get("snapshot_id"),
                "split": split,
                "ndcg@10": (rec.get("metrics") or {}).get(f"{split}_ndcg@10"),
                "baselines": {name: m.get("ndcg@10") for name, m in baselines.items()},
                "fit": rec.get("fit") or {},
                "warnings": rec.get("warnings") or [],
            }
        )
    return out


def format_rows(summaries: list[dict[str, Any]]) -> str:
    if not summaries:
        return "no versions yet: make train (or make up) publishes one"
    lines = [f"  {'version':<20} {'created':<20} {'snapshot':<17} held-out ndcg@10 (baselines)   fit"]
    for r in summaries:
        ndcg = "-" if r["ndcg@10"] is None else f"{r['ndcg@10']:.4f} {r['split']}"
        others = ", ".join(f"{k} {v:.4f}" for k, v in r["baselines"].items() if v is not None)
        fit = r["fit"]
        fitted = f"{fit.get('interactions', '?'):,} x {fit.get('epochs', '?')} ep" if fit else "-"
        mark = "*" if r["current"] else " "
        warn = "  WARNING: loses to most-popular" if r["warnings"] else ""
        lines.append(
            f"{mark} {r['version']:<20} {str(r['created_at'] or '-'):<20} {str(r['snapshot_id'] or '-'):<17} "
            f"{ndcg}{f' ({others})' if others else ''}   {fitted}{warn}"
        )
    return "\n".join(lines)


def check(registry_dir: Path, version: str) -> str:
    """The checks of a publish, on an existing version; returns what was checked."""
    from training.publish import ITEM_FEATURES_FILE, validate_version

    rec = record(registry_dir, version)
    try:
        load_serving_artifact(version_dir(registry_dir, version))  # what the API runs on load
    except (ArtifactError, OSError, ValueError) as exc:
        raise RegistryCommandError(f"{version} does not load as the API would load it: {exc}") from exc
    if not (version_dir(registry_dir, version) / NATIVE / ITEM_FEATURES_FILE).is_file():
        return "serving artifact (published before native checks could be repeated)"
    try:
        validate_version(version_dir(registry_dir, version), rec["backend"])
    except Exception as exc:  # any failure of the native model refuses the promotion
        raise RegistryCommandError(f"{version} fails validation: {exc}") from exc
    return "serving artifact and native model"


def promote(registry_dir: Path, version: str) -> str:
    if not serving_dir(registry_dir, version).is_dir():
        raise RegistryCommandError(f"no such model version: {version}")
    checked = check(registry_dir, version)
    write_current(registry_dir, version)
    return checked


def rollback(registry_dir: Path) -> tuple[str, str]:
    """Back to the version that served before the current one (after the publish checks); repeated,
    it walks further back. Returns (from, to)."""
    try:
        return roll_back(registry_dir, check=lambda version: check(registry_dir, version))
    except LookupError as exc:
        raise RegistryCommandError(str(exc)) from exc


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.registry", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="every version; * marks the one serving")
    listing.add_argument("--json", action="store_true")
    sub.add_parser("show", help="one version's record").add_argument("version")
    sub.add_parser("promote", help="serve this version (after the publish checks)").add_argument("version")
    sub.add_parser("rollback", help="serve the version that served before the current one")
    args = parser.parse_args(argv)
    registry_dir = (settings or load_settings()).registry_dir
    try:
        if args.command == "list":
            summaries = rows(registry_dir)
            print(json.dumps(summaries, indent=2) if args.json else format_rows(summaries))
        elif args.command == "show":
            print(json.dumps(record(registry_dir, args.version), indent=2))
        elif args.command == "promote":
            checked = promote(registry_dir, args.version)
            print(f"current -> {args.version} (checked: {checked}); the API reloads it within a second")
        else:
            was, now = rollback(registry_dir)
            print(f"current: {was} -> {now}; the API reloads it within a second")
    except RegistryCommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
