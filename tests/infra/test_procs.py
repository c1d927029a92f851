"""Process control used by make up / make down: pid files, reuse, stop, stale files."""

from __future__ import annotations

import json
import sys

from infra import procs

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_start_reuse_stop(tmp_path):
    first = procs.start(tmp_path, "sleeper", SLEEPER)
    assert procs.start(tmp_path, "sleeper", SLEEPER).pid == first.pid
    assert [p.name for p in procs.running(tmp_path)] == ["sleeper"]
    assert procs.stop(tmp_path, "sleeper")
    assert procs.running(tmp_path) == [] and not (tmp_path / "sleeper.pid").exists()


def test_stale_pid_file_is_ignored_and_removed(tmp_path):
    done = procs.start(tmp_path, "quick", [sys.executable, "-c", "pass"])
    pid_file = tmp_path / "quick.pid"
    # Point the file at a live process that runs another program: it must not be trusted.
    info = json.loads(pid_file.read_text())
    pid_file.write_text(json.dumps({**info, "pid": 1, "cmd": ["not-init"]}))
    assert procs.read(tmp_path, "quick") is None and not pid_file.exists()
    assert done.pid > 1


def test_a_reused_pid_running_the_same_program_otherwise_is_not_ours(tmp_path):
    # The broker is `java ...`; after a crash its pid may go to another JVM (a Spark driver).
    other = procs.start(tmp_path, "other", SLEEPER)
    pid_file = tmp_path / "broker.pid"
    pid_file.write_text(json.dumps({"pid": other.pid, "cmd": [sys.executable, "-c", "pass"], "log": "x"}))
    assert procs.read(tmp_path, "broker") is None and not pid_file.exists()
    assert procs.stop(tmp_path, "other")


def test_stop_all_stops_broker_last(tmp_path):
    for name in ("broker", "api", "landing"):
        procs.start(tmp_path, name, SLEEPER)
    assert procs.stop_all(tmp_path) == ["api", "landing", "broker"]
    assert procs.running(tmp_path) == []


def test_sigterm_ignored_then_killed(tmp_path):
    stubborn = [
        sys.executable,
        "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
    ]
    procs.start(tmp_path, "stubborn", stubborn)
    assert procs.stop(tmp_path, "stubborn", timeout=0.5)
    assert procs.running(tmp_path) == []


def test_a_process_read_right_after_start_is_not_stale(tmp_path):
    # Popen returns while the child may still be in execve with an empty /proc/<pid>/cmdline (for
    # milliseconds, more often just after another process exited); reading the pid file then must not
    # drop it as stale, or make down would leave the process behind. Unfixed, 1 to 3 reads in 100 failed here.
    for i in range(100):
        started = procs.start(tmp_path, f"fresh{i}", SLEEPER)
        assert procs.read(tmp_path, f"fresh{i}") == started, f"start {i} read as stale"
        assert procs.stop(tmp_path, f"fresh{i}")
