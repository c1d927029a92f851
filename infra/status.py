"""`make status` and `make down`."""

from __future__ import annotations

import json

from infra import procs
from infra.config import Settings
from infra.state import PipelineState


def down(settings: Settings) -> int:
    """Stop every process recorded in the run directory; data stays."""
    stopped = procs.stop_all(settings.run_dir)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _model(settings: Settings) -> str:
    pointer = settings.registry_dir / "current"
    if not pointer.is_file():
        return "none"
    version = pointer.read_text().strip()
    manifest = settings.registry_dir / "versions" / version / "serving" / "manifest.json"
    try:
        info = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return f"{version} (manifest unreadable)"
    ndcg = info.get("metrics", {}).get("test", {}).get("ndcg@10")
    return f"{version} backend={info.get('backend')}" + (f" test ndcg@10={ndcg:.4f}" if ndcg else "")


def status(settings: Settings) -> int:
    state = PipelineState.load(settings.var_dir)
    print(f"data set:  {state.dataset or 'none yet'}")
    print(f"Kafka:     {settings.bootstrap_servers}" + (" (embedded)" if settings.embedded_broker else ""))
    running = procs.running(settings.run_dir)
    for p in running:
        print(f"running:   {p.name:<15} pid {p.pid:<8} log {p.log}")
    if not running:
        print("running:   nothing")
    if procs.read(settings.run_dir, "api"):
        print(f"API:       http://{settings.api_host}:{settings.api_port}")
    print(f"model:     {_model(settings)}")
    try:
        from ingest.landing import landing_counts

        counts = landing_counts(settings)
        print(f"events:    {counts['landed']} landed, {counts.get('dead_lettered', 0)} dead-lettered")
    except (ImportError, OSError) as exc:
        print(f"events:    unknown ({exc})")
    return 0
