"""The producer counts only what the broker acknowledged: with its broker killed mid-run it says how
many events it lost and exits non-zero, instead of reporting every send() as produced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from infra import procs
from infra.broker import start_broker, stop_broker
from infra.config import REPO_ROOT, load_settings
from ingest.produce import produce_events
from ingest.simulator import generate

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
FAST_FAILURE = {
    "request_timeout_ms": 2000,
    "delivery_timeout_ms": 4000,
    "max_block_ms": 2000,
    "retries": 1,
    "retry_backoff_ms": 100,
}


def _own_broker(tmp_path):
    settings = load_settings(
        var_dir=tmp_path / "var", broker_port=procs.free_port(), kafka_bootstrap_servers=""
    )
    start_broker(settings)
    return load_settings(
        var_dir=tmp_path / "var", kafka_bootstrap_servers=settings.bootstrap_servers
    ), settings


def _slow(events, delay_every: int = 500):
    """The events, with a short pause now and then so that the broker dies mid-run."""
    for i, event in enumerate(events):
        if i and i % delay_every == 0:
            time.sleep(0.05)
        yield event


def test_a_broker_lost_mid_run_is_reported_not_hidden(tmp_path):
    settings, broker = _own_broker(tmp_path)
    events = generate(20_000, seed=3).events
    pid = procs.read(broker.run_dir, "broker").pid
    # SIGKILL: the broker is gone at once, as in a crash (SIGTERM would let it finish in order).
    killer = threading.Timer(0.8, os.kill, args=(pid, signal.SIGKILL))
    killer.start()
    try:
        summary = produce_events(settings, _slow(events), progress=False, **FAST_FAILURE)
    finally:
        killer.cancel()
        stop_broker(broker)
    assert summary.lost > 0, summary  # counting send() calls said 20,000
    assert summary.sent + summary.dead_lettered + summary.lost == len(events)


def test_the_cli_exits_non_zero_and_writes_no_summary_when_events_are_lost(tmp_path):
    summary_file = tmp_path / "produced.json"
    env = {"RECSYS_VAR_DIR": str(tmp_path / "var"), "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingest.produce",
            "simulate",
            "--events",
            "50",
            "--no-progress",
            "--summary",
            str(summary_file),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0 and not summary_file.exists()
    assert "error" in out.stderr.lower()
