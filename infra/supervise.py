"""`python -m infra.supervise -- CMD...`: run CMD and start it again whenever it exits, with backoff.

How `make up` keeps its consumers running: a consumer that dies (SIGKILL, a crash, an error it does
not retry itself) is started again after 1 s, then 2, 4, ... up to 30 s while it keeps dying within
a minute of starting; a run that lasted a minute starts the wait over at 1 s. Every restart is logged
with the exit status. SIGTERM or SIGINT stops the supervisor: it passes the signal on (`make down`
signals the whole process group anyway), waits for CMD to finish and exits with CMD's status,
restarting nothing. Safe for the consumers because they commit only what is durable: a restart
re-reads from the last commit.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from infra.retry import FIRST_DELAY_S, next_delay


def _say(text: str) -> None:
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} supervise: {text}", flush=True)


def supervise(cmd: list[str], stop: threading.Event) -> int:
    """Run `cmd` until `stop` is set, restarting it with backoff; returns its last exit status."""
    delay = FIRST_DELAY_S / 2
    while True:
        started = time.monotonic()
        child = subprocess.Popen(cmd)
        while child.poll() is None:
            if stop.wait(0.2):
                child.send_signal(signal.SIGTERM)
                return child.wait()
        if stop.is_set():
            return child.returncode
        ran = time.monotonic() - started
        delay = next_delay(delay, ran)
        _say(
            f"{cmd[-1]} exited with status {child.returncode} after {ran:.1f} s; restarting in {delay:.0f} s"
        )
        if stop.wait(delay):
            return child.returncode
        _say(f"restarting {cmd[-1]}")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: python -m infra.supervise -- CMD [ARGS...]", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return supervise(args, stop)


if __name__ == "__main__":
    raise SystemExit(main())
