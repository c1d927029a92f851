"""The file heartbeat: written atomically and throttled; dead, stuck and growing-lag consumers told
apart from healthy ones. A dead consumer is a real process that beat and exited."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from infra.heartbeat import GROWTH_WINDOW_S, Heartbeat, check, heartbeat_dir


def dead_consumer(run_dir: Path, name: str) -> int:
    """A process that beats once and exits; returns its pid."""
    code = f"from infra.heartbeat import Heartbeat; Heartbeat({str(run_dir)!r}, {name!r}).beat(0)"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert done.returncode == 0
    return json.loads((heartbeat_dir(run_dir) / f"{name}.json").read_text())["pid"]


def test_a_healthy_beat_is_no_problem(tmp_path: Path) -> None:
    hb = Heartbeat(tmp_path, "landing")
    assert hb.beat(5, now=1000.0) and not hb.beat(6, now=1000.5)  # at most once a second
    assert check(tmp_path, now=1001.0) == {}
    assert [p.name for p in heartbeat_dir(tmp_path).iterdir()] == ["landing.json"]  # no temp left
    hb.close()  # a clean stop is not a death
    assert check(tmp_path, now=2000.0) == {}


def test_dead_and_stuck_consumers(tmp_path: Path) -> None:
    pid = dead_consumer(tmp_path, "store")
    Heartbeat(tmp_path, "landing").beat(0, now=1000.0)  # this process: alive, but silent since
    problems = check(tmp_path, now=1000.0 + 31)
    assert problems["store"].startswith(f"dead: process {pid} is gone")
    assert problems["landing"] == "stuck: no heartbeat for 31 s"


def test_growing_lag_and_steady_lag(tmp_path: Path) -> None:
    growing, steady = Heartbeat(tmp_path, "landing"), Heartbeat(tmp_path, "store")
    steps = 13
    for n in range(steps):
        now = 1000.0 + n * GROWTH_WINDOW_S / (steps - 1)
        growing.beat(900 + 100 * (n // 2), now=now)  # never falls; plateaus are still growth
        steady.beat(5000 + (-50 if n % 2 else 50), now=now)  # large but going up and down
    problems = check(tmp_path, now=1000.0 + GROWTH_WINDOW_S)
    assert problems == {"landing": "lag growing: 900 -> 1500 records over 60 s"}


def test_unreadable_heartbeat_is_reported(tmp_path: Path) -> None:
    heartbeat_dir(tmp_path).mkdir(parents=True)
    (heartbeat_dir(tmp_path) / "landing.json").write_text("{half")
    assert check(tmp_path)["landing"].startswith("heartbeat unreadable")


def test_a_beat_that_cannot_be_written_never_stops_the_consumer(tmp_path):
    (tmp_path / "heartbeat").write_text("a file where the directory should be")
    assert Heartbeat(tmp_path, "landing").beat(5) is False
