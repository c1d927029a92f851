"""Background processes the project starts: a pid file and a log each under the run directory.

`make up` starts the broker, consumers and API through `start`; `make down` stops them all through
`stop_all`. A pid file is trusted only while its process is alive and still runs the same command, so
a stale file from a crashed run never makes us signal an unrelated process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.files import atomic_write_text


@dataclass(frozen=True)
class Proc:
    name: str
    pid: int
    cmd: list[str]
    log: Path


def _pid_path(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _wait_exec(pid: int, timeout: float = 2.0) -> None:
    """Popen returns when the child's close-on-exec pipe closes, inside execve and before the new argv
    is mapped: for a few ms /proc/<pid>/cmdline reads empty, and `read` would call the process stale.
    Wait for it (or for the child to exit) so a pid file is only ever written for an exec'd process."""
    deadline = time.monotonic() + timeout
    while not _cmdline(pid) and _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.001)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def read(run_dir: Path, name: str) -> Proc | None:
    """The live process recorded under `name`, or None (a stale pid file is removed)."""
    path = _pid_path(run_dir, name)
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    proc = Proc(name, int(info["pid"]), list(info["cmd"]), Path(info["log"]))
    # The program's name and its last argument: a reused pid that runs `java` too (a Spark driver in
    # place of the broker) is not ours unless it also runs our broker's config file.
    cmdline = _cmdline(proc.pid)
    if _alive(proc.pid) and Path(proc.cmd[0]).name in cmdline and proc.cmd[-1] in cmdline:
        return proc
    path.unlink(missing_ok=True)
    return None


def start(
    run_dir: Path, name: str, cmd: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> Proc:
    """Start `cmd` detached (its own session), logging to run_dir/name.log; reuse it if it already runs."""
    run_dir.mkdir(parents=True, exist_ok=True)
    existing = read(run_dir, name)
    if existing:
        return existing
    log = run_dir / f"{name}.log"
    with log.open("ab") as out:
        child = subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    _wait_exec(child.pid)
    proc = Proc(name, child.pid, list(cmd), log)
    atomic_write_text(
        _pid_path(run_dir, name), json.dumps({"pid": proc.pid, "cmd": proc.cmd, "log": str(log)})
    )
    return proc


def stop(run_dir: Path, name: str, timeout: float = 15.0) -> bool:
    """SIGTERM the process group, then SIGKILL after `timeout`. True if something was running."""
    proc = read(run_dir, name)
    if proc is None:
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _alive(proc.pid):
            time.sleep(0.01)
        if not _alive(proc.pid):
            break
    _pid_path(run_dir, name).unlink(missing_ok=True)
    return True


def running(run_dir: Path) -> list[Proc]:
    """Every live process recorded in run_dir."""
    if not run_dir.is_dir():
        return []
    return [p for p in (read(run_dir, f.stem) for f in sorted(run_dir.glob("*.pid"))) if p]


def stop_all(run_dir: Path) -> list[str]:
    """Stop everything recorded, the API and consumers before the broker they talk to."""
    names = [p.name for p in running(run_dir)]
    names.sort(key=lambda n: n == "broker")
    return [n for n in names if stop(run_dir, n)]


def wait_for_port(host: str, port: int, timeout: float = 30.0, proc: Proc | None = None) -> None:
    """Block until host:port accepts TCP connections; fail early if `proc` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not _alive(proc.pid):
            raise RuntimeError(f"{proc.name} exited during start-up; see {proc.log}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.0f}s")


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free now, for a service whose address must be known before it starts."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
