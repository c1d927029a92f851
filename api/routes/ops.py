"""GET /health (the process answers) and GET /ready (a model is loaded and the store answers)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from api.errors import ApiError
from api.services import services
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
    if problems:
        raise ApiError(503, "not_ready", "the API cannot serve yet", problems)
    return jsonify(
        {"status": "ready", "model": {"backend": rec.artifact.backend, "version": rec.artifact.version}}
    )
