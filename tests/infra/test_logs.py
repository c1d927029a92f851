"""One logging setup for every process: level and format from the settings, stage and process on
every record, JSON lines that parse."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from infra.config import REPO_ROOT, SettingsError, load_settings
from infra.logs import setup_logging
from training.trainer import epoch_line


@pytest.fixture(autouse=True)
def _restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_stage_process_and_traceback(tmp_path, capsys):
    setup_logging("landing", load_settings(var_dir=tmp_path, log_format="json", log_level="debug"))
    logging.getLogger("ingest.landing").debug("landed %d events", 12)
    try:
        raise ValueError("bad batch")
    except ValueError:
        logging.getLogger("ingest.landing").exception("batch failed")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["message"] == "landed 12 events" and first["level"] == "DEBUG"
    assert (
        first["stage"] == "landing"
        and first["process"] == os.getpid()
        and first["logger"] == "ingest.landing"
    )
    assert second["level"] == "ERROR" and "ValueError: bad batch" in second["exception"]


def test_text_format_and_level_filter(tmp_path, capsys):
    setup_logging("train", load_settings(var_dir=tmp_path, log_level="WARNING"))
    logging.getLogger("training.train").info("hidden")
    logging.getLogger("training.train").warning("shown")
    (line,) = capsys.readouterr().err.splitlines()
    assert f"WARNING train[{os.getpid()}] training.train: shown" in line


def test_a_wrong_level_or_format_is_refused_by_name(tmp_path):
    with pytest.raises(SettingsError, match="log_level .*RECSYS_LOG_LEVEL.* must be one of"):
        load_settings(var_dir=tmp_path, log_level="loud")
    with pytest.raises(SettingsError, match="log_format .*RECSYS_LOG_FORMAT"):
        load_settings(var_dir=tmp_path, log_format="xml")


def test_a_process_started_with_json_logs_writes_only_json_lines(tmp_path):
    """The landing consumer's CLI, pointed at a broker that is not there, logs its retries as JSON."""
    env = {
        **os.environ,
        "RECSYS_LOG_FORMAT": "json",
        "RECSYS_VAR_DIR": str(tmp_path),
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest.landing"], cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stderr.readline()
    finally:
        proc.kill()
        proc.wait(timeout=30)
    record = json.loads(line)
    assert record["stage"] == "landing" and record["process"] == proc.pid


def test_an_epoch_is_one_short_console_line():
    row = {"epoch": 3, "loss": 6.02, "seconds": 14.63, "ndcg@10": 0.2365, "ndcg@10_se": 0.0196}
    row |= {"profile_ndcg@10": 0.1942, "profile_ndcg@10_se": 0.0081, "recall@10": 0.1, "coverage": 0.2}
    assert epoch_line("tensorflow", row, 10) == (
        "tensorflow epoch 3: loss 6.0200, 14.6 s, next ndcg@10 0.2365 ± 0.0196, what else ndcg@10 0.1942 ± 0.0081"
    )
