from __future__ import annotations

from pathlib import Path

import pytest

from infra.config import env_help, load_settings


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
