"""Shared fixtures: the real broker on a free port, one local Spark session, isolated settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import procs
from infra.broker import start_broker, stop_broker
from infra.config import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose every path is under this test's tmp dir; Kafka address from the broker fixture."""
    return load_settings(var_dir=tmp_path / "var", kafka_bootstrap_servers="127.0.0.1:1")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Apache Kafka broker for the whole session (or the cluster in KAFKA_BOOTSTRAP_SERVERS)."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    run = tmp_path_factory.mktemp("broker")
    cfg = load_settings(var_dir=run, broker_port=procs.free_port(), kafka_bootstrap_servers="")
    start_broker(cfg)
    try:
        yield cfg.bootstrap_servers
    finally:
        stop_broker(cfg)


@pytest.fixture
def kafka_settings(broker: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings pointing at the session broker, with topic names unique to this test."""
    suffix = request.node.name.replace("[", "-").replace("]", "")[:60]
    return load_settings(
        var_dir=tmp_path / "var",
        kafka_bootstrap_servers=broker,
        events_topic=f"events-{suffix}",
        dead_letter_topic=f"dlq-{suffix}",
        consumer_group=f"landing-{suffix}",
        store_consumer_group=f"store-{suffix}",
        topic_partitions=2,
    )


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole run, with a single shuffle partition (tiny data)."""
    from training.prep.spark_session import build_spark

    session = build_spark(master="local[2]", app_name="tests", shuffle_partitions=1)
    yield session
    session.stop()
