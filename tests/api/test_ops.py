"""Health, readiness, metrics, OpenAPI, and the JSON error shape for every HTTP error."""

from __future__ import annotations

import json
import subprocess
import sys

from flask.testing import FlaskClient

from infra.config import Settings
from tests.api.conftest import make_app


def _error(response, status: int) -> dict:
    assert response.status_code == status
    assert response.is_json, response.data[:200]
    err = response.get_json()["error"]
    assert set(err) == {"code", "message", "details"}
    return err


def test_health_and_ready(client: FlaskClient) -> None:
    assert client.get("/health").get_json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.get_json()["model"]["version"] == "v00001-numpy"


def test_not_ready_without_model(settings: Settings) -> None:
    err = _error(make_app(settings).test_client().get("/ready"), 503)
    assert "model" in err["details"]
    _error(make_app(settings).test_client().get("/recommendations/u1"), 503)


def test_http_errors_are_json(client: FlaskClient) -> None:
    _error(client.get("/no/such/route"), 404)
    assert _error(client.delete("/recommendations/u1"), 405)["code"] == "method_not_allowed"
    _error(client.post("/events", data="x" * (2 * 1024 * 1024), content_type="application/json"), 413)
    _error(client.post("/events", data="user_id=u1", content_type="application/x-www-form-urlencoded"), 415)


def test_metrics(client: FlaskClient) -> None:
    client.get("/recommendations/nobody")
    text = client.get("/metrics").get_data(as_text=True)
    for name in (
        "api_request_seconds_bucket",
        'recommendations_served_total{strategy="popular"}',
        'model_version_info{backend="numpy",version="v00001-numpy"} 1.0',
        "model_versions_refused_total",
        "online_store_consumer_lag",
    ):
        assert name in text
    assert 'endpoint="/recommendations/<user_id>"' in text


def test_openapi_describes_every_route(app, client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    documented = set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            path = rule.rule.replace("<", "{").replace(">", "}")
            assert path in documented, path


def test_api_never_imports_deep_learning(settings: Settings) -> None:
    code = (
        "import sys; from api import create_app; from infra.config import load_settings; "
        f"create_app({{'SETTINGS': load_settings(var_dir={str(settings.var_dir)!r})}}); "
        "import serving.recommender, serving.loader, serving.store_consumer; "
        "print(sorted(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().replace("'", '"')) == []
