"""`make up`, `make down`, `make status`: the whole pipeline on one machine.

    python -m infra.up [--backend tensorflow|pytorch] [--events N] [--data PATH] [--api-port P]
    python -m infra.up --down | --status | --until landed

Stages, each printed with its timing, logs under the run directory:
broker -> topics -> landing and online-store consumers -> events (simulator or a replay of --data) ->
wait until every event is landed -> Spark preprocessing -> training -> API (gunicorn) -> /ready.
Each data set has a key; `up` with another data set starts from scratch (no mixing of events, models or
user history), with the same one it reuses every stage already done.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from infra import procs
from infra.broker import start_broker
from infra.config import REPO_ROOT, Settings, load_settings
from infra.state import PipelineState, dataset_key

SERVICES = {
    "landing": [sys.executable, "-m", "ingest.landing"],
    "store-consumer": [sys.executable, "-m", "serving.store_consumer"],
}
SIMULATOR_SEED = 7


@contextmanager
def stage(name: str):
    started = time.monotonic()
    print(f"==> {name}", flush=True)
    yield
    print(f"    {name}: done in {time.monotonic() - started:.1f} s", flush=True)


def child_env(settings: Settings) -> dict[str, str]:
    """Pass the resolved settings to child processes so they agree with this one."""
    return {
        "RECSYS_VAR_DIR": str(settings.var_dir),
        "RECSYS_API_PORT": str(settings.api_port),
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "PYTHONUNBUFFERED": "1",
    }


def run_step(settings: Settings, name: str, cmd: list[str]) -> None:
    """Run a batch step in the foreground; its output goes to the console and to run_dir/name.log."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    log = settings.run_dir / f"{name}.log"
    env = {**os.environ, **child_env(settings)}
    with (
        log.open("w") as out,
        subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT, text=True
        ) as child,
    ):
        for line in child.stdout:
            out.write(line)
            if not line.startswith(("WARNING", "Setting default log level", "To adjust logging")):
                print(f"    {line.rstrip()}", flush=True)
    if child.returncode:
        raise SystemExit(f"{name} failed (exit {child.returncode}); see {log}")


def reset_if_new_data(settings: Settings, key: str) -> PipelineState:
    """Another data set than last time: stop everything and remove its events, models and store."""
    state = PipelineState.load(settings.var_dir)
    if state.dataset and state.dataset != key:
        print(f"==> new data set ({key}); clearing the previous run's data, models and user history")
        procs.stop_all(settings.run_dir)
        for path in (settings.data_dir, settings.models_dir, settings.var_dir / "store"):
            shutil.rmtree(path, ignore_errors=True)
        state = PipelineState()
    state.dataset = key
    state.save(settings.var_dir)
    return state


def stream_events(settings: Settings, state: PipelineState, events: int, data: Path | None) -> None:
    from ingest.kafka_io import ensure_topics
    from ingest.landing import landing_counts
    from ingest.produce import replay, simulate

    with stage("broker and topics"):
        proc = start_broker(settings)
        print(f"    Kafka at {settings.bootstrap_servers}" + (" (embedded Tansu)" if proc else " (external)"))
        ensure_topics(settings)
    with stage("consumers"):
        for name, cmd in SERVICES.items():
            p = procs.start(settings.run_dir, name, cmd, env=child_env(settings), cwd=REPO_ROOT)
            print(f"    {name}: pid {p.pid}, log {p.log}")
    if state.stages.get("landed"):
        print(f"    events already landed for this data set: {state.stages['landed']}")
        return
    with stage("events -> Kafka"):
        summary = replay(settings, data) if data else simulate(settings, events, seed=SIMULATOR_SEED)
    with stage("events -> landing zone"):
        wait_landed(settings, summary.sent, landing_counts)
    state.stages["landed"] = landing_counts(settings)
    state.save(settings.var_dir)


def wait_landed(settings: Settings, expected: int, counter, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        counts = counter(settings)
        if counts["landed"] >= expected:
            print(f"    {counts['landed']} events landed, {counts.get('dead_lettered', 0)} dead-lettered")
            return
        if time.monotonic() > deadline or not procs.read(settings.run_dir, "landing"):
            raise SystemExit(
                f"landing stalled at {counts['landed']}/{expected}; see {settings.run_dir}/landing.log"
            )
        time.sleep(0.5)


def build_model(settings: Settings, state: PipelineState, backend: str) -> None:
    if not state.stages.get("preprocessed"):
        with stage("Spark preprocessing"):
            run_step(settings, "preprocess", [sys.executable, "-m", "training.preprocess"])
        state.stages["preprocessed"] = True
        state.save(settings.var_dir)
    if state.stages.get("trained") != backend:
        with stage(f"training ({backend})"):
            run_step(settings, "train", [sys.executable, "-m", "training.train", "--backend", backend])
        state.stages["trained"] = backend
        state.save(settings.var_dir)


def start_api(settings: Settings, timeout: float = 120.0) -> str:
    url = f"http://{settings.api_host}:{settings.api_port}"
    with stage("API (gunicorn)"):
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        cmd = [gunicorn, "-c", str(REPO_ROOT / "api" / "gunicorn.conf.py"), "api.wsgi:app"]
        proc = procs.start(settings.run_dir, "api", cmd, env=child_env(settings), cwd=REPO_ROOT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or not procs.read(settings.run_dir, "api"):
                raise SystemExit(f"API not ready at {url}; see {proc.log}")
            time.sleep(0.3)
    return url


def example_user(settings: Settings) -> str:
    from serving.artifact import USERS
    from serving.pointer import read_current

    version = read_current(settings.registry_dir)
    users = settings.registry_dir / "versions" / str(version) / "serving" / USERS
    ids = json.loads(users.read_text())["user_id"]
    return ids[1] if len(ids) > 1 else "some-user"


def up(settings: Settings, backend: str, events: int, data: Path | None, until: str | None = None) -> None:
    started = time.monotonic()
    state = reset_if_new_data(settings, dataset_key(data, events, SIMULATOR_SEED))
    stream_events(settings, state, events, data)
    if until == "landed":
        return
    build_model(settings, state, backend)
    url = start_api(settings)
    user = example_user(settings)
    print(f"\nUp in {time.monotonic() - started:.0f} s. API: {url}")
    print(f"Try:  curl '{url}/recommendations/{user}?k=5'")
    print("Stop: make down   Status: make status")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.up", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="tensorflow", choices=["tensorflow", "pytorch"])
    parser.add_argument("--events", type=int, default=20000, help="simulated events (without --data)")
    parser.add_argument("--data", type=Path, help="replay this file instead of simulating")
    parser.add_argument("--api-port", type=int)
    parser.add_argument("--until", choices=["landed"], help="stop after this stage")
    parser.add_argument("--down", action="store_true", help="stop every process the project started")
    parser.add_argument("--status", action="store_true", help="what runs, model, event counts")
    args = parser.parse_args(argv)
    settings = load_settings(api_port=args.api_port)
    if args.down:
        from infra.status import down

        return down(settings)
    if args.status:
        from infra.status import status

        return status(settings)
    data = args.data.resolve() if args.data else None
    if data and not data.exists():
        parser.error(f"--data {data} does not exist")
    up(settings, args.backend, args.events, data, args.until)
    return 0


if __name__ == "__main__":
    sys.exit(main())
