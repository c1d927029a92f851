"""GET /recommendations under load from a separate process, against gunicorn with the project's
config, side by side with a minimal Flask route under the same server configuration.

Synthetic artifact of realistic size (10k items, 64 dims, 1k users, histories of 20 events in the
store, so answers are personalised). Loopback only; every loop is bounded by time.
Goals: recommendations reach >= 0.7x the minimal route's peak QPS; p99 <= 10 ms at half of peak.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from infra.config import load_settings
from tests.api.loadgen import load
from tests.api.server import gunicorn
from tests.bench import row, serve_synthetic

N_USERS, N_ITEMS, DIM, HISTORY = 1000, 10_000, 64, 20
CONCURRENCY, SECONDS, ROUNDS = 8, 3.0, 3
# Paced (open-loop) runs: enough connections that one slow answer does not hold back the schedule of
# the requests behind it on the same connection (with 8, a single 10 ms stall at ~1000 req/s cascaded
# into p99s of hundreds of ms for the minimal route too: the client was measured, not the server).
PACED_CONCURRENCY = 32


def _prepare(var: Path):
    settings = load_settings(var_dir=var, kafka_bootstrap_servers="127.0.0.1:1")
    serve_synthetic(settings, N_USERS, N_ITEMS, DIM, HISTORY)
    return settings


def _measure(urls: dict[str, str], paths: dict[str, list[str]]) -> dict[str, tuple[dict, dict]]:
    """Both servers run at once; peak rounds alternate between them (best of ROUNDS) so a change in
    background load on the shared machine hits both alike; then each at half of its own peak."""
    peaks: dict[str, dict] = {}
    for name, url in urls.items():
        load(url, paths[name], concurrency=CONCURRENCY, duration=1.0)  # warm-up
    for _ in range(ROUNDS):
        for name, url in urls.items():
            result = load(url, paths[name], concurrency=CONCURRENCY, duration=SECONDS)
            if name not in peaks or result["qps"] > peaks[name]["qps"]:
                peaks[name] = result
    return {
        name: (
            peaks[name],
            load(
                url,
                paths[name],
                concurrency=PACED_CONCURRENCY,
                duration=2 * SECONDS,
                rate=peaks[name]["qps"] / 2,
            ),
        )
        for name, url in urls.items()
    }


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        settings = _prepare(Path(tmp))
        paths = {"rec": [f"/recommendations/u{u}?k=10" for u in range(1, N_USERS)], "min": ["/ping"]}
        with (
            gunicorn(settings) as rec_url,
            gunicorn(settings, app="tests.api.minimal_wsgi:app", ready="/ping") as min_url,
        ):
            results = _measure({"rec": rec_url, "min": min_url}, paths)
    (rec_peak, rec_half), (min_peak, min_half) = results["rec"], results["min"]
    ratio = rec_peak["qps"] / min_peak["qps"]
    errors = sum(r["errors"] for r in (rec_peak, rec_half, min_peak, min_half))
    return [
        row("recommendations peak QPS", rec_peak["qps"], "req/s"),
        row("minimal route peak QPS", min_peak["qps"], "req/s"),
        row("QPS ratio recommendations/minimal", ratio, "x", ">= 0.7", ratio >= 0.7),
        row("recommendations p50 at peak", rec_peak["p50_ms"], "ms"),
        row("recommendations p99 at peak", rec_peak["p99_ms"], "ms"),
        row("minimal p99 at peak", min_peak["p99_ms"], "ms"),
        row("recommendations p50 at half of peak", rec_half["p50_ms"], "ms"),
        row(
            "recommendations p99 at half of peak", rec_half["p99_ms"], "ms", "<= 10", rec_half["p99_ms"] <= 10
        ),
        row("minimal p99 at half of peak (noise reference)", min_half["p99_ms"], "ms"),
        row("failed requests", errors, "", "0", errors == 0),
    ]
