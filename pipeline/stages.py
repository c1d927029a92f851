"""The pipeline's stages, in order: the one place that knows the whole of `make up`.

Each stage is a process of its own: a *service* keeps running in the background (started through
infra.procs, pid file and log under the run directory), a *step* runs in the foreground until it
exits. Each has a done-check, so `make up` run again with the same data skips what is done:

    broker          service  the embedded Apache Kafka (skipped with an external cluster)
    landing         service  python -m ingest.landing         (Kafka -> Parquet landing zone)
    store-consumer  service  python -m serving.store_consumer (Kafka -> online store)
                             (both under python -m infra.supervise: restarted with backoff on exit)
    events          step     python -m ingest.produce simulate | replay DATA
    landed          wait     until the landing zone holds every event the producer had acknowledged
    preprocess      step     python -m training.prep          (Spark)
    train           step     python -m training.train --backend B
    api             service  gunicorn api.wsgi:app            (done when /ready answers 200)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from infra import procs
from infra.broker import NAME as BROKER
from infra.broker import prepare_broker
from infra.config import REPO_ROOT, Settings
from ingest.landing import landing_counts
from model.artifact import current_manifest
from pipeline.state import PipelineState

SIMULATOR_SEED = 7
SERVICE, STEP, WAIT = "service", "step", "wait"


@dataclass
class Run:
    """What one `make up` was asked for, and what is done for its data set so far."""

    settings: Settings
    state: PipelineState
    backend: str
    events: int
    data: Path | None

    @property
    def summary_file(self) -> Path:
        """The producer's counts; under data_dir, so a new data set (which clears it) starts over."""
        return self.settings.data_dir / "produced.json"

    def produced(self) -> int | None:
        """Events the producer had acknowledged, once its step has finished."""
        try:
            return int(json.loads(self.summary_file.read_text())["sent"])
        except (OSError, ValueError, KeyError):
            return None


@dataclass(frozen=True)
class Stage:
    name: str
    kind: str  # SERVICE, STEP or WAIT
    # Asked only when the stage is not done. None: nothing to run (an external broker).
    command: Callable[[Run], list[str] | None]
    done: Callable[[Run], bool]


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def _supervised(module: str) -> list[str]:
    """A consumer under infra.supervise: started again, with backoff, whenever it exits."""
    return _python("infra.supervise", "--", *_python(module))


def _events_command(run: Run) -> list[str]:
    summary = ["--summary", str(run.summary_file), "--no-progress"]
    if run.data:
        return _python("ingest.produce", "replay", str(run.data), *summary)
    return _python(
        "ingest.produce", "simulate", "--events", str(run.events), "--seed", str(SIMULATOR_SEED), *summary
    )


def _api_command(run: Run) -> list[str]:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    return [gunicorn, "-c", str(REPO_ROOT / "api" / "gunicorn.conf.py"), "api.wsgi:app"]


def _running(name: str) -> Callable[[Run], bool]:
    return lambda run: procs.read(run.settings.run_dir, name) is not None


def _landed(run: Run) -> bool:
    expected = run.produced()
    return expected is not None and landing_counts(run.settings)["landed"] >= expected


def _trained(run: Run) -> bool:
    """The served version is this backend's, trained on this data set's processed snapshot."""
    _, manifest = current_manifest(run.settings.registry_dir)
    snapshot = run.state.stages.get("preprocess")
    return (
        bool(manifest) and manifest.get("backend") == run.backend and manifest.get("snapshot_id") == snapshot
    )


def api_url(settings: Settings) -> str:
    return f"http://{settings.api_host}:{settings.api_port}"


def api_ready(run: Run) -> bool:
    try:
        return requests.get(f"{api_url(run.settings)}/ready", timeout=2).status_code == 200
    except requests.RequestException:
        return False


STAGES: tuple[Stage, ...] = (
    Stage(
        BROKER,
        SERVICE,
        lambda run: prepare_broker(run.settings) if run.settings.embedded_broker else None,
        _running(BROKER),
    ),
    Stage("landing", SERVICE, lambda run: _supervised("ingest.landing"), _running("landing")),
    Stage(
        "store-consumer",
        SERVICE,
        lambda run: _supervised("serving.store_consumer"),
        _running("store-consumer"),
    ),
    Stage("events", STEP, _events_command, lambda run: run.produced() is not None),
    Stage("landed", WAIT, lambda run: None, _landed),
    Stage(
        "preprocess", STEP, lambda run: _python("training.prep"), lambda run: "preprocess" in run.state.stages
    ),
    Stage("train", STEP, lambda run: _python("training.train", "--backend", run.backend), _trained),
    Stage("api", SERVICE, _api_command, api_ready),
)
