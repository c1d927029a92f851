"""An open-loop HTTP load generator with impatient clients, for overload: requests are sent on their
schedule whatever the server's state (asyncio, keep-alive connections up to a cap), and a client gives
up `timeout` seconds after the request's scheduled time, closing its connection, as real clients do.
A success is a 200 within the timeout; run in its own (spawned) process, like tests/api/loadgen.py."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from urllib.parse import urlsplit

import numpy as np


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def _run(url: str, paths: list[str], rate: float, duration: float, timeout: float, max_conns: int):
    parts = urlsplit(url)
    idle: list[tuple] = []
    slots = asyncio.Semaphore(max_conns)
    outcomes: list[tuple[int, float]] = []  # (status or 0 for a timeout/error, latency from schedule)

    async def one(n: int, scheduled: float) -> None:
        request = f"GET {paths[n % len(paths)]} HTTP/1.1\r\nHost: {parts.hostname}\r\n\r\n".encode()
        async with slots:
            conn = None
            try:
                async with asyncio.timeout(timeout - (time.perf_counter() - scheduled)):
                    conn = idle.pop() if idle else await asyncio.open_connection(parts.hostname, parts.port)
                    status = await _exchange(*conn, request)
                idle.append(conn)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                status = 0
                if conn is not None:
                    conn[1].close()  # the client gives up: its connection goes with it
            outcomes.append((status, time.perf_counter() - scheduled))

    start = time.perf_counter()
    tasks = []
    for n in range(int(rate * duration)):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, scheduled)))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    status = np.array([s for s, _ in outcomes])
    latency = np.array([t for _, t in outcomes])
    good = (status == 200) & (latency <= timeout)
    shed = status == 503
    return {
        "sent": len(outcomes),
        "offered_qps": len(outcomes) / duration,
        "goodput_qps": int(good.sum()) / duration,
        "shed": int(shed.sum()),
        "timeouts": int((status == 0).sum()),
        "other": int((~good & ~shed & (status != 0)).sum()),
        "ok_p99_ms": float(np.percentile(latency[good], 99) * 1000) if good.any() else float("nan"),
        "shed_p99_ms": float(np.percentile(latency[shed], 99) * 1000) if shed.any() else float("nan"),
    }


def _main(*args) -> dict:
    return asyncio.run(_run(*args))


def overload(
    url: str, paths: list[str], *, rate: float, duration: float, timeout: float = 2.0, max_conns: int = 256
) -> dict:
    """Offer `rate` req/s for `duration` s; returns sent, offered_qps, goodput_qps (200s within
    `timeout`), shed (503s), timeouts, other, ok_p99_ms, shed_p99_ms."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_main, (url, paths, rate, duration, timeout, max_conns))
