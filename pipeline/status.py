"""`make status` and `make down`."""

from __future__ import annotations

from infra import procs
from infra.config import Settings
from ingest.landing import landing_counts
from model.artifact import current_manifest
from pipeline.state import PipelineState


def down(settings: Settings) -> int:
    """Stop every process recorded in the run directory; data stays."""
    stopped = procs.stop_all(settings.run_dir)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _model(settings: Settings) -> list[str]:
    """The served version, its held-out NDCG beside the baselines of the same run, and warnings."""
    version, manifest = current_manifest(settings.registry_dir)
    if version is None:
        return ["none"]
    if manifest is None:
        return [f"{version} (manifest unreadable)"]
    metrics = manifest.get("metrics") or {}
    split = (manifest.get("heldout") or {}).get("split", "test")
    line = f"{version} backend={manifest.get('backend')}"
    ndcg = metrics.get(f"{split}_ndcg@10")
    if ndcg is not None:
        baselines = manifest.get("baselines") or {}
        others = ", ".join(f"{name} {m['ndcg@10']:.4f}" for name, m in baselines.items() if "ndcg@10" in m)
        line += f" {split} ndcg@10={ndcg:.4f}" + (f" ({others})" if others else "")
    return [line] + [f"WARNING: {w}" for w in manifest.get("warnings") or []]


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
        url = state.stages.get("api_url") or f"http://{settings.api_host}:{settings.api_port}"
        print(f"API:       {url}")
    first, *rest = _model(settings)
    print(f"model:     {first}")
    for line in rest:
        print(f"           {line}")
    try:
        counts = landing_counts(settings)
        print(f"events:    {counts['landed']} landed, {counts.get('dead_lettered', 0)} dead-lettered")
    except OSError as exc:
        print(f"events:    unknown ({exc})")
    return 0
