"""Start gunicorn with the project's config (api/gunicorn.conf.py) on a free loopback port, for the
smoke test and the benchmarks. Stopped by its pid only."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from infra import procs
from infra.config import REPO_ROOT, Settings

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def server_env(settings: Settings, port: int, **extra: str) -> dict[str, str]:
    """Environment that makes a child process load exactly these settings."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("RECSYS_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update(
        RECSYS_VAR_DIR=str(settings.var_dir),
        RECSYS_ONLINE_STORE_URL=settings.online_store_url,
        RECSYS_API_PORT=str(port),
        RECSYS_API_HOST="127.0.0.1",
        RECSYS_API_WORKERS=str(settings.api_workers),
        RECSYS_API_THREADS=str(settings.api_threads),
        RECSYS_EVENTS_TOPIC=settings.events_topic,
        KAFKA_BOOTSTRAP_SERVERS=settings.bootstrap_servers,
        PROMETHEUS_MULTIPROC_DIR=str(settings.run_dir / f"prometheus-{port}"),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p),
        **extra,
    )
    return env


@contextlib.contextmanager
def gunicorn(
    settings: Settings, app: str = "api.wsgi:app", ready: str = "/ready", **env: str
) -> Iterator[str]:
    """Run gunicorn serving `app`; yields its base URL once `ready` answers 200."""
    port = procs.free_port()
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    log = (settings.run_dir / f"gunicorn-{port}.log").open("wb")
    cmd = [GUNICORN, "-c", str(REPO_ROOT / "api" / "gunicorn.conf.py"), app]
    proc = subprocess.Popen(cmd, env=server_env(settings, port, **env), cwd=REPO_ROOT, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + ready, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not become ready; see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
