"""The pipeline's state and its stages' done-checks, without running the stages themselves (the
end-to-end test runs them: tests/e2e/test_make_up.py)."""

from __future__ import annotations

import json

import pytest

from infra.config import Settings
from model.registry import write_current
from pipeline.stages import STAGES, Run
from pipeline.state import PipelineState, dataset_key
from pipeline.up import main as make_up
from tests.fixtures.synthetic import publish_synthetic, synthetic_config
from tests.training.prep.landing_data import event, write_events


def test_pipeline_state_round_trip_and_keys(tmp_path):
    state = PipelineState(dataset="simulator:10:7", stages={"landed": {"landed": 10}})
    state.save(tmp_path)
    assert PipelineState.load(tmp_path) == state
    assert PipelineState.load(tmp_path / "missing") == PipelineState()
    data = tmp_path / "u.data"
    data.write_text("1\t2\t3\t881250949\n")
    key = dataset_key(data, 0, 0)
    assert key.startswith("file:u.data:") and key == dataset_key(data, 5, 5)
    data.write_text("1\t2\t3\t881250949\n1\t3\t4\t881250950\n")
    assert dataset_key(data, 0, 0) != key
    assert dataset_key(None, 10, 7) != dataset_key(None, 11, 7)


def _stage(name: str):
    return next(stage for stage in STAGES if stage.name == name)


def test_stages_run_in_the_order_the_data_flows():
    names = [stage.name for stage in STAGES]
    assert names == ["broker", "landing", "store-consumer", "events", "landed", "preprocess", "train", "api"]


def test_events_are_landed_when_the_landing_zone_holds_what_the_producer_acknowledged(settings: Settings):
    run = Run(settings, PipelineState(), "pytorch", 3, None)
    events, landed = _stage("events"), _stage("landed")
    assert not events.done(run) and not landed.done(run)
    run.summary_file.parent.mkdir(parents=True)
    run.summary_file.write_text(json.dumps({"sent": 3, "dead_lettered": 0, "seconds": 0.1}))
    assert events.done(run) and not landed.done(run)
    write_events(settings.landing_dir, [event("u1", "i1", 1.7e9), event("u1", "i2", 1.7e9)])
    assert not landed.done(run)
    write_events(settings.landing_dir, [event("u2", "i1", 1.7e9)])
    assert landed.done(run)


def test_training_is_done_when_current_is_this_backend_on_this_snapshot(settings: Settings):
    run = Run(settings, PipelineState(stages={"preprocess": "synthetic"}), "pytorch", 3, None)
    train = _stage("train")
    assert not train.done(run)
    publish_synthetic(settings.registry_dir, synthetic_config(), "v00001-pytorch")  # snapshot "synthetic"
    assert train.done(run)
    publish_synthetic(settings.registry_dir, synthetic_config(), "v00002-tensorflow")
    assert not train.done(run)
    write_current(settings.registry_dir, "v00001-pytorch")
    run.state.stages["preprocess"] = "a-newer-snapshot"
    assert not train.done(run)


def test_make_up_says_in_a_sentence_that_java_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    with pytest.raises(SystemExit, match="^error: Java 17 or newer is needed"):
        make_up(["--until", "broker"])
