"""gunicorn settings from infra.config (api_host, api_port, api_workers, api_threads) and multiprocess
metrics.

PROMETHEUS_MULTIPROC_DIR is set here, before any worker imports prometheus_client, and emptied at
start (its *.db files only) so samples from a previous run never leak into this one.
"""

import os
from pathlib import Path

from infra.config import load_settings

# One BLAS thread per request thread: a matrix-vector product per request gains nothing from BLAS
# threads, and their spinning across workers x threads starves the CPU (measured: 90 vs 1000+ req/s).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

_settings = load_settings()
bind = f"{_settings.api_host}:{_settings.api_port}"
workers = _settings.api_workers
threads = _settings.api_threads
worker_class = "api.shedding.SheddingWorker"  # gthread, shedding requests queued past their deadline
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = _settings.api_access_log or None  # "-": stderr (make up: the API's log file)
if _settings.log_format == "json":
    logger_class = "api.access_log.JsonAccessLogger"
loglevel = _settings.log_level.lower()
# gunicorn's largest request line short of unlimited: the app answers URIs over api.guards.MAX_URI_BYTES
# (4 KiB) with a JSON 414 itself; only request lines over 8190 bytes still meet gunicorn's HTML 414.
limit_request_line = 8190

_metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_settings.run_dir / "prometheus"))


def on_starting(server):
    os.makedirs(_metrics_dir, exist_ok=True)
    for stale in Path(_metrics_dir).glob("*.db"):  # only prometheus_client's sample files
        stale.unlink(missing_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
