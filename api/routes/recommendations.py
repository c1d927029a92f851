"""GET /recommendations/<user_id> and GET /items/<item_id>/similar."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from api import metrics
from api.errors import ApiError
from api.services import services
from serving.recommender import Recommender

bp = Blueprint("recommendations", __name__)
K_MIN, K_MAX, K_DEFAULT = 1, 100, 10
TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def _k() -> int:
    raw = request.args.get("k", str(K_DEFAULT))
    try:
        k = int(raw)
    except ValueError:
        raise ApiError(
            400, "invalid_parameter", f"k must be an integer in {K_MIN}..{K_MAX}", {"k": raw}
        ) from None
    if not K_MIN <= k <= K_MAX:
        raise ApiError(400, "invalid_parameter", f"k must be an integer in {K_MIN}..{K_MAX}", {"k": raw})
    return k


def _flag(name: str, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw.lower() in TRUE:
        return True
    if raw.lower() in FALSE:
        return False
    raise ApiError(400, "invalid_parameter", f"{name} must be true or false", {name: raw})


def _recommender() -> Recommender:
    rec = services().recommender()
    if rec is None:
        raise ApiError(503, "model_unavailable", "no valid model version is loaded yet")
    return rec


def _model(rec: Recommender) -> dict[str, str]:
    return {"backend": rec.artifact.backend, "version": rec.artifact.version}


@bp.get("/recommendations/<user_id>")
def recommendations(user_id: str):
    k, exclude_seen = _k(), _flag("exclude_seen", True)
    category = request.args.get("category") or None
    rec = _recommender()
    result = rec.recommend(user_id, k, exclude_seen=exclude_seen, category=category)
    metrics.RECOMMENDATIONS.labels(result.strategy).inc()
    return jsonify(
        {"user_id": user_id, "items": result.items, "strategy": result.strategy, "model": _model(rec)}
    )


@bp.get("/items/<item_id>/similar")
def similar(item_id: str):
    k = _k()
    rec = _recommender()
    items = rec.similar(item_id, k)
    if items is None:
        raise ApiError(
            404, "unknown_item", f"item {item_id!r} is not in the served model", {"item_id": item_id}
        )
    return jsonify({"item_id": item_id, "items": items, "model": _model(rec)})
