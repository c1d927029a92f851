"""Consumers as `make up` runs them, under infra.supervise: killed, they come back and lose nothing."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from infra import procs
from infra.supervise import supervise
from ingest.landing import landing_counts
from ingest.produce import produce_events
from ingest.simulator import generate
from pipeline.stages import STAGES, Run
from pipeline.state import PipelineState
from pipeline.up import start_service
from tests.ingest.helpers import child_env


def _children(pid: int, module: str) -> list[int]:
    """Live processes whose parent is `pid` and that run `python -m module`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            args = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[1]) == pid and module.encode() in args:
            found.append(int(stat.parent.name))
    return found


def _wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


def test_supervise_restarts_with_backoff_until_stopped(tmp_path, capsys):
    import threading

    marker = tmp_path / "starts"
    script = f"open({str(marker)!r}, 'a').write('x'); raise SystemExit(3)"
    stop = threading.Event()
    thread = threading.Thread(target=supervise, args=([sys.executable, "-c", script], stop))
    thread.start()
    _wait_for(lambda: marker.exists() and len(marker.read_text()) >= 3, timeout=20)  # at 0, 1, 3 s
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    out = capsys.readouterr().out
    assert "exited with status 3" in out and "restarting in 1 s" in out and "restarting in 2 s" in out


@pytest.mark.kafka
@pytest.mark.slow
def test_a_sigkilled_landing_consumer_comes_back_and_loses_nothing(kafka_settings, monkeypatch):
    for name, value in child_env(kafka_settings).items():  # the test's topics and group, for the child
        monkeypatch.setenv(name, value)
    run = Run(kafka_settings, PipelineState(), "pytorch", 0, None)
    stage = next(s for s in STAGES if s.name == "landing")
    acked = produce_events(kafka_settings, generate(3000, seed=31).events, progress=False).sent
    start_service(run, stage, stage.command(run))
    supervisor = procs.read(kafka_settings.run_dir, "landing")
    try:
        _wait_for(lambda: landing_counts(kafka_settings)["landed"] > 0)
        (first,) = _wait_for(lambda: _children(supervisor.pid, "ingest.landing"))
        os.kill(first, signal.SIGKILL)
        acked += produce_events(kafka_settings, generate(3000, seed=32).events, progress=False).sent
        (second,) = _wait_for(lambda: [p for p in _children(supervisor.pid, "ingest.landing") if p != first])
        _wait_for(lambda: landing_counts(kafka_settings)["landed"] >= acked, timeout=90)
        acked += produce_events(kafka_settings, generate(1000, seed=33).events, progress=False).sent
        _wait_for(lambda: landing_counts(kafka_settings)["landed"] >= acked, timeout=60)
        assert landing_counts(kafka_settings)["landed"] == acked == 7000
        assert "restarting ingest.landing" in supervisor.log.read_text()
    finally:
        assert procs.stop(kafka_settings.run_dir, "landing")
    assert not procs.read(kafka_settings.run_dir, "landing")
