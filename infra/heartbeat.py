"""A small file-based heartbeat: long-running consumers say they are alive and how far behind they are;
`/ready` (and anything else on the machine) reads it.

Writer: `Heartbeat(run_dir, "landing").beat(lag)` in the consumer's poll loop, `.close()` on a clean
stop; it writes at most once per `every` seconds, atomically, to `<run_dir>/heartbeat/<name>.json`:

    {"name": "landing", "pid": 1234, "time": <unix s>, "lag": 17, "history": [[<unix s>, <lag>], ...]}

`history` keeps the last HISTORY samples, so a reader can tell a growing lag from a steady one.
Reader: `check(run_dir)` judges every heartbeat file there: a process that is gone is dead, one whose
last beat is older than `stale_after` is stuck, and a lag that never fell over at least
GROWTH_WINDOW_S seconds and ended higher, at MIN_GROWING_LAG or more, is growing. A consumer that
never beat is not judged (tests, or a cluster where consumers run elsewhere without a shared var/).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
HISTORY = 20
STALE_AFTER_S = 30.0
GROWTH_WINDOW_S = 60.0
MIN_GROWING_LAG = 1000
LAG_GROWING = "lag growing"  # the one problem that is a warning: the consumer runs, only behind


def heartbeat_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "heartbeat"


@dataclass
class Heartbeat:
    """The writer side, one per consumer process."""

    run_dir: Path
    name: str
    every: float = 1.0
    history: list[list[float]] = field(default_factory=list)
    _last: float = 0.0

    def beat(self, lag: int | None = None, now: float | None = None) -> bool:
        """Record a sign of life (and the lag, when known); returns True when the file was written."""
        now = time.time() if now is None else now
        if now - self._last < self.every:
            return False
        self._last = now
        if lag is not None:
            self.history = [*self.history, [now, lag]][-HISTORY:]
        record = {"name": self.name, "pid": os.getpid(), "time": now, "lag": lag, "history": self.history}
        path = heartbeat_dir(self.run_dir) / f"{self.name}.json"
        # One temp file per writer (two consumers may run in one process), and a beat that cannot be
        # written is only a warning: the heartbeat must never stop the consumer it reports on.
        tmp = path.with_suffix(f".{os.getpid()}.{id(self)}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(record))
            os.replace(tmp, path)  # readers see the old beat or the new one, never half of one
        except OSError as exc:
            log.warning("heartbeat %s not written: %r", path, exc)
            return False
        return True

    def close(self) -> None:
        """A clean stop: remove the file, so a consumer stopped on purpose is not reported dead."""
        (heartbeat_dir(self.run_dir) / f"{self.name}.json").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def judge(record: dict[str, Any], now: float, stale_after: float = STALE_AFTER_S) -> str | None:
    """What is wrong with one consumer's heartbeat, or None."""
    pid, beat = record.get("pid"), float(record.get("time", 0))
    if isinstance(pid, int) and not _alive(pid):
        return f"dead: process {pid} is gone (last beat {now - beat:.0f} s ago)"
    if now - beat > stale_after:
        return f"stuck: no heartbeat for {now - beat:.0f} s"
    samples = record.get("history") or []
    if len(samples) >= 2 and samples[-1][0] - samples[0][0] >= GROWTH_WINDOW_S:
        lags = [lag for _, lag in samples]
        never_fell = all(b >= a for a, b in zip(lags, lags[1:], strict=False))
        if never_fell and lags[-1] > lags[0] and lags[-1] >= MIN_GROWING_LAG:
            span = samples[-1][0] - samples[0][0]
            return f"{LAG_GROWING}: {lags[0]} -> {lags[-1]} records over {span:.0f} s"
    return None


def check(run_dir: Path, now: float | None = None, stale_after: float = STALE_AFTER_S) -> dict[str, str]:
    """{consumer name: problem} for every heartbeat under run_dir that shows one."""
    now = time.time() if now is None else now
    problems = {}
    for path in sorted(heartbeat_dir(run_dir).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            problems[path.stem] = f"heartbeat unreadable: {exc}"
            continue
        problem = judge(record, now, stale_after)
        if problem:
            problems[path.stem] = problem
    return problems
