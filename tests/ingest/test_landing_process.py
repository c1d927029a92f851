"""The landing CLI as a real process: SIGKILL loses nothing, SIGTERM finishes the batch and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from infra.config import REPO_ROOT
from ingest.landing import landing_counts
from ingest.produce import produce_events
from ingest.simulator import generate
from tests.ingest.helpers import start_landing

pytestmark = pytest.mark.kafka


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _writers_of(pid: int) -> list[int]:
    """Live `python -m ingest.land_writer` children started by landing process `pid`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"ingest.land_writer" in args and args[-2:-1] == [str(pid).encode()]:
            state = (cmdline.parent / "stat").read_text().split(")")[-1].split()[0]
            if state != "Z":
                found.append(int(cmdline.parent.name))
    return found


@pytest.mark.slow
def test_sigkill_mid_stream_then_restart_loses_nothing(kafka_settings, tmp_path):
    n = 20_000
    events = generate(n, seed=7).events
    produce_events(kafka_settings, events, progress=False)
    log = tmp_path / "landing.log"
    # Batches of 200 (100 files): at the default size one batch can hold the whole topic, and the
    # first file to land is then the last, so a kill "mid-stream" would come after everything landed.
    small = ("--batch-size", "200")
    for _ in range(2):  # two kills, each right after some files landed and while more are coming
        proc = start_landing(kafka_settings, log, *small)
        before = landing_counts(kafka_settings)["files"]
        _wait_for(lambda b=before: landing_counts(kafka_settings)["files"] > b)
        assert _writers_of(proc.pid), "the landing consumer runs its writer process"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        _wait_for(lambda p=proc.pid: not _writers_of(p), timeout=10)  # the writer dies with it
    assert landing_counts(kafka_settings)["landed"] < n, "the kills came too late to test anything"
    proc = start_landing(kafka_settings, log, *small, "--idle-timeout", "3")
    assert proc.wait(timeout=120) == 0, log.read_text()
    counts = landing_counts(kafka_settings)
    assert counts["landed"] == n, log.read_text()
    assert counts["rows"] >= n  # redelivered duplicates are allowed; Spark dedups


@pytest.mark.slow
def test_sigterm_finishes_batch_commits_and_exits_zero(kafka_settings, tmp_path):
    log = tmp_path / "landing.log"
    proc = start_landing(kafka_settings, log)
    produce_events(kafka_settings, generate(200, seed=8).events, progress=False)
    _wait_for(lambda: landing_counts(kafka_settings)["landed"] == 200)  # trickles land within ~1 s
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, log.read_text()
    assert "200 events landed" in log.read_text()
    assert not _writers_of(proc.pid)
    # Offsets were committed: a new run finds nothing more to land.
    again = start_landing(kafka_settings, log, "--idle-timeout", "1.5")
    assert again.wait(timeout=60) == 0
    assert landing_counts(kafka_settings)["rows"] == 200


@pytest.mark.slow
def test_an_unwritable_landing_zone_commits_nothing_loses_nothing_and_lands_when_writable(
    kafka_settings, tmp_path
):
    """The landing zone made unwritable by putting a file where its `events` directory goes (the
    tests run as root, which chmod does not stop): every batch fails to land, the service retries with
    backoff and commits nothing; once the file is gone it lands everything by itself."""
    events_dir = kafka_settings.landing_dir / "events"
    events_dir.parent.mkdir(parents=True)
    events_dir.write_text("in the way")
    produce_events(kafka_settings, generate(1000, seed=41).events, progress=False)
    log = tmp_path / "landing.log"
    proc = start_landing(kafka_settings, log)  # as a service: no --max-events, no --idle-timeout
    try:
        _wait_for(lambda: log.read_text().count("retrying in") >= 2 or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, log.read_text()
        admin = KafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
        try:
            group = kafka_settings.consumer_group
            committed = admin.list_group_offsets(group).get(group, {})
        finally:
            admin.close()
        assert not [o for o in committed.values() if o.offset > 0], committed
        events_dir.unlink()
        _wait_for(lambda: landing_counts(kafka_settings)["landed"] == 1000, timeout=90)
        assert proc.poll() is None, log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()


@pytest.mark.slow
def test_a_killed_writer_is_reported_as_itself_and_the_service_lands_everything(kafka_settings, tmp_path):
    """The writer process SIGKILLed: the run ends with the writer's own error (closing the consumer
    does not hide it), nothing of the lost batch is committed, and the service starts over and lands
    every event."""
    produce_events(kafka_settings, generate(2000, seed=51).events, progress=False)
    log = tmp_path / "landing.log"
    proc = start_landing(kafka_settings, log, "--batch-size", "200")  # a service
    try:
        _wait_for(lambda: landing_counts(kafka_settings)["files"] > 0)
        for writer in _writers_of(proc.pid):
            os.kill(writer, signal.SIGKILL)
        produce_events(kafka_settings, generate(2000, seed=52).events, progress=False)
        _wait_for(lambda: landing_counts(kafka_settings)["landed"] == 4000, timeout=90)
        assert proc.poll() is None, log.read_text()
        text = log.read_text()
        assert "WriterError('landing writer died" in text and "retrying in" in text, text
        assert "rebalance callback" not in text, text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()


def test_landing_cli_help():
    out = subprocess.run(
        [sys.executable, "-m", "ingest.landing", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert all(flag in out.stdout for flag in ("--max-events", "--idle-timeout", "--batch-size"))
