"""Kafka -> landed Parquet throughput vs a plain kafka-python loop that only consumes, side by side.

The bench starts its own broker on a free port, produces N simulated events once (4 partitions), then
reads the same topic with fresh consumer groups: the plain loop (poll and count, nothing else) and
run_landing (decode, validate, write atomic Parquet, commit), alternating, best of each. Both use the
same consumer settings (ingest.kafka_io.make_consumer, max_poll_records=5000) and are timed from the
first record received to the end (group join excluded; landing includes its final commit). The
process runs with the garbage-collector settings of the landing service (landing.tune_gc), which
apply to both loops alike.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from infra import procs
from infra.broker import start_broker, stop_broker
from infra.config import load_settings
from ingest.kafka_io import make_consumer
from ingest.landing import landing_counts, run_landing, tune_gc
from ingest.produce import produce_events
from ingest.simulator import generate
from tests.bench import row

N_EVENTS = int(os.environ.get("BENCH_INGEST_EVENTS", 200_000))
ROUNDS = 3
GOAL_RATIO = 0.8


def _plain_loop(settings, group: str, n: int) -> float:
    consumer = make_consumer(settings, group, settings.events_topic, max_poll_records=5000)
    seen, first = 0, None
    try:
        while seen < n:
            for records in consumer.poll(timeout_ms=100).values():
                first = first or time.monotonic()
                seen += len(records)
        return n / (time.monotonic() - first)
    finally:
        consumer.close(autocommit=False)


def _landing(settings, group: str, n: int, var: Path) -> float:
    cfg = load_settings(var_dir=var, kafka_bootstrap_servers=settings.bootstrap_servers, consumer_group=group)
    summary = run_landing(cfg, max_events=n)
    counts = landing_counts(cfg)
    if counts["landed"] != n:
        raise RuntimeError(f"landing lost events: {counts['landed']} of {n}")
    return summary.landed / summary.seconds


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        settings = load_settings(
            var_dir=Path(tmp) / "var", broker_port=procs.free_port(), kafka_bootstrap_servers=""
        )
        start_broker(settings)
        try:
            events = generate(N_EVENTS, seed=0).events
            produced = produce_events(settings, events, progress=False)
            del events
            tune_gc()
            plain, landing = [], []
            for r in range(ROUNDS):
                plain.append(_plain_loop(settings, f"plain-{r}", N_EVENTS))
                landing.append(_landing(settings, f"landing-{r}", N_EVENTS, Path(tmp) / f"land-{r}"))
        finally:
            stop_broker(settings)
    ratio = max(landing) / max(plain)
    return [
        row(f"producer, {N_EVENTS} simulated events (validate + acks=all)", produced.rate, "events/s"),
        row("plain kafka-python consume loop (best)", max(plain), "events/s"),
        row("landing: Kafka -> validated atomic Parquet (best)", max(landing), "events/s"),
        row("landing / plain", ratio, "x", f">= {GOAL_RATIO}", ratio >= GOAL_RATIO),
    ]
