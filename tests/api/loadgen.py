"""A small HTTP load generator run in its own process (so the client never shares the server's
interpreter): keep-alive connections on threads, closed loop (peak) or paced open loop (fixed rate).
Latencies of paced requests count from their scheduled time, so a stalled server is not hidden."""

from __future__ import annotations

import http.client
import multiprocessing
import threading
import time
from urllib.parse import urlsplit

import numpy as np


def _worker(
    host: str,
    port: int,
    paths: list[str],
    offset: int,
    step: int,
    deadline: float,
    rate: float | None,
    start: float,
    out: list[float],
    errors: list[int],
) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    i = offset
    while True:
        scheduled = start + i / rate if rate else time.perf_counter()
        if scheduled >= deadline:
            break
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            conn.request("GET", paths[i % len(paths)])
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
        except (OSError, http.client.HTTPException):
            errors.append(0)
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=10)
        out.append(time.perf_counter() - scheduled)
        i += step
    conn.close()


def _run(url: str, paths: list[str], concurrency: int, duration: float, rate: float | None) -> dict:
    parts = urlsplit(url)
    start = time.perf_counter()
    deadline = start + duration
    outs: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[int] = []
    threads = [
        threading.Thread(
            target=_worker,
            args=(parts.hostname, parts.port, paths, t, concurrency, deadline, rate, start, outs[t], errors),
        )
        for t in range(concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    lat = np.concatenate([np.asarray(o) for o in outs]) if any(outs) else np.zeros(0)
    return {
        "requests": int(lat.size),
        "errors": len(errors),
        "qps": lat.size / elapsed,
        "p50_ms": float(np.percentile(lat, 50) * 1000) if lat.size else float("nan"),
        "p99_ms": float(np.percentile(lat, 99) * 1000) if lat.size else float("nan"),
    }


def load(
    url: str, paths: list[str], *, concurrency: int = 8, duration: float = 5.0, rate: float | None = None
) -> dict:
    """Run the load from a separate (spawned) process; returns requests, errors, qps, p50_ms, p99_ms."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_run, (url, paths, concurrency, duration, rate))
