"""The Flask API: HTTP in, JSON out. `create_app(config)` builds it; services hang off `init_app`."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify

MAX_BODY_BYTES = 1024 * 1024


class ApiFlask(Flask):
    """Flask whose automatic OPTIONS answer is JSON, like every other answer: the methods the path
    allows, in the body and in the Allow header."""

    def make_default_options_response(self) -> Response:
        methods = sorted(super().make_default_options_response().allow)
        response = jsonify({"allow": methods})
        response.allow.update(methods)
        return response


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. config keys: SETTINGS (infra.config.Settings; default load_settings()),
    RELOAD_INTERVAL (s between `current` pointer checks), RELOAD_IN_BACKGROUND, MIN_HISTORY
    (items needed for personalised answers), PRODUCE_TIMEOUT (s), MAX_CONTENT_LENGTH (bytes)."""
    from api import errors, guards, metrics, services
    from api.openapi import bp as openapi_bp
    from api.routes.events import bp as events_bp
    from api.routes.ops import bp as ops_bp
    from api.routes.recommendations import bp as recommendations_bp

    app = ApiFlask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.config.update(config or {})
    app.json.sort_keys = False
    errors.init_app(app)
    metrics.init_app(app)
    guards.init_app(app)
    services.init_app(app, app.config.get("SETTINGS"))
    for bp in (recommendations_bp, events_bp, ops_bp, openapi_bp):
        app.register_blueprint(bp)
    return app
