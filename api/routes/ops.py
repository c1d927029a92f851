"""GET /health (the process answers) and GET /ready (a model is loaded, the store answers, and no
consumer that keeps a heartbeat under var/run/heartbeat is dead or stuck; a growing lag is reported
as a warning, with 200: the API still serves, only fresher events are late)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from api.errors import ApiError
from api.services import services
from infra import heartbeat
from serving.store import StoreError

bp = Blueprint("ops", __name__)


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})


@bp.get("/ready")
def ready():
    svc = services()
    rec = svc.recommender()
    problems = {}
    if rec is None:
        refused = svc.holder.refused
        problems["model"] = "no valid model version loaded" + (f" (refused: {refused})" if refused else "")
    try:
        svc.store.ping()
    except StoreError as exc:
        problems["store"] = str(exc)
    consumers = heartbeat.check(svc.settings.run_dir)
    lagging = {name: p for name, p in consumers.items() if p.startswith(heartbeat.LAG_GROWING)}
    down = {name: p for name, p in consumers.items() if name not in lagging}
    if down:
        problems["consumers"] = down
    if problems:
        raise ApiError(503, "not_ready", "the API cannot serve yet", problems)
    body = {"status": "ready", "model": {"backend": rec.artifact.backend, "version": rec.artifact.version}}
    if lagging:
        body["warnings"] = {"consumers": lagging}
    return jsonify(body)
