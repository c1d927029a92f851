"""Choosing a backend imports only its framework (checked in a fresh interpreter via sys.modules)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.processed_data import write_processed
from training.backends import BACKENDS

REPO = Path(__file__).resolve().parents[2]
OTHER = {"pytorch": "tensorflow", "tensorflow": "torch"}
OWN = {"pytorch": "torch", "tensorflow": "tensorflow"}

PROBE = """
import json, sys
from infra.config import load_settings
from training.train import train
train(load_settings(var_dir=sys.argv[2]), sys.argv[1], epochs=1, embedding_dim=4, feature_dim=2,
      query_hidden=(4,), item_hidden=(4,), output_dim=4, publish=False)
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_training_one_backend_never_imports_the_other(tmp_path: Path, backend: str):
    write_processed(tmp_path / "var" / "data" / "processed", n_users=10, per_user=4)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, backend, str(tmp_path / "var")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert OWN[backend] in modules
    assert OTHER[backend] not in modules


def test_cli_help_imports_no_framework():
    code = "import sys; from training.train import parse_args; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
    help_text = subprocess.run(
        [sys.executable, "-m", "training.train", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--backend" in help_text and "pytorch" in help_text


@pytest.mark.slow
def test_cli_trains_and_publishes(tmp_path: Path):
    write_processed(tmp_path / "var" / "data" / "processed", n_users=10, per_user=4)
    env = {
        **os.environ,
        "RECSYS_VAR_DIR": str(tmp_path / "var"),
        "RECSYS_CONFIG": str(tmp_path / "none.toml"),
    }
    args = [
        "--backend",
        "pytorch",
        "--epochs",
        "2",
        "--embedding-dim",
        "4",
        "--query-hidden",
        "8,4",
        "--output-dim",
        "4",
        "--json",
    ]
    out = subprocess.run(
        [sys.executable, "-m", "training.train", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout[out.stdout.index("{") :])
    assert summary["version"] == "v00001-pytorch" and len(summary["seconds_per_epoch"]) == 2
    assert set(summary["baselines"]) == {"most_popular", "ease"} and summary["fit"]["epochs"] >= 1
    assert (tmp_path / "var" / "models" / "registry" / "current").read_text().strip() == "v00001-pytorch"
    bad = subprocess.run(
        [sys.executable, "-m", "training.train", "--backend", "pytorch"],
        cwd=REPO,
        env={**env, "RECSYS_VAR_DIR": str(tmp_path / "empty")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "preprocessing" in bad.stderr
