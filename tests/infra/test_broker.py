"""The embedded broker (Apache Kafka in KRaft mode, from Maven's jars) and topic creation, for real."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, TopicPartition
from kafka.structs import OffsetAndMetadata

from infra import procs
from infra.broker import BrokerError, kafka_dir, start_broker, stop_broker
from infra.config import REPO_ROOT, load_settings
from infra.kafka_jars import SetupError, java
from ingest.kafka_io import ensure_topics, make_consumer, make_producer

pytestmark = pytest.mark.kafka


def _own_broker(tmp_path: Path, port: int | None = None):
    return load_settings(
        var_dir=tmp_path / "var",
        broker_port=port or procs.free_port(),
        kafka_bootstrap_servers="",
        events_topic="kept",
        topic_partitions=2,
    )


def _produce(settings, count: int) -> None:
    producer = make_producer(settings)
    futures = [producer.send(settings.events_topic, key=b"k%d" % i, value=b"r%d" % i) for i in range(count)]
    producer.flush()
    for future in futures:
        future.get(timeout=10)
    producer.close()


def _read_all(settings, group: str | None, expect: int) -> list[bytes]:
    consumer = make_consumer(settings, group, settings.events_topic)
    seen: list[bytes] = []
    for _ in range(40):
        for records in consumer.poll(timeout_ms=500).values():
            seen.extend(r.value for r in records)
        if len(seen) >= expect:
            break
    consumer.close()
    return seen


@pytest.mark.slow
def test_a_restarted_broker_keeps_its_topics_records_and_committed_offsets(tmp_path):
    cfg = _own_broker(tmp_path)
    first = start_broker(cfg)
    assert first is not None and (cfg.run_dir / "broker.pid").exists()
    assert start_broker(cfg).pid == first.pid  # idempotent: a second start reuses the running broker
    try:
        ensure_topics(cfg, [cfg.events_topic])
        _produce(cfg, 30)
        consumer = make_consumer(cfg, "kept-group")
        partitions = [TopicPartition(cfg.events_topic, p) for p in range(2)]
        consumer.commit({tp: OffsetAndMetadata(3, "", -1) for tp in partitions})
        consumer.close()
    finally:
        assert stop_broker(cfg)
    assert procs.read(cfg.run_dir, "broker") is None and not stop_broker(cfg)

    second = start_broker(cfg)  # same var dir: no new format, same cluster
    try:
        admin = KafkaAdminClient(bootstrap_servers=cfg.bootstrap_servers)
        assert cfg.events_topic in admin.list_topics()
        admin.close()
        assert sorted(_read_all(cfg, None, 30)) == sorted(b"r%d" % i for i in range(30))
        consumer = make_consumer(cfg, "kept-group")
        assert [consumer.committed(tp) for tp in partitions] == [3, 3]
        consumer.close()
        # The group resumes where it committed: 30 records, 3 per partition behind the commit.
        assert len(_read_all(cfg, "kept-group", 24)) == 24
    finally:
        stop_broker(cfg)
    assert second.pid != first.pid


def test_external_cluster_starts_nothing(tmp_path):
    cfg = load_settings(var_dir=tmp_path, kafka_bootstrap_servers="kafka.example:9092")
    assert start_broker(cfg) is None
    assert not (tmp_path / "run" / "broker.pid").exists()
    assert not kafka_dir(cfg).exists()


def test_topics_created_and_round_trip(kafka_settings):
    ensure_topics(kafka_settings)
    ensure_topics(kafka_settings)  # idempotent
    _produce(kafka_settings, 20)
    assert sorted(_read_all(kafka_settings, "g", 20)) == sorted(b"r%d" % i for i in range(20))


@pytest.mark.slow
def test_a_broker_that_cannot_start_says_why_with_its_log(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cfg = _own_broker(tmp_path, port=taken.getsockname()[1])
        with pytest.raises(BrokerError) as failure:
            start_broker(cfg, timeout=60)
    message = str(failure.value)
    assert "did not come up" in message and str(cfg.run_dir / "broker.log") in message
    assert "Address already in use" in message  # Kafka's own words, from the end of its log
    assert procs.read(cfg.run_dir, "broker") is None


def test_without_java_the_start_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    with pytest.raises(SetupError, match="Java 17 or newer is needed"):
        start_broker(_own_broker(tmp_path))


def test_without_maven_the_first_start_says_what_to_install(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(java())
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))  # nothing resolved yet
    with pytest.raises(SetupError, match=r"Maven \(`mvn`\) is needed"):
        start_broker(_own_broker(tmp_path))


def test_the_cli_says_it_in_a_sentence_not_a_traceback(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path), "RECSYS_VAR_DIR": str(tmp_path / "var")}
    env.pop("JAVA_HOME", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    done = subprocess.run(
        [sys.executable, "-m", "infra.broker", "start"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Java 17 or newer is needed" in done.stderr and "Traceback" not in done.stderr
