from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import REPO_ROOT, SettingsError, env_help, load_settings


def test_defaults_live_under_var_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    cfg = load_settings(var_dir=tmp_path)
    assert cfg.embedded_broker and cfg.bootstrap_servers == "127.0.0.1:9092"
    assert cfg.landing_dir == tmp_path / "data" / "landing"
    assert cfg.registry_dir == tmp_path / "models" / "registry"


def test_environment_beats_file_and_defaults(tmp_path, monkeypatch):
    conf = tmp_path / "recsys.toml"
    conf.write_text('[settings]\nevents_topic = "from-file"\napi_port = 9000\n')
    monkeypatch.setenv("RECSYS_CONFIG", str(conf))
    monkeypatch.setenv("RECSYS_API_PORT", "9100")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    cfg = load_settings()
    assert cfg.events_topic == "from-file" and cfg.api_port == 9100
    assert not cfg.embedded_broker and cfg.bootstrap_servers == "k1:9092,k2:9092"


def test_unknown_setting_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="unknown settings"):
        load_settings(var_dir=tmp_path, no_such_thing=1)


def test_env_help_lists_every_variable():
    names = dict(env_help())
    assert names["KAFKA_BOOTSTRAP_SERVERS"] == "" and names["SPARK_MASTER"] == "local[*]"
    assert Path(names["RECSYS_VAR_DIR"]) == Path("var")


def test_a_wrong_value_names_its_setting_and_where_it_came_from(tmp_path, monkeypatch):
    conf = tmp_path / "recsys.toml"
    conf.write_text('[settings]\napi_port = "eighty"\n')
    monkeypatch.setenv("RECSYS_CONFIG", str(conf))
    with pytest.raises(
        SettingsError, match=r"\[settings\] of .*recsys.toml: api_port must be a whole number"
    ):
        load_settings()
    conf.write_text("[settings]\nevents_topic = 5\n")
    with pytest.raises(SettingsError, match="events_topic must be a string, not 5"):
        load_settings()
    conf.write_text("[settings]\napi_workers = true\n")
    with pytest.raises(SettingsError, match="api_workers must be a whole number, not True"):
        load_settings()
    conf.write_text("[settings]\napi_port = 9000\n")
    monkeypatch.setenv("RECSYS_API_PORT", "abc")  # the environment's value is the one judged
    with pytest.raises(SettingsError, match="RECSYS_API_PORT='abc': api_port must be a whole number"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RECSYS_API_WORKERS", "-2", r"api_workers \(RECSYS_API_WORKERS\) must be >= 1, not -2"),
        ("RECSYS_API_THREADS", "0", r"api_threads \(RECSYS_API_THREADS\) must be >= 1, not 0"),
        ("RECSYS_API_PORT", "70000", "api_port .* must be between 1 and 65535, not 70000"),
        ("RECSYS_STORE_KEEP_PER_USER", "-1", "store_keep_per_user .* must be >= 0"),
    ],
)
def test_counts_and_ports_out_of_range_are_refused(tmp_path, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=message):
        load_settings(var_dir=tmp_path)


def test_make_up_says_which_setting_is_wrong_in_one_line(tmp_path):
    env = {**os.environ, "RECSYS_API_PORT": "eighty", "RECSYS_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.up", "--status"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        == "error: RECSYS_API_PORT='eighty': api_port must be a whole number, not 'eighty'"
    )


def test_kafka_and_spark_tables_pass_through_to_the_engines(tmp_path, monkeypatch, spark):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    from ingest.kafka_io import client_config
    from training.prep.spark_session import build_spark

    conf = tmp_path / "recsys.toml"
    conf.write_text(
        '[kafka]\nsecurity_protocol = "SASL_SSL"\nsasl_mechanism = "PLAIN"\nclient_id = "shop-7"\n'
        "fetch_min_bytes = 1024\nacks = 1\n"
        '[spark]\n"spark.sql.shuffle.partitions" = 3\n"spark.streamrec.probe" = true\n'
    )
    monkeypatch.setenv("RECSYS_CONFIG", str(conf))
    settings = load_settings(var_dir=tmp_path)
    producer = client_config(settings, KafkaProducer, {"acks": "all", "retries": 5}, {})
    assert producer == {
        "acks": 1,
        "retries": 5,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "client_id": "shop-7",
    }
    consumer = client_config(settings, KafkaConsumer, {"group_id": "landing"}, {"client_id": "mine"})
    assert consumer["fetch_min_bytes"] == 1024 and consumer["client_id"] == "mine"  # the caller's word last
    assert "fetch_min_bytes" not in client_config(settings, KafkaAdminClient, {}, {})  # only what it knows
    try:
        session = build_spark(master="local[2]", settings=settings)
        assert session.conf.get("spark.sql.shuffle.partitions") == "3"
        assert session.conf.get("spark.streamrec.probe") == "true"
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "1")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[kafka]\nbootstrap_servers = "k:9092"\n', r"set by the project; use \['KAFKA_BOOTSTRAP_SERVERS'\]"),
        ("[kafka]\nno_such_option = 1\n", r"\['no_such_option'\] are not kafka-python client settings"),
        ('[spark]\n"executor.memory" = "4g"\n', "are not Spark settings"),
    ],
)
def test_a_wrong_engine_option_is_refused_by_name(tmp_path, monkeypatch, table, message):
    conf = tmp_path / "recsys.toml"
    conf.write_text(table)
    monkeypatch.setenv("RECSYS_CONFIG", str(conf))
    with pytest.raises(SettingsError, match=message):
        load_settings(var_dir=tmp_path)


def test_the_example_config_is_current_and_every_loader_takes_it(tmp_path, monkeypatch):
    from pipeline.example_config import render
    from training.config import TrainConfig
    from training.prep.preprocess import PreprocessConfig

    example = REPO_ROOT / "recsys.example.toml"
    assert example.read_text() == render(), (
        "regenerate: python -m pipeline.example_config > recsys.example.toml"
    )
    monkeypatch.setenv("RECSYS_CONFIG", str(example))
    defaults = load_settings(
        config_path=tmp_path / "none.toml", var_dir=Path("var")
    )  # relative, as in the file
    assert load_settings() == defaults
    assert TrainConfig.load() == TrainConfig() and PreprocessConfig.load() == PreprocessConfig()
