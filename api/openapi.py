"""GET /openapi.json: the HTTP contract, described by hand (small enough to keep in step)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}
K = {"name": "k", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}}


def _resp(description: str, schema: dict | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _resp("error", ERROR) for c in codes}


ITEMS = {"type": "array", "items": {"$ref": "#/components/schemas/ScoredItem"}}
MODEL = {"type": "object", "properties": {"backend": {"type": "string"}, "version": {"type": "string"}}}

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "streamrec API", "version": "1"},
    "paths": {
        "/recommendations/{user_id}": {
            "get": {
                "summary": "Top-k items for a user (popular items for unknown or new users)",
                "parameters": [
                    {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    K,
                    {"name": "exclude_seen", "in": "query", "schema": {"type": "boolean", "default": True}},
                    {"name": "category", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _resp(
                        "recommendations",
                        {
                            "type": "object",
                            "properties": {
                                "user_id": {"type": "string"},
                                "items": ITEMS,
                                "strategy": {"type": "string", "enum": ["personalized", "popular"]},
                                "model": MODEL,
                            },
                        },
                    ),
                    **_errors(400, 503),
                },
            }
        },
        "/items/{item_id}/similar": {
            "get": {
                "summary": "Items closest to an item in the item-embedding space",
                "parameters": [
                    {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    K,
                ],
                "responses": {
                    "200": _resp(
                        "similar items",
                        {
                            "type": "object",
                            "properties": {"item_id": {"type": "string"}, "items": ITEMS, "model": MODEL},
                        },
                    ),
                    **_errors(400, 404, 503),
                },
            }
        },
        "/events": {
            "post": {
                "summary": "Record one event or a list (all or nothing): Kafka (acks=all), then the online store",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/Event"},
                                    {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Event"},
                                        "maxItems": 1000,
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "202": _resp(
                        "accepted",
                        {
                            "type": "object",
                            "properties": {
                                "accepted": {"type": "integer"},
                                "event_ids": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    ),
                    **_errors(400, 413, 415, 503),
                },
            }
        },
        "/health": {"get": {"summary": "The process is alive", "responses": {"200": _resp("ok")}}},
        "/ready": {
            "get": {
                "summary": "Model loaded and store reachable",
                "responses": {"200": _resp("ready"), **_errors(503)},
            }
        },
        "/metrics": {
            "get": {"summary": "Prometheus metrics (text format)", "responses": {"200": _resp("metrics")}}
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _resp("OpenAPI 3 document")}}
        },
    },
    "components": {
        "schemas": {
            "ScoredItem": {
                "type": "object",
                "properties": {
                    "item_id": {"type": "string"},
                    "score": {"type": "number"},
                    "category": {"type": "string", "nullable": True},
                },
            },
            "Event": {
                "type": "object",
                "required": ["user_id", "item_id", "event_type", "timestamp"],
                "properties": {
                    "event_id": {
                        "type": "string",
                        "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
                        "description": "the client's own id, so a retried POST is a duplicate the "
                        "consumers and the Spark job remove; assigned by the API when absent",
                    },
                    "user_id": {"type": "string"},
                    "item_id": {"type": "string"},
                    "event_type": {"type": "string", "enum": ["view", "add_to_cart", "purchase", "rating"]},
                    "timestamp": {"oneOf": [{"type": "number"}, {"type": "string", "format": "date-time"}]},
                    "session_id": {"type": "string"},
                    "rating": {"type": "number", "minimum": 0.5, "maximum": 5.0},
                    "price": {"type": "number", "minimum": 0},
                    "schema_version": {"type": "integer", "enum": [1]},
                },
            },
            "Error": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "details": {},
                        },
                    }
                },
            },
        }
    },
}


@bp.get("/openapi.json")
def openapi():
    return jsonify(SPEC)
