"""The README's promise, end to end: `make up` on a small simulated data set, query, retrain with the
other backend while the API runs, `make down`, nothing left behind."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from infra import procs
from infra.config import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def make(target: str, env: dict[str, str], *args: str, timeout: float = 900) -> str:
    done = subprocess.run(
        ["make", target, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"make {target} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_backend(url: str, backend: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = requests.get(url, timeout=5).json()
        if body["model"]["backend"] == backend:
            return body
        time.sleep(0.5)
    raise AssertionError(f"API still serves {body.get('model')} after {timeout}s")


def test_up_query_retrain_down(tmp_path: Path):
    api_port, broker_port = procs.free_port(), procs.free_port()
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env.update(RECSYS_VAR_DIR=str(tmp_path / "var"), RECSYS_BROKER_PORT=str(broker_port), CI="true")
    try:
        out = make("up", env, "EVENTS=4000", f"API_PORT={api_port}", "BACKEND=tensorflow")
        assert "Try:" in out
        assert "most_popular" in out and "held-out ndcg@10" in out  # the model beside its baselines
        user = out.split(f"127.0.0.1:{api_port}/recommendations/")[1].split("?")[0]
        url = f"http://127.0.0.1:{api_port}/recommendations/{user}?k=5"
        body = requests.get(url, timeout=5).json()
        assert body["model"]["backend"] == "tensorflow"
        assert len(body["items"]) == 5 and body["strategy"] == "personalized"
        metrics = requests.get(f"http://127.0.0.1:{api_port}/metrics", timeout=5).text
        assert 'model_heldout_ndcg_at_10{model="served"}' in metrics
        assert 'model_heldout_ndcg_at_10{model="most_popular"}' in metrics

        make("train", env, "BACKEND=pytorch")
        body = wait_for_backend(url, "pytorch")
        assert len(body["items"]) == 5

        status = make("status", env)
        assert "api" in status and "pytorch" in status
        assert "test ndcg@10=" in status  # the served version's held-out figure
        assert f"API:       http://127.0.0.1:{api_port}" in status  # the port make up used, not 8000
    finally:
        make("down", env)
    run_dir = tmp_path / "var" / "run"
    assert procs.running(run_dir) == []
    assert not port_open(api_port) and not port_open(broker_port)
