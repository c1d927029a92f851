"""Preprocessing speed: the Spark job on 100k and 1M simulated events (ingest.simulator), written
straight into the landing format with pandas (no Kafka). Goals: 1M events in <= 60 s on 2 cores, and
10x the data in <= 6x the time. Each size runs in a fresh landing zone with the same Spark session
and one untimed 2k-event warm-up run first: neither the JVM start nor the first job's warm-up is
part of the figures). Noisy on a shared machine: see the load average when comparing runs."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from infra.config import load_settings
from tests.bench import row
from tests.training.prep.landing_data import write_catalog, write_events
from training.prep.preprocess import PreprocessConfig, preprocess

SIZES = tuple(int(n) for n in os.environ.get("BENCH_PREPROCESS_SIZES", "100000,1000000").split(","))
GOAL_SECONDS_1M, GOAL_RATIO = 60.0, 6.0
WARM_UP = 2_000


def _land(root: Path, n_events: int):
    from ingest.simulator import generate

    settings = load_settings(var_dir=root / "var", kafka_bootstrap_servers="127.0.0.1:1")
    sim = generate(n_events, seed=7)
    write_events(settings.landing_dir, sim.events)
    write_catalog(settings, sim.catalog.to_dict("records"))
    return settings


def _timed_run(spark, n_events: int) -> float:
    root = Path(tempfile.mkdtemp(prefix=f"bench-preprocess-{n_events}-"))
    try:
        settings = _land(root, n_events)
        started = time.perf_counter()
        manifest = preprocess(settings, PreprocessConfig(), spark=spark)
        seconds = time.perf_counter() - started
        print(f"   {n_events} events -> {manifest['counts']}", flush=True)
        return seconds
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _goal_1m(n: int, seconds: float) -> tuple[str, bool | None]:
    if n != 1_000_000:
        return "", None
    return f"<= {GOAL_SECONDS_1M:.0f} s", seconds <= GOAL_SECONDS_1M


def run() -> list[dict]:
    from training.prep.spark_session import build_spark

    config = PreprocessConfig()
    spark = build_spark(app_name="bench-preprocess", shuffle_partitions=config.shuffle_partitions)
    try:
        _timed_run(spark, WARM_UP)  # JIT, Python workers: so the ratio compares the job, not a cold start
        seconds = {n: _timed_run(spark, n) for n in SIZES}
    finally:
        spark.stop()
    rows = [row(f"preprocess {n:,} events", s, "s", *_goal_1m(n, s), digits=1) for n, s in seconds.items()]
    if len(SIZES) >= 2:
        small, large = SIZES[0], SIZES[-1]
        ratio = seconds[large] / seconds[small]
        measure = f"time ratio {large:,} / {small:,} events ({large // small}x data)"
        rows.append(row(measure, ratio, "x", f"<= {GOAL_RATIO:.0f}x", ratio <= GOAL_RATIO))
    return rows
