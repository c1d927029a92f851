"""`make up`, `make down`, `make status`: the whole pipeline on one machine.

    python -m pipeline.up [--backend tensorflow|pytorch] [--events N] [--data PATH] [--api-port P]
    python -m pipeline.up --down | --status | --until landed

Runs the stages of pipeline.stages in order, each printed with its timing, logs under the run
directory. Each data set has a key; `up` with another data set starts from scratch (no mixing of
events, models or user history), with the same one it skips every stage whose done-check passes.
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

from infra import procs
from infra.broker import NAME as BROKER
from infra.broker import BrokerError, kafka_dir, wait_ready
from infra.config import REPO_ROOT, Settings, SettingsError, load_settings
from infra.kafka_jars import SetupError
from ingest.landing import landing_counts
from model.artifact import USERS
from model.registry import read_current, serving_dir
from pipeline.stages import SERVICE, SIMULATOR_SEED, STAGES, STEP, Run, Stage, api_url
from pipeline.state import PipelineState, dataset_key
from pipeline.status import down, status
from training.prep.dataset import read_manifest


@contextmanager
def timed(name: str):
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
    """Another data set than last time: stop everything and remove its events (landed and in the
    embedded broker), models and store."""
    state = PipelineState.load(settings.var_dir)
    if state.dataset and state.dataset != key:
        print(f"==> new data set ({key}); clearing the previous run's data, models and user history")
        procs.stop_all(settings.run_dir)
        for path in (settings.data_dir, settings.models_dir, settings.var_dir / "store", kafka_dir(settings)):
            shutil.rmtree(path, ignore_errors=True)
        state = PipelineState()
    state.dataset = key
    state.save(settings.var_dir)
    return state


def start_service(run: Run, stage: Stage, command: list[str], timeout: float = 120.0) -> None:
    """Start a background process (reused when it runs already) and wait for its done-check."""
    settings = run.settings
    proc = procs.start(settings.run_dir, stage.name, command, env=child_env(settings), cwd=REPO_ROOT)
    print(f"    {stage.name}: pid {proc.pid}, log {proc.log}")
    if stage.name == BROKER:  # a real metadata answer, not only an open port
        wait_ready(settings, proc)
    deadline = time.monotonic() + timeout
    while not stage.done(run):
        if time.monotonic() > deadline or not procs.read(settings.run_dir, stage.name):
            raise SystemExit(f"{stage.name} did not come up; see {proc.log}")
        time.sleep(0.3)


def wait_landed(run: Run, stage: Stage, timeout: float = 600.0) -> None:
    """Until every acknowledged event has landed; fails when the landing consumer stops."""
    settings = run.settings
    deadline = time.monotonic() + timeout
    while not stage.done(run):
        if time.monotonic() > deadline or not procs.read(settings.run_dir, "landing"):
            counts = landing_counts(settings)
            raise SystemExit(
                f"landing stalled at {counts['landed']}/{run.produced()}; see {settings.run_dir}/landing.log"
            )
        time.sleep(0.5)
    counts = landing_counts(settings)
    print(f"    {counts['landed']} events landed, {counts.get('dead_lettered', 0)} dead-lettered")


def record(run: Run, stage: Stage) -> None:
    """What a finished step leaves in the pipeline state for the next done-check."""
    if stage.name == "preprocess":
        run.state.stages["preprocess"] = read_manifest(run.settings.processed_dir)["snapshot_id"]
    elif stage.name == "landed":
        run.state.stages["landed"] = landing_counts(run.settings)
    run.state.save(run.settings.var_dir)


def run_stages(run: Run, until: str | None = None) -> None:
    """Every stage in order: skipped when done, else run (a service started, a step waited for)."""
    for stage in STAGES:
        done = stage.done(run)
        command = None if done else stage.command(run)
        if done:
            print(f"==> {stage.name}: done already")
        elif stage.kind == SERVICE and command is None:
            print(f"==> {stage.name}: external ({run.settings.bootstrap_servers})")
        else:
            with timed(stage.name):
                if stage.kind == SERVICE:
                    start_service(run, stage, command)
                elif stage.kind == STEP:
                    run_step(run.settings, stage.name, command)
                else:
                    wait_landed(run, stage)
            record(run, stage)
        if stage.name == until:
            return


def example_user(settings: Settings) -> str:
    version = read_current(settings.registry_dir)
    users = serving_dir(settings.registry_dir, str(version)) / USERS
    ids = json.loads(users.read_text())["user_id"]
    return ids[1] if len(ids) > 1 else "some-user"


def up(settings: Settings, backend: str, events: int, data: Path | None, until: str | None = None) -> None:
    started = time.monotonic()
    state = reset_if_new_data(settings, dataset_key(data, events, SIMULATOR_SEED))
    print(
        f"Kafka at {settings.bootstrap_servers}"
        + (" (embedded)" if settings.embedded_broker else " (external)")
    )
    run_stages(Run(settings, state, backend, events, data), until)
    if until:
        return
    url = api_url(settings)
    state.stages["api_url"] = url  # make status reports where the API really listens
    state.save(settings.var_dir)
    print(f"\nUp in {time.monotonic() - started:.0f} s. API: {url}")
    print(f"Try:  curl '{url}/recommendations/{example_user(settings)}?k=5'")
    print("Stop: make down   Status: make status")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.up", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="tensorflow", choices=["tensorflow", "pytorch"])
    parser.add_argument("--events", type=int, default=20000, help="simulated events (without --data)")
    parser.add_argument("--data", type=Path, help="replay this file instead of simulating")
    parser.add_argument("--api-port", type=int)
    parser.add_argument("--until", choices=[s.name for s in STAGES], help="stop after this stage")
    parser.add_argument("--down", action="store_true", help="stop every process the project started")
    parser.add_argument("--status", action="store_true", help="what runs, model, event counts")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(api_port=args.api_port)
    except SettingsError as exc:
        raise SystemExit(f"error: {exc}") from exc
    if args.down:
        return down(settings)
    if args.status:
        return status(settings)
    data = args.data.resolve() if args.data else None
    if data and not data.exists():
        parser.error(f"--data {data} does not exist")
    try:
        up(settings, args.backend, args.events, data, args.until)
    except (SetupError, BrokerError) as exc:  # said in a sentence, not a traceback
        raise SystemExit(f"error: {exc}") from exc
    return 0


if __name__ == "__main__":
    sys.exit(main())
