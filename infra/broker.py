"""The embedded broker: a single-node Apache Kafka in KRaft mode (broker and controller in one JVM).

Started only when no external cluster is configured (`KAFKA_BOOTSTRAP_SERVERS` unset), from the
official jars (infra/kafka_jars.py). Everything it keeps is under var/kafka: `node.json` (the cluster
id and the controller's port, chosen once: the quorum's metadata records the controller's address),
the `server.properties` written from the settings at every start, and `data/`, Kafka's log
directory. Topics, records and committed offsets therefore survive `make down` / `make up` and a
killed broker; like any Kafka at its default flush settings, a record is acknowledged once it is in
the operating system's page cache, so only a crash of the machine itself can lose the newest ones.

    python -m infra.broker start|stop|status
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from infra import kafka_jars, procs
from infra.config import Settings, load_settings
from infra.files import atomic_write_text

NAME = "broker"
NODE_ID = 1
# Kafka's own scripts start with a 1 GB heap. The broker keeps records in the page cache, not on
# the heap; 512 MB serves the test suite and `make up` (about 370 MB resident after start-up).
HEAP = ("-Xms256m", "-Xmx512m")
START_TIMEOUT_S = 90.0  # the JVM takes 3-8 s to answer here, more on a loaded 2-core machine


class BrokerError(RuntimeError):
    """The embedded broker could not be prepared or did not come up; the message carries its log."""


@dataclass(frozen=True)
class Node:
    """What must not change between starts of one data directory."""

    cluster_id: str
    controller_port: int


def kafka_dir(settings: Settings) -> Path:
    return settings.var_dir / "kafka"


def _new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID in unpadded URL-safe base64 (never starting with '-',
    which the storage tool would read as an option)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def node(directory: Path, host: str = "127.0.0.1") -> Node:
    """This data directory's node identity, created (and kept) on first use."""
    path = directory / "node.json"
    if path.is_file():
        return Node(**json.loads(path.read_text()))
    created = Node(_new_cluster_id(), procs.free_port(host))
    atomic_write_text(path, json.dumps(asdict(created)))
    return created


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\")


def server_properties(settings: Settings, identity: Node) -> str:
    """The broker's configuration: one node, both roles, replication 1 for the internal topics."""
    client = f"PLAINTEXT://{settings.broker_host}:{settings.broker_port}"
    controller = f"127.0.0.1:{identity.controller_port}"
    config = {
        "process.roles": "broker,controller",
        "node.id": NODE_ID,
        "controller.quorum.bootstrap.servers": controller,
        "listeners": f"{client},CONTROLLER://{controller}",
        "advertised.listeners": client,
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": _escape(kafka_dir(settings) / "data"),
        "offsets.topic.replication.factor": 1,
        # 50 by default: 50 partitions to create and load for one laptop's few groups.
        "offsets.topic.num.partitions": 4,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,  # a lone consumer joins at once
        "auto.create.topics.enable": "false",  # the project creates its topics (ingest.kafka_io)
    }
    return "".join(f"{key}={value}\n" for key, value in config.items())


def _java_command(
    java: str, classpath: str, main: str, *args: str, heap: tuple[str, ...] = HEAP
) -> list[str]:
    log4j = f"-Dlog4j2.configurationFile={kafka_jars.LOG4J_CONFIG}"
    return [java, *heap, log4j, "-cp", classpath, main, *args]


def _format(java: str, classpath: str, config: Path, identity: Node) -> None:
    """Format the empty log directory once: cluster id, and this node as the whole controller quorum."""
    cmd = _java_command(
        java,
        classpath,
        "kafka.tools.StorageTool",
        "format",
        "--config",
        str(config),
        "--cluster-id",
        identity.cluster_id,
        "--standalone",
        heap=("-Xmx256m",),
    )
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise BrokerError(f"formatting Kafka's storage in {config.parent} failed:\n{tail}")


def prepare_broker(settings: Settings) -> list[str]:
    """Check Java, resolve the jars, write the config, format the storage if new; the command to run."""
    java = kafka_jars.java()
    classpath = kafka_jars.classpath()
    directory = kafka_dir(settings)
    identity = node(directory)
    config = directory / "server.properties"
    atomic_write_text(config, server_properties(settings, identity))
    if not (directory / "data" / "meta.properties").is_file():
        _format(java, classpath, config, identity)
    return _java_command(java, classpath, "kafka.Kafka", str(config))


def _log_tail(log: Path, lines: int = 25) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def answers_metadata(bootstrap: str, cluster_id: str, timeout_ms: int = 3000) -> bool:
    """True when the broker at `bootstrap` answers a metadata request as a member of `cluster_id`
    (an open port alone may be another program, or a Kafka still starting)."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, bootstrap_timeout_ms=timeout_ms, request_timeout_ms=timeout_ms
        )
    except KafkaError:
        return False
    try:
        cluster = admin.describe_cluster()
        return cluster.get("cluster_id") == cluster_id and bool(cluster.get("brokers"))
    except KafkaError:
        return False
    finally:
        admin.close()


def wait_ready(settings: Settings, proc: procs.Proc, timeout: float = START_TIMEOUT_S) -> None:
    """Block until the broker answers metadata; fail with the end of its log if it exits or hangs."""
    identity = node(kafka_dir(settings))
    deadline = time.monotonic() + timeout
    try:
        # A closed port costs nothing to poll; a failed client bootstrap leaves a thread behind
        # (kafka-python 3.0.12), so ask for metadata only once something listens.
        procs.wait_for_port(settings.broker_host, settings.broker_port, timeout=timeout, proc=proc)
        while not answers_metadata(settings.bootstrap_servers, identity.cluster_id):
            if procs.read(settings.run_dir, NAME) is None:
                raise RuntimeError(f"{NAME} exited during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no metadata answer from {settings.bootstrap_servers} after {timeout:.0f} s"
                )
            time.sleep(0.2)
    except (RuntimeError, TimeoutError) as exc:
        procs.stop(settings.run_dir, NAME)  # never leave a half-started broker for the next start to reuse
        raise BrokerError(
            f"Apache Kafka did not come up on {settings.bootstrap_servers}: {exc}. "
            f"Last lines of {proc.log}:\n{_log_tail(proc.log)}"
        ) from exc


def start_broker(settings: Settings, timeout: float = START_TIMEOUT_S) -> procs.Proc | None:
    """Start the embedded broker (or reuse the running one) and wait until it answers metadata.

    Returns None when an external cluster is configured: nothing is started then.
    """
    if not settings.embedded_broker:
        return None
    proc = procs.start(settings.run_dir, NAME, prepare_broker(settings))
    wait_ready(settings, proc, timeout)
    return proc


def stop_broker(settings: Settings) -> bool:
    return procs.stop(settings.run_dir, NAME)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.broker", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.action == "start":
        try:
            proc = start_broker(settings)
        except (kafka_jars.SetupError, BrokerError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if proc is None:
            print(f"external Kafka configured ({settings.bootstrap_servers}): no broker started")
        else:
            print(f"broker up on {settings.bootstrap_servers} (pid {proc.pid}, log {proc.log})")
    elif args.action == "stop":
        print("broker stopped" if stop_broker(settings) else "broker was not running")
    else:
        proc = procs.read(settings.run_dir, NAME)
        print(f"broker running, pid {proc.pid}" if proc else "broker not running")
        return 0 if proc else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
