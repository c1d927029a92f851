"""Prometheus metrics, safe under gunicorn's worker processes.

When PROMETHEUS_MULTIPROC_DIR is set (api/gunicorn.conf.py sets it before the app is imported), each
worker writes its samples to files there and `/metrics` aggregates them all; otherwise the default
in-process registry is used (tests, flask run).
"""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_SECONDS = Histogram(
    "api_request_seconds",
    "Request latency by endpoint",
    ["endpoint", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
RECOMMENDATIONS = Counter(
    "recommendations_served_total",
    "Recommendation responses by strategy; fallback rate = strategy!=personalized / all",
    ["strategy"],
)
REQUESTS_SHED = Counter(
    "api_requests_shed_total", "Requests answered 503 unserved: they waited past the queue deadline"
)
EVENTS_ACCEPTED = Counter("events_accepted_total", "Events accepted by POST /events")
MODEL_VERSION = Gauge(
    "model_version_info",
    "1 for the model version being served",
    ["version", "backend"],
    multiprocess_mode="livemax",
)
HELDOUT_NDCG = Gauge(
    "model_heldout_ndcg_at_10",
    "Held-out NDCG@10 of the served version's training run, beside the baselines of the same run",
    ["model"],
    multiprocess_mode="livemax",
)
MODELS_REFUSED = Counter("model_versions_refused_total", "Registry versions refused as corrupt or incomplete")
STORE_LAG = Gauge(
    "online_store_consumer_lag", "Kafka records the store consumer is behind", multiprocess_mode="livemax"
)

bp = Blueprint("metrics", __name__)
# Label values come from a closed set: a client may send any method and any path, and each new label
# value is a new series in every worker's file (300 invented methods once made 4,200 series).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@bp.get("/metrics")
def metrics() -> Response:
    lag = current_app.extensions["services"].store_lag()
    if lag is not None:
        STORE_LAG.set(lag)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def model_changed(old: tuple[str, str] | None, new: tuple[str, str], manifest: dict | None = None) -> None:
    """Move the version gauge from the old label set to the new one; publish the new version's
    held-out NDCG@10 (label model="served") and its run's baselines' (their names)."""
    if old is not None:
        MODEL_VERSION.labels(*old).set(0)
    MODEL_VERSION.labels(*new).set(1)
    manifest = manifest or {}
    split = (manifest.get("heldout") or {}).get("split", "test")
    served = (manifest.get("metrics") or {}).get(f"{split}_ndcg@10")
    if served is not None:
        HELDOUT_NDCG.labels("served").set(served)
    for name, metrics in (manifest.get("baselines") or {}).items():
        if "ndcg@10" in metrics:
            HELDOUT_NDCG.labels(name).set(metrics["ndcg@10"])


def init_app(app: Flask) -> None:
    """Time every request by its endpoint (the route rule, so ids never explode label cardinality),
    its method (known ones, else "other") and its status."""
    app.register_blueprint(bp)

    @app.before_request
    def _start() -> None:
        g._started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.get("_started")
        if started is not None:
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            method = request.method if request.method in KNOWN_METHODS else "other"
            REQUEST_SECONDS.labels(endpoint, method, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response
